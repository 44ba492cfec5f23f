"""The whole pipeline under load: submissions in, state credits out, and where the time goes.

One run per size starts a throwaway platform (embedded PostgreSQL, SeaweedFS S3 and the Tansu broker,
the five services as separate processes, service settings as ``tests/conftest.py``'s ``platform``
fixture gives them) in a temporary directory on free ports, then:

1. publishes ``--credentials`` credentials the way the end-to-end tests' ``World`` does, registers
   ``--reviewers`` reviewers certified for all of them, and enrols teachers with licenses in TN, UT
   and AR (some in two states). Arkansas posts a credit only once the teacher's district approves it;
   a district-admin player (``Role.DISTRICT_ADMIN`` with the ``district`` claim) approves every
   pending credit through ``POST /licenses/{id}/credits/{award_id}/decision``, so AR's last hop
   includes that player's polling and is reported apart from TN/UT's automatic one;
2. drives N submissions over HTTP with ``aiohttp``: start, upload a tiny real MP4 and a
   text reflection through the presigned URLs, answer the prompt, submit. At most ``--concurrency``
   teachers are preparing a submission at once; ``--rate`` paces their arrivals (latency run), 0
   sends as fast as the front door takes them (throughput run). Reviewer players poll
   ``GET /reviews/assigned`` and score; ``--fail-share`` of the submissions are scored below the
   passing level on their first attempt, and their teacher uploads again and resubmits once the
   submission is ``revise_requested``;
3. follows the events with one plain aiokafka consumer per topic read from the start (no consumer
   group, so nothing rebalances), keeping for every event the broker timestamp and when it was read.
   A submission is complete when ``licensure.credit-posted`` arrived for every license of its teacher;
4. samples every second the outbox backlog of each service (unsent rows, counted in its database), the lag of every
   ``<service>.<topic>`` consumer group, and CPU and RSS of each service, postgres, tansu, weed and
   of this generator (it shares the machine, so its own cost is part of the picture);
5. measures the raw ceiling on the same broker and database afterwards: as many records as the run
   put through the broker, produced (acks=all, batches like the relay's) and consumed with plain
   aiokafka, and as many outbox-shaped rows INSERTed with asyncpg, one transaction per row as a
   service commits and in one batch.

Writes ``benchmarks/results/pipeline-<N>.json`` (``pipeline-<N>-rate<R>.json`` for a paced run) and
PNG charts in ``benchmarks/results/pipeline/``; with several ``--sizes``, a growth curve as well.

With ``--chunk K`` the N submissions are one long growth run: K at a time on one platform whose data
directory is kept, restarted between chunks (growth.py says why), resumable.

    python benchmarks/pipeline [-n 1000] [--sizes 200,1000] [--rate 20] [--concurrency 32]
    python benchmarks/pipeline -n 100000 --chunk 10000 --broker-log memory [--max-chunks 3]

(``make bench BENCH_ARGS="..."`` runs the first.) The parts, in the order a run uses them:

- ``cli``: the command line, one run per size or a chunked growth run;
- ``options``: a run's options and the tag its files are named by;
- ``driver``: one run on a throwaway platform, from seeding to the report and charts;
- ``world``: credentials, reviewers, teachers and their jobs;
- ``api``: the players' timed HTTP client;
- ``players``: teachers, reviewers and the district, and what each event means for a job;
- ``followers``: one plain consumer per followed topic;
- ``samplers``: CPU and RSS per process, outbox backlog, consumer lag, every second;
- ``ceiling``: plain aiokafka and plain INSERTs moving what the run moved;
- ``counts`` (with ``probe/``): with ``--counts``, SQL statements and round trips, Kafka and HTTP requests per
  completed submission and service;
- ``profiles``: with ``--profile``, py-spy on every service under load;
- ``report``: the report's figures, and the headline a before/after compares;
- ``charts`` and ``summary``: the PNGs and the tables printed at the end;
- ``growth``: the long run in chunks over one growing platform, resumable.
"""

from __future__ import annotations

import time

from rich.console import Console

# What every part shares: one console (progress bars and the summary tables), one clock.
console = Console()


def now() -> float:
    return time.time()
