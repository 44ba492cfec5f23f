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
directory is kept, restarted between chunks (see "A long growth run" below for why), resumable.

    python benchmarks/pipeline.py [-n 1000] [--sizes 200,1000] [--rate 20] [--concurrency 32]
    python benchmarks/pipeline.py -n 100000 --chunk 10000 --broker-log memory [--max-chunks 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import os
import platform as host
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import aiohttp
import asyncpg
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from harness import running_platform
from replicas import held_partitions, parse_replicas
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from microcred.devstack.client import Actor, PlatformClient, RoundRobin
from microcred.devstack.platform import SERVICES, Platform, PlatformPorts, embedded_infrastructure
from microcred.devstack.samples import NOT_YET, PROFICIENT, QUICK_SERVICE_ENV, credential_definition, tiny_video
from microcred.events.topics import platform_topics
from microcred.runtime.auth import Role
from microcred.runtime.offsets import LogEnds

RESULTS = Path(__file__).parent / "results"
console = Console()

CEILING_DATABASE = "bench_ceiling"
MACHINE = "machine (all processes)"  # the whole host's CPU, sampled beside the processes we watch

FOLLOWED = ("submission.submitted", "review.assigned", "review.scored", "review.revise-requested",
            "award.awarded", "licensure.credit-posted")
# Licence mixes handed out in turn: one state each, and some teachers licensed in two states, so one
# award credits two ledgers under two rule sets. AR needs the district's approval (see the docstring).
STATE_MIXES: tuple[tuple[str, ...], ...] = (("TN",), ("UT",), ("AR",), ("TN", "UT"), ("TN",), ("UT", "AR"))
DISTRICT = "bench-district-1"
AUTOMATIC_STATES = frozenset({"TN", "UT"})

# Hops measured per attempt, in pipeline order: (name, from milestone, to milestone).
HOPS = (
    ("submit -> submitted", "submit_http", "submitted"),
    ("submitted -> assigned", "submitted", "assigned"),
    ("assigned -> scored", "assigned", "scored"),
    ("scored -> awarded", "scored", "awarded"),
    ("awarded -> credit-posted (TN/UT)", "awarded", "credit_auto"),
    ("awarded -> credit-posted (AR, district approval)", "awarded", "credit_ar"),
)
FROM_SUBMIT = ("assigned", "scored", "awarded", "credit_last")


def now() -> float:
    return time.time()


# ---------------------------------------------------------------------------------------------------
# The world: credentials, reviewers, teachers


@dataclass
class Teacher:
    actor: Actor
    states: tuple[str, ...]
    license_states: dict[str, str] = field(default_factory=dict)  # license_id -> state


@dataclass
class Job:
    """One submission from its teacher's first request to the last state credit."""

    index: int
    teacher: Teacher
    credential_id: str
    fail_first: bool
    started: float = 0.0
    submission_id: str | None = None
    award_id: str | None = None
    # milestone -> attempt -> time (seconds since the epoch, broker time for events).
    marks: dict[str, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    credits: dict[str, float] = field(default_factory=dict)  # license_id -> time
    completed_at: float | None = None
    failed: str | None = None

    @property
    def attempts(self) -> int:
        return max(self.marks["submit_http"], default=0)


@dataclass
class World:
    operator: Actor
    credential_ids: list[str]
    reviewers: list[Actor]
    district_admin: Actor
    teachers: list[Teacher]
    probe_token: str


def seed_catalog(client: PlatformClient, credentials: int, reviewers: int, max_open: int) -> dict[str, Any]:
    """Issuer, published credentials and certified reviewers through the same calls as the tests' ``World``.

    Returns only names and ids (JSON), so that a chunked run can keep them in its state file and mint its
    actors' tokens again after a restart: the platform's dev signing key lives in its data directory."""
    unique = uuid.uuid4().hex[:8]
    operator = client.operator(f"op-{unique}")
    issuer_id = client.create_issuer(operator, f"Benchmark issuer {unique}", url="https://example.org")
    admin = client.actor(f"admin-{unique}", Role.ISSUER_ADMIN, organization=issuer_id)
    credential_ids = []
    for number in range(credentials):
        draft = client.draft_credential(admin, issuer_id, credential_definition(f"Formative assessment {number} {unique}"))
        client.approve_and_publish(admin, operator, draft["credential_id"], 1)
        credential_ids.append(str(draft["credential_id"]))
    reviewer_subjects = [f"reviewer-{number:03d}-{unique}" for number in range(reviewers)]
    for subject in reviewer_subjects:
        client.register_reviewer(operator, subject, credential_ids, max_open=max_open)
    return {"unique": unique, "operator": operator.subject, "credential_ids": credential_ids,
            "reviewers": reviewer_subjects}


def world_of(client: PlatformClient, seed: dict[str, Any], teachers: int, teacher_prefix: str = "teacher") -> World:
    """The players of one run over a seeded catalog, with ``teachers`` new teachers (licences come later, async)."""
    unique = seed["unique"]
    enrolled = []
    for number in range(teachers):
        states = STATE_MIXES[number % len(STATE_MIXES)]
        subject = f"{teacher_prefix}-{number:05d}-{unique}"
        actor = client.actor(subject, Role.TEACHER, states=states, district=DISTRICT,
                             email=f"{subject}@schools.example")
        enrolled.append(Teacher(actor, states))
    district_admin = client.actor(f"district-admin-{unique}", Role.DISTRICT_ADMIN, states=("AR",), district=DISTRICT)
    probe_token = client.tokens.mint(f"probe-{teacher_prefix}-{unique}", [Role.TEACHER], states=("TN",))
    return World(client.operator(seed["operator"]), list(seed["credential_ids"]),
                 [client.actor(subject, Role.REVIEWER) for subject in seed["reviewers"]],
                 district_admin, enrolled, probe_token)


def build_world(client: PlatformClient, credentials: int, reviewers: int, teachers: int, max_open: int) -> World:
    return world_of(client, seed_catalog(client, credentials, reviewers, max_open), teachers)


# ---------------------------------------------------------------------------------------------------
# HTTP players


@dataclass(frozen=True)
class Reply:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class Api:
    """Async twin of ``PlatformClient.call`` that also times each route (the front door's latency).

    aiohttp rather than httpx: with a pool of a hundred connections, httpx (httpcore 1.0) checks every
    pooled connection on every request, and the generator then took a third of the machine it measures.
    """

    def __init__(self, urls: dict[str, list[str]], concurrency: int) -> None:
        self.urls = RoundRobin(urls)  # a replicated service's requests go to its replicas in turn
        # Idle connections are dropped before uvicorn's 5 s keep-alive timeout: otherwise a request sent on
        # a connection the server is closing fails with "Server disconnected".
        self.http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=120.0),
            connector=aiohttp.TCPConnector(limit=concurrency * 2 + 32, keepalive_timeout=2.0))
        self.timings: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.transport_retries = 0

    async def call(self, method: str, service: str, path: str, actor: Actor | None, route: str, *,
                   expect: int = 200, **kwargs: Any) -> Any:
        response = await self.request(method, self.urls[service] + path, route,
                                      headers=dict(actor.headers) if actor else None, **kwargs)
        if response.status_code != expect:
            self.errors[f"{route} {response.status_code}"] += 1
            raise RuntimeError(f"{method} {path} -> {response.status_code} (expected {expect}): {response.text[:300]}")
        return response.json() if response.content else None

    async def request(self, method: str, url: str, route: str, *, content: bytes | None = None,
                      **kwargs: Any) -> Reply:
        started = time.perf_counter()
        try:
            reply = await self.send(method, url, data=content, **kwargs)
        except aiohttp.ServerDisconnectedError:
            if method != "GET":
                raise
            # The keep-alive race above, should it still happen: a GET is safe to send again (counted).
            self.transport_retries += 1
            reply = await self.send(method, url, data=content, **kwargs)
        self.timings[route].append(time.perf_counter() - started)
        return reply

    async def send(self, method: str, url: str, **kwargs: Any) -> Reply:
        async with self.http.request(method, url, **kwargs) as response:
            return Reply(response.status, await response.read())

    async def close(self) -> None:
        await self.http.close()


async def register_licenses(api: Api, teachers: list[Teacher], concurrency: int) -> None:
    limit = asyncio.Semaphore(concurrency)

    async def enrol(teacher: Teacher) -> None:
        for state in teacher.states:
            async with limit:
                created = await api.call("POST", "licensure", "/licenses", teacher.actor, "register license",
                                         expect=201, json={
                                             "state": state, "license_number": f"{state}-{uuid.uuid4().hex[:10]}",
                                             "license_type": "Practitioner", "cycle_start": "2025-09-01",
                                             "cycle_end": "2031-08-31", "district": DISTRICT})
            teacher.license_states[str(created["license_id"])] = state

    await asyncio.gather(*(enrol(t) for t in teachers))


class Run:
    """The state of one load run, shared by the players, the event followers and the samplers."""

    def __init__(self, api: Api, world: World, jobs: list[Job], video: bytes, poll: float) -> None:
        self.api = api
        self.world = world
        self.jobs = jobs
        self.video = video
        self.poll = poll
        self.by_submission: dict[str, Job] = {}
        self.by_award: dict[str, Job] = {}
        self.early_credits: dict[str, list[tuple[str, float]]] = defaultdict(list)
        self.claimed_reviews: set[str] = set()
        self.decided_claims: set[tuple[str, str]] = set()
        self.completed = 0
        self.submitted = 0  # first attempts sent; counted here so the progress bar costs nothing per job
        self.all_done = asyncio.Event()
        self.stop = asyncio.Event()
        self.background: set[asyncio.Task[Any]] = set()
        self.events: list[tuple[str, float, float, int]] = []  # topic, broker time, read time, size
        self.unmatched: Counter[str] = Counter()
        self.teacher_errors: list[str] = []

    # -- teachers --------------------------------------------------------------------------------

    async def upload(self, job: Job, requirement: str, content: bytes, content_type: str, filename: str) -> None:
        teacher, sid = job.teacher.actor, job.submission_id
        slot = await self.api.call("POST", "submission", f"/submissions/{sid}/evidence", teacher, "declare evidence",
                                   expect=201, json={"requirement_key": requirement, "filename": filename,
                                                     "content_type": content_type, "size_bytes": len(content),
                                                     "sha256": hashlib.sha256(content).hexdigest()})
        upload = slot["upload"]
        # The same two shapes PlatformClient.upload handles: one presigned PUT, or presigned parts.
        if upload["mode"] == "single":
            puts = [(upload["url"], content, {"Content-Type": content_type})]
        else:
            size = int(upload["part_size"])
            puts = [(part["url"], content[(int(part["part_number"]) - 1) * size: int(part["part_number"]) * size], {})
                    for part in upload["parts"]]
        for url, body, headers in puts:
            response = await self.api.request("PUT", url, "presigned PUT", content=body, headers=headers)
            if response.status_code not in (200, 204):
                raise RuntimeError(f"presigned PUT -> {response.status_code}: {response.text[:300]}")
        await self.api.call("POST", "submission", f"/submissions/{sid}/evidence/{slot['evidence_id']}/complete",
                            teacher, "complete evidence")

    async def submit_first(self, job: Job) -> None:
        teacher = job.teacher.actor
        job.started = now()
        created = await self.api.call("POST", "submission", "/submissions", teacher, "start submission",
                                      expect=201, json={"credential_id": job.credential_id})
        job.submission_id = str(created["submission_id"])
        self.by_submission[job.submission_id] = job
        await self.upload(job, "classroom-video", self.video, "video/mp4", "lesson.mp4")
        await self.upload(job, "reflection", b"The exit tickets showed most students had it.", "text/plain",
                          "reflection.txt")
        await self.api.call("PUT", "submission", f"/submissions/{job.submission_id}/responses", teacher,
                            "answer prompts", json={"responses": [
                                {"requirement_key": "reflection", "prompt_index": 0,
                                 "answer": "Most students had it; three did not."}]})
        await self.submit(job, 1)

    async def submit(self, job: Job, attempt: int) -> None:
        await self.api.call("POST", "submission", f"/submissions/{job.submission_id}/submit", job.teacher.actor,
                            "submit")
        job.marks["submit_http"][attempt] = now()
        self.submitted += attempt == 1

    async def resubmit(self, job: Job, attempt: int) -> None:
        """The revise-requested event says it is time; the submission service may not have read it yet."""
        try:
            while True:
                current = await self.api.call("GET", "submission", f"/submissions/{job.submission_id}",
                                              job.teacher.actor, "get submission (teacher)")
                if current["status"] == "revise_requested":
                    break
                await asyncio.sleep(self.poll / 2)
            await self.upload(job, "reflection", b"Revised: I regrouped students after the hinge question.",
                              "text/plain", "reflection-v2.txt")
            await self.submit(job, attempt)
        except Exception as error:  # the run goes on; the job is reported as failed
            job.failed = f"resubmission: {error!r}"
            self.teacher_errors.append(job.failed)

    # -- reviewers and the district --------------------------------------------------------------

    async def reviewer(self, actor: Actor) -> None:
        scoring = asyncio.Semaphore(4)  # a reviewer works a few reviews at a time, as several tabs would

        async def score(review: dict[str, Any]) -> None:
            job = self.by_submission.get(str(review["submission_id"]))
            fail = job is not None and job.fail_first and int(review["attempt"]) == 1
            levels = NOT_YET if fail else PROFICIENT
            async with scoring:
                await self.api.call("POST", "review", f"/reviews/{review['review_id']}/score", actor, "score",
                                    json={"results": [{"criterion_key": k, "level_key": v,
                                                       "feedback": "Show how the data changed the lesson." if fail
                                                       else ""} for k, v in levels.items()]})

        while not self.stop.is_set():
            try:
                assigned = await self.api.call("GET", "review", "/reviews/assigned", actor, "reviews assigned")
                fresh = [r for r in assigned if r["review_id"] not in self.claimed_reviews]
                self.claimed_reviews.update(r["review_id"] for r in fresh)
                if fresh:
                    await asyncio.gather(*(score(r) for r in fresh))
                    continue
            except Exception as error:
                self.teacher_errors.append(f"reviewer {actor.subject}: {error!r}")
            await asyncio.sleep(self.poll)

    async def district(self) -> None:
        admin = self.world.district_admin
        while not self.stop.is_set():
            try:
                pending = await self.api.call("GET", "licensure", "/states/AR/pending-credits?limit=500", admin,
                                              "pending credits")
                fresh = [(c["license_id"], c["award_id"]) for c in pending
                         if (c["license_id"], c["award_id"]) not in self.decided_claims]
                self.decided_claims.update(fresh)
                for license_id, award_id in fresh:
                    await self.api.call("POST", "licensure", f"/licenses/{license_id}/credits/{award_id}/decision",
                                        admin, "district decision", json={"approve": True, "reason": "benchmark"})
                if fresh:
                    continue
            except Exception as error:
                self.teacher_errors.append(f"district admin: {error!r}")
            await asyncio.sleep(self.poll)

    # -- events ----------------------------------------------------------------------------------

    def on_event(self, topic: str, value: dict[str, Any], at: float, read: float, size: int) -> None:
        self.events.append((topic, at, read, size))
        if topic == "licensure.credit-posted":
            award_id = str(value.get("award_id"))
            job = self.by_award.get(award_id)
            if job is None:  # read before its award.awarded: the followers run side by side
                self.early_credits[award_id].append((str(value.get("license_id")), at))
            else:
                self.credit(job, str(value.get("license_id")), at)
            return
        job = self.by_submission.get(str(value.get("submission_id")))
        if job is None:
            self.unmatched[topic] += 1
            return
        attempt = int(value.get("attempt", job.attempts or 1))
        if topic == "submission.submitted":
            job.marks["submitted"].setdefault(attempt, at)
        elif topic == "review.assigned":
            job.marks["assigned"].setdefault(attempt, at)
        elif topic == "review.scored":
            job.marks["scored"].setdefault(attempt, at)
        elif topic == "review.revise-requested":
            if attempt not in job.marks["revise"]:
                job.marks["revise"][attempt] = at
                self.spawn(self.resubmit(job, attempt + 1))
        elif topic == "award.awarded":
            job.award_id = str(value["award_id"])
            job.marks["awarded"].setdefault(job.attempts or 1, at)
            self.by_award[job.award_id] = job
            for license_id, when in self.early_credits.pop(job.award_id, []):
                self.credit(job, license_id, when)

    def credit(self, job: Job, license_id: str, at: float) -> None:
        if license_id in job.credits:
            return
        job.credits[license_id] = at
        if job.completed_at is None and set(job.credits) >= set(job.teacher.license_states):
            job.completed_at = max(job.credits.values())
            self.completed += 1
            if self.completed == len(self.jobs):
                self.all_done.set()

    def spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)


async def follow(bootstrap: str, topic: str, run: Run, ready: asyncio.Event) -> None:
    """Reads ``topic`` from its start with no consumer group: every partition, no rebalance, no commits."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False, fetch_max_wait_ms=50)
    await consumer.start()
    ready.set()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=200)
            read = now()
            for records in batches.values():
                for record in records:
                    try:
                        value = json.loads(record.value)
                    except (TypeError, ValueError):
                        continue
                    # The broker's timestamp when it has one (the relay's producer stamps CreateTime).
                    at = record.timestamp / 1000 if record.timestamp and record.timestamp > 0 else read
                    if isinstance(value, dict):
                        run.on_event(topic, value, at, read, len(record.value or b""))
    finally:
        await consumer.stop()


# ---------------------------------------------------------------------------------------------------
# Samplers: processes, outbox backlog, consumer lag


@dataclass
class Samples:
    started: float
    process: dict[str, list[tuple[float, float, float]]] = field(default_factory=lambda: defaultdict(list))
    backlog: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    lag: dict[str, list[tuple[float, int]]] = field(default_factory=lambda: defaultdict(list))
    lag_error: str | None = None
    end_offsets: list[tuple[float, int]] = field(default_factory=list)


def watched_processes(platform: Platform) -> dict[str, int]:
    """Root pid per watched name: this generator, each service, and each component of the stack."""
    found = {"load generator": os.getpid()}
    found.update({service: popen.pid for service, popen in platform.processes.items()})
    found.update(getattr(platform.stack, "pids", {}))
    return found


async def sample_processes(roots: dict[str, int], samples: Samples, stop: asyncio.Event) -> None:
    """CPU and RSS per name, each name summing its root and all its descendants as they are now: PostgreSQL
    forks a backend per connection and the services open connections as load grows."""
    known: dict[int, psutil.Process] = {}
    children: dict[int, list[int]] = {}

    def rescan() -> None:
        # One pass over /proc per sample for every root (psutil's children() would read it once per root).
        children.clear()
        for process in psutil.process_iter(["ppid"]):
            children.setdefault(process.info["ppid"], []).append(process.pid)

    def members(root: int) -> list[psutil.Process]:
        found, pending = [], [root]
        while pending:
            pid = pending.pop()
            pending.extend(children.get(pid, ()))
            if pid not in known:
                try:
                    known[pid] = psutil.Process(pid)
                    known[pid].cpu_percent(None)  # primes the counter: its first reading is always 0
                except psutil.Error:
                    continue
            found.append(known[pid])
        return found

    rescan()
    for root in roots.values():
        members(root)
    psutil.cpu_percent(None)
    cores = psutil.cpu_count() or 1
    while not stop.is_set():
        await asyncio.sleep(1.0)
        at = now() - samples.started
        rescan()
        # The whole machine in the same unit (100 = one core): what is left once the watched processes are
        # subtracted is someone else's load, which skews a run on a shared host.
        samples.process[MACHINE].append(
            (at, psutil.cpu_percent(None) * cores, psutil.virtual_memory().used / 2**20))
        for name, root in roots.items():
            cpu = rss = 0.0
            for process in members(root) if name != "load generator" else [known[root]]:
                with contextlib.suppress(psutil.Error), process.oneshot():
                    cpu += process.cpu_percent(None)
                    rss += process.memory_info().rss / 2**20
            samples.process[name].append((at, cpu, rss))


async def sample_backlog(platform: Platform, samples: Samples, stop: asyncio.Event) -> None:
    """Unsent outbox rows of each service, counted in its database (the partial index on unsent rows
    keeps this cheap). Not the relay's gauge: a relay counts only after a full batch or a failed pass,
    so a relay waiting on slow broker acknowledgements would read as an empty outbox."""
    endpoints = platform.endpoints
    connections = {service: await asyncpg.connect(endpoints.database_url(service, driver="postgresql"))
                   for service in SERVICES}
    try:
        while not stop.is_set():
            at = now() - samples.started
            for service, connection in connections.items():
                with contextlib.suppress(asyncpg.PostgresError, OSError):
                    unsent = await connection.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                    samples.backlog[service].append((at, float(unsent)))
            await asyncio.sleep(1.0)
    finally:
        for connection in connections.values():
            await connection.close()


async def sample_lag(bootstrap: str, groups: list[str], samples: Samples, stop: asyncio.Event) -> None:
    """Lag of each service's group ``<service>.<topic>``: the partitions' real ends minus committed offsets.

    The ends come from runtime.offsets.LogEnds: Tansu's ListOffsets answer falls behind the log (by a
    second's writes with the log in S3, by a batch in memory), which read the lag low and could end
    :func:`settle` early. Committed offsets are read through a consumer carrying the group's id that never
    subscribes (so it never joins the group and never disturbs the service's members): Tansu answers the
    consumer's OffsetFetch, while the admin client's ListGroups and OffsetFetch replies fail to decode in
    aiokafka.
    """
    readers: dict[str, AIOKafkaConsumer] = {}
    failing: set[str] = set()
    async with LogEnds(bootstrap) as log_ends:
        try:
            partitions = await log_ends.partitions()
            for group in groups:
                reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
                await reader.start()
                readers[group] = reader
            while not stop.is_set():
                at = now() - samples.started
                ends = await log_ends.read(partitions)
                samples.end_offsets.append((at, sum(ends.values())))
                for group, reader in readers.items():
                    if group in failing:
                        continue
                    topic = group.split(".", 1)[1]
                    try:
                        lag = 0
                        for tp, end in ends.items():
                            if tp.topic == topic:
                                lag += max(end - (await reader.committed(tp) or 0), 0)
                    except Exception as error:  # say which group the broker would not answer for, keep the others
                        failing.add(group)
                        samples.lag_error = f"{group}: {error!r}"
                        continue
                    samples.lag[group].append((at, lag))
                await asyncio.sleep(1.0)
        finally:
            for reader in readers.values():
                await reader.stop()


# ---------------------------------------------------------------------------------------------------
# The raw ceiling


async def kafka_ceiling(bootstrap: str, count: int, size: int) -> dict[str, Any]:
    """Same number of records through the same broker, produced like the relay (acks=all, batches of 500)."""
    topic = f"bench.ceiling.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    payload = json.dumps({"data": "x" * max(size - 12, 1)}).encode()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        started = time.perf_counter()
        for first in range(0, count, 500):
            acks = [await producer.send(topic, payload, key=str(n).encode()) for n in range(first, min(first + 500, count))]
            await asyncio.gather(*acks)
        produce_s = time.perf_counter() - started
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        started = time.perf_counter()
        received = 0
        while received < count and time.perf_counter() - started < 300:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                received += len(records)
        consume_s = time.perf_counter() - started
    finally:
        await consumer.stop()
    return {"records": count, "record_bytes": len(payload), "produce_s": round(produce_s, 3),
            "produce_per_s": round(count / produce_s, 1), "consumed": received, "consume_s": round(consume_s, 3),
            "consume_per_s": round(received / consume_s, 1)}


async def postgres_ceiling(dsn: str, count: int, size: int, connections: int = 8) -> dict[str, Any]:
    """Outbox-shaped rows into the same server: one transaction per row (as a service commits), then a batch."""
    pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections)
    assert pool is not None
    try:
        await pool.execute("""
            CREATE TABLE IF NOT EXISTS outbox (
                id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, event_id uuid NOT NULL UNIQUE,
                topic text NOT NULL, key bytea NOT NULL, payload bytea NOT NULL, headers jsonb NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(), published_at timestamptz);
            CREATE INDEX IF NOT EXISTS ix_outbox_unpublished ON outbox (id) WHERE published_at IS NULL;""")
        payload = b"x" * size
        headers = json.dumps({"ce_type": "bench.ceiling.v1", "traceparent": "00-" + "0" * 32 + "-" + "0" * 16 + "-01"})
        insert = "INSERT INTO outbox (event_id, topic, key, payload, headers) VALUES ($1, $2, $3, $4, $5)"

        async def worker(rows: int) -> None:
            async with pool.acquire() as connection:
                for _ in range(rows):
                    await connection.execute(insert, uuid.uuid4(), "bench.ceiling", b"k", payload, headers)

        started = time.perf_counter()
        await asyncio.gather(*(worker(count // connections + (1 if n < count % connections else 0))
                               for n in range(connections)))
        single_s = time.perf_counter() - started
        started = time.perf_counter()
        async with pool.acquire() as connection, connection.transaction():
            await connection.executemany(insert, [(uuid.uuid4(), "bench.ceiling", b"k", payload, headers)
                                                  for _ in range(count)])
        batch_s = time.perf_counter() - started
    finally:
        await pool.close()
    return {"rows": count, "payload_bytes": size, "connections": connections,
            "single_row_tx_s": round(single_s, 3), "single_row_tx_per_s": round(count / single_s, 1),
            "batch_s": round(batch_s, 3), "batch_per_s": round(count / batch_s, 1)}


# ---------------------------------------------------------------------------------------------------
# Statistics


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "min": None, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] * 1000, 1)

    # min is kept to catch clock trouble: a negative hop means the broker's timestamps are not the hosts'.
    return {"count": len(ordered), "min": round(ordered[0] * 1000, 1), "p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99),
            "max": round(ordered[-1] * 1000, 1), "mean": round(statistics.fmean(ordered) * 1000, 1)}


def milestones(job: Job, attempt: int) -> dict[str, float]:
    marks = {name: by_attempt[attempt] for name, by_attempt in job.marks.items() if attempt in by_attempt}
    if "awarded" in marks:
        auto = [t for lid, t in job.credits.items() if job.teacher.license_states[lid] in AUTOMATIC_STATES]
        ar = [t for lid, t in job.credits.items() if job.teacher.license_states[lid] == "AR"]
        if auto:
            marks["credit_auto"] = max(auto)
        if ar:
            marks["credit_ar"] = max(ar)
        if job.completed_at is not None:
            marks["credit_last"] = job.completed_at
    return marks


def latency_report(jobs: list[Job]) -> dict[str, Any]:
    hops: dict[str, list[float]] = {name: [] for name, _, _ in HOPS}
    first_pass: dict[str, list[float]] = {m: [] for m in FROM_SUBMIT}
    end_to_end_revised: list[float] = []
    for job in jobs:
        for attempt in job.marks["submit_http"]:
            marks = milestones(job, attempt)
            for name, start, end in HOPS:
                if start in marks and end in marks:
                    hops[name].append(marks[end] - marks[start])
        if job.completed_at is None:
            continue
        if job.attempts == 1:
            marks = milestones(job, 1)
            for milestone in FROM_SUBMIT:
                if milestone in marks:
                    first_pass[milestone].append(marks[milestone] - marks["submit_http"])
        else:
            end_to_end_revised.append(job.completed_at - job.marks["submit_http"][1])
    return {
        "unit": "ms",
        "per_hop": {name: percentiles(values) for name, values in hops.items()},
        "from_submit_first_pass": {f"submit -> {m}": percentiles(v) for m, v in first_pass.items()},
        "from_first_submit_revised_then_credited": percentiles(end_to_end_revised),
        "_raw_hops": hops,
        "_raw_end_to_end": first_pass["credit_last"],
    }


def per_second(times: list[float], origin: float, end: float) -> list[int]:
    buckets = [0] * (int(max(end - origin, 0)) + 1)
    for at in times:
        index = int(at - origin)
        if 0 <= index < len(buckets):
            buckets[index] += 1
    return buckets


def process_summary(samples: Samples) -> dict[str, Any]:
    summary = {}
    for name, series in samples.process.items():
        if not series:
            continue
        cpu = [c for _, c, _ in series]
        summary[name] = {"cpu_mean_pct": round(statistics.fmean(cpu), 1), "cpu_max_pct": round(max(cpu), 1),
                         "cpu_seconds": round(sum(cpu) / 100, 1), "rss_max_mb": round(max(r for _, _, r in series), 1)}
    return dict(sorted(summary.items(), key=lambda item: -item[1]["cpu_seconds"]))


# ---------------------------------------------------------------------------------------------------
# One run


@dataclass
class Options:
    submissions: int
    rate: float
    concurrency: int
    credentials: int
    reviewers: int
    fail_share: float
    poll: float
    timeout: float
    ceiling: bool
    seed: int
    broker_log: Literal["s3", "memory"] = "s3"
    replicas: dict[str, int] = field(default_factory=dict)


def tag_of(options: Options) -> str:
    return (f"{options.submissions}" + (f"-rate{options.rate:g}" if options.rate > 0 else "")
            + ("-memlog" if options.broker_log == "memory" else "")
            + "".join(f"-replicas-{s}{n}" for s, n in sorted(options.replicas.items()) if n > 1))


def platform_for(data_dir: Path, broker_log: Literal["s3", "memory"], ports: PlatformPorts | None = None,
                 replicas: dict[str, int] | None = None) -> Platform:
    ports = ports or PlatformPorts.free()
    infra = embedded_infrastructure(data_dir, ports.infra, data_dir / "logs", extra_databases=(CEILING_DATABASE,),
                                    broker_log=broker_log)
    return Platform(data_dir, ports, infra=infra, service_env=QUICK_SERVICE_ENV, replicas=replicas or 1)


async def drive(platform: Platform, world: World, options: Options, video: bytes) -> dict[str, Any]:
    rng = random.Random(options.seed)
    api = Api({s: platform.urls(s) for s in SERVICES}, options.concurrency)
    bootstrap = platform.endpoints.kafka_bootstrap
    try:
        with console.status(f"registering licences of {len(world.teachers)} teachers"):
            await register_licenses(api, world.teachers, options.concurrency)
        # Each (teacher, credential) pair once: teacher i takes credentials in turn, so N = T x C at most.
        jobs = [Job(n, world.teachers[n % len(world.teachers)],
                    world.credential_ids[(n // len(world.teachers)) % len(world.credential_ids)],
                    fail_first=rng.random() < options.fail_share) for n in range(options.submissions)]
        run = Run(api, world, jobs, video, options.poll)
        await wait_until_credentials_known(api, world)

        samples = Samples(started=now())
        sampling_stop = asyncio.Event()
        ready = [asyncio.Event() for _ in FOLLOWED]
        followers = [asyncio.create_task(follow(bootstrap, topic, run, flag)) for topic, flag in zip(FOLLOWED, ready,
                                                                                                        strict=True)]
        await asyncio.wait_for(asyncio.gather(*(flag.wait() for flag in ready)), 60)
        groups = await asyncio.to_thread(platform.consumer_groups)
        samplers = [
            asyncio.create_task(sample_processes(watched_processes(platform), samples, sampling_stop)),
            asyncio.create_task(sample_backlog(platform, samples, sampling_stop)),
            asyncio.create_task(sample_lag(bootstrap, groups, samples, sampling_stop)),
        ]
        players = [asyncio.create_task(run.reviewer(r)) for r in world.reviewers]
        players.append(asyncio.create_task(run.district()))

        started = samples.started = now()
        teachers = asyncio.Semaphore(options.concurrency)

        async def one(job: Job) -> None:
            async with teachers:
                try:
                    await run.submit_first(job)
                except Exception as error:
                    job.failed = f"first submission: {error!r}"
                    run.teacher_errors.append(job.failed)

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("{task.fields[note]}"), console=console) as progress:
            sent_bar = progress.add_task("submitted", total=len(jobs), note="")
            done_bar = progress.add_task("credited ", total=len(jobs), note="")
            # Off a terminal (a long run in the background, its output in a file) the bars only show at
            # the end, so a plain line now and then says how far it got.
            plain_every, plain_next = 60.0, now() + 60.0

            def plain_progress() -> None:
                nonlocal plain_next
                if not console.is_terminal and now() >= plain_next:
                    plain_next = now() + plain_every
                    console.print(f"{datetime.now(UTC):%H:%M:%S} submitted {run.submitted}, credited "
                                  f"{run.completed} of {len(jobs)}, errors {len(run.teacher_errors)}")
            launched: list[asyncio.Task[None]] = []
            for job in jobs:
                if options.rate > 0:
                    # Open-loop arrivals on a fixed schedule: a slow platform does not slow the arrivals.
                    await asyncio.sleep(max(0.0, started + job.index / options.rate - now()))
                else:
                    await teachers.acquire()  # as fast as the front door takes them
                    teachers.release()
                launched.append(asyncio.create_task(one(job)))
                progress.update(sent_bar, completed=run.submitted)
                progress.update(done_bar, completed=run.completed)
                plain_progress()
            deadline = now() + options.timeout
            while not run.all_done.is_set() and now() < deadline:
                failed = sum(1 for j in jobs if j.failed)
                if run.completed + failed >= len(jobs) and all(t.done() for t in launched):
                    break
                progress.update(sent_bar, completed=run.submitted)
                progress.update(done_bar, completed=run.completed,
                                note=f"backlog {sum(s[-1][1] for s in samples.backlog.values() if s):.0f} "
                                     f"errors {len(run.teacher_errors)}")
                plain_progress()
                await asyncio.sleep(0.5)
            finished = now()
            progress.update(sent_bar, completed=run.submitted)
            progress.update(done_bar, completed=run.completed)

        # Let the samplers see the drained state for a moment, then stop everyone.
        await asyncio.sleep(2.0)
        run.stop.set()
        sampling_stop.set()
        for task in [*players, *followers, *samplers, *launched, *run.background]:
            task.cancel()
        await asyncio.gather(*players, *followers, *samplers, *launched, *run.background, return_exceptions=True)
        return summarise(run, samples, started, finished, options)
    finally:
        await api.close()


async def wait_until_credentials_known(api: Api, world: World, timeout: float = 60.0) -> None:
    """Submission learns credentials by event: a probe teacher (not one of the run's) starts a draft of each
    until it is accepted, so the run's first submissions do not time the catalog's propagation."""
    probe = Actor("probe", {"Authorization": f"Bearer {world.probe_token}"})
    deadline = now() + timeout
    for credential_id in world.credential_ids:
        while True:
            response = await api.send("POST", f"{api.urls['submission']}/submissions", headers=dict(probe.headers),
                                       json={"credential_id": credential_id})
            if response.status_code == 201:
                break
            not_yet_known = response.status_code == 422 and response.json().get("error") == "credential_not_found"
            if not not_yet_known or now() > deadline:
                raise RuntimeError(f"credential {credential_id} never reached submission: {response.status_code} "
                                   f"{response.text[:300]}")
            await asyncio.sleep(0.2)


def summarise(run: Run, samples: Samples, started: float, finished: float, options: Options) -> dict[str, Any]:
    jobs = run.jobs
    completed = [j for j in jobs if j.completed_at is not None]
    ends = [j.completed_at for j in completed if j.completed_at is not None]
    elapsed = (max(ends) if ends else finished) - started
    latencies = latency_report(jobs)
    raw_hops = latencies.pop("_raw_hops")
    raw_end_to_end = latencies.pop("_raw_end_to_end")
    during = [e for e in run.events if e[1] >= started]
    by_topic = Counter(e[0] for e in during)
    offsets = samples.end_offsets
    broker_records = offsets[-1][1] - offsets[0][1] if len(offsets) > 1 else None
    broker_span = offsets[-1][0] - offsets[0][0] if len(offsets) > 1 else None
    first_submits = [j.marks["submit_http"][1] for j in jobs if 1 in j.marks["submit_http"]]
    submit_span = (max(first_submits) - min(first_submits)) if len(first_submits) > 1 else None
    routes = {route: percentiles(values) for route, values in sorted(run.api.timings.items())}
    return {
        "counts": {
            "submissions": len(jobs), "submitted": len(first_submits), "completed": len(completed),
            "failed": sum(1 for j in jobs if j.failed), "revised": sum(1 for j in jobs if j.attempts > 1),
            "fail_first_planned": sum(1 for j in jobs if j.fail_first),
            "events_followed": dict(sorted(by_topic.items())), "unmatched_events": dict(run.unmatched),
            "http_errors": dict(run.api.errors), "errors_sample": run.teacher_errors[:10],
            "transport_retries": run.api.transport_retries,
        },
        "timings": {
            "elapsed_s": round(elapsed, 2), "submit_phase_s": None if submit_span is None else round(submit_span, 2),
            "drained": len(completed) == len(jobs),
        },
        "throughput": {
            "completed_per_s": round(len(completed) / elapsed, 2) if elapsed > 0 else None,
            "submitted_per_s": round(len(first_submits) / submit_span, 2) if submit_span else None,
            "followed_events_per_s": round(len(during) / elapsed, 1) if elapsed > 0 else None,
            "broker_records": broker_records,
            "broker_records_per_s": round(broker_records / broker_span, 1) if broker_records and broker_span else None,
            "mean_event_bytes": round(statistics.fmean(e[3] for e in during)) if during else None,
        },
        "latency": latencies,
        "http_latency_ms": routes,
        "processes": process_summary(samples),
        "series": {
            "origin_epoch_s": started,
            "submitted_per_s": per_second(first_submits, started, finished),
            "completed_per_s": per_second([j.completed_at for j in completed if j.completed_at], started, finished),
            "events_per_s": per_second([e[1] for e in during], started, finished),
            "completions": [[round(j.completed_at - started, 3), round(j.completed_at - j.marks["submit_http"][1], 3)]
                            for j in completed if j.completed_at and 1 in j.marks["submit_http"]],
            "process": {k: [[round(a, 1), round(c, 1), round(r, 1)] for a, c, r in v] for k, v in samples.process.items()},
            "outbox_backlog": {k: [[round(a, 1), b] for a, b in v] for k, v in samples.backlog.items()},
            "consumer_lag": {k: [[round(a, 1), n] for a, n in v] for k, v in samples.lag.items()},
            "consumer_lag_error": samples.lag_error,
            "broker_end_offsets": [[round(a, 1), n] for a, n in offsets],
        },
        "_raw_hops": raw_hops,
        "_raw_end_to_end": raw_end_to_end,
    }


def one_size(options: Options, video: bytes, charts: Path) -> dict[str, Any]:
    teachers = max(math.ceil(options.submissions / options.credentials), 1)
    with tempfile.TemporaryDirectory(prefix="microcred-pipeline-") as scratch, \
            running_platform(platform_for(Path(scratch) / "platform", options.broker_log, replicas=options.replicas),
                             console) as platform:
        console.print(f"platform up (data in {platform.data_dir}); "
                      f"N={options.submissions}, {teachers} teachers, {options.credentials} credentials")
        client = PlatformClient({s: platform.url(s) for s in SERVICES}, platform.tokens, timeout=120.0)
        try:
            with console.status("publishing credentials, registering reviewers"):
                world = build_world(client, options.credentials, options.reviewers, teachers,
                                    max_open=reviewer_capacity(options.submissions))
        finally:
            client.close()
        result = asyncio.run(drive(platform, world, options, video))
        result["ceiling"] = raw_ceiling(platform, result) if options.ceiling else {}
        result["service_log_errors"] = service_log_errors(platform)
        result["replica_partitions"] = held_partitions(platform)
    raw_hops = result.pop("_raw_hops")
    result.pop("_raw_end_to_end")
    report: dict[str, Any] = {
        "benchmark": "pipeline",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "parameters": parameters(options, teachers),
        **result,
    }
    draw_run(report, raw_hops, charts, tag_of(options))
    return report


def reviewer_capacity(submissions: int) -> int:
    # max_open (the API allows 1,000 at most): no reviewer may be full, or routing would queue and the run
    # would measure the cap, not the pipeline.
    return min(1000, submissions * 2 + 10)


def parameters(options: Options, teachers: int) -> dict[str, Any]:
    return {
        "submissions": options.submissions, "rate_per_s": options.rate or "open loop (max)",
        "concurrency": options.concurrency, "credentials": options.credentials, "reviewers": options.reviewers,
        "teachers": teachers, "fail_share": options.fail_share, "poll_interval_s": options.poll,
        "timeout_s": options.timeout, "seed": options.seed, "state_mixes": [list(m) for m in STATE_MIXES],
        "ar_district_approval": "approved by a district-admin player polling pending credits",
        "service_env": QUICK_SERVICE_ENV, "broker_log": options.broker_log,
        "topic_partitions": {spec.name: spec.partitions for spec in platform_topics()},
        # Settings from this run's environment reach every service too (Platform.env_for): a before/after of one
        # setting is two runs with and without the variable, and the report says which it was.
        "inherited_env": {name: value for name, value in sorted(os.environ.items()) if name.startswith("MICROCRED_")},
        "replicas": options.replicas,
    }


def raw_ceiling(platform: Platform, result: dict[str, Any]) -> dict[str, Any]:
    """Plain aiokafka and plain INSERTs moving as many records as the run put through the broker."""
    ceiling: dict[str, Any] = {}
    records = result["throughput"]["broker_records"] or sum(result["counts"]["events_followed"].values())
    size = result["throughput"]["mean_event_bytes"] or 1000
    with console.status(f"raw ceiling: {records} records through the broker, {records} rows into PostgreSQL"):
        ceiling["kafka"] = asyncio.run(kafka_ceiling(platform.endpoints.kafka_bootstrap, max(records, 1), size))
        ceiling["postgres"] = asyncio.run(postgres_ceiling(
            platform.endpoints.database_url(CEILING_DATABASE, driver="postgresql"), max(records, 1), size))
    pipeline_rate = result["throughput"]["broker_records_per_s"] or result["throughput"]["followed_events_per_s"]
    if pipeline_rate:
        ceiling["pipeline_over_kafka_produce"] = round(pipeline_rate / ceiling["kafka"]["produce_per_s"], 4)
        ceiling["pipeline_over_kafka_consume"] = round(pipeline_rate / ceiling["kafka"]["consume_per_s"], 4)
        ceiling["pipeline_over_postgres_single_row_tx"] = round(
            pipeline_rate / ceiling["postgres"]["single_row_tx_per_s"], 4)
    ceiling["note"] = ("pipeline rate = records per second the whole platform put through the broker during "
                       "the run (all topics); the ceiling moves the same count with no processing")
    return ceiling


# ---------------------------------------------------------------------------------------------------
# A long growth run, in chunks over one growing platform
#
# Tansu, the dev broker, lists every record object of a partition on every fetch (DynoStore::fetch in
# tansu-storage 0.6.0), with its log in memory as in S3, so its CPU grows with the length of the log:
# from 13.5% to 31.6% of a core between the 1,000 and 10,000 runs, on course to more than this machine
# has before 100,000. Apache Kafka finds an offset through a segment index and does not slow down as a
# topic grows. So a long run keeps one platform data directory (PostgreSQL and the evidence store grow
# through the whole run) and restarts the platform between chunks, each time once every submission of
# the chunk has been credited and every service has handled every event (:func:`settle`): with
# ``--broker-log memory`` that restart empties the broker's log, which is what a topic's retention would
# do on Kafka. With ``--broker-log s3`` the log is kept and grows. The wait to settle is reported with
# each chunk and not counted in its throughput, which runs from its first submission to its last credit.
# The run state is kept after every chunk, so the same command resumes an interrupted run.


async def table_sizes(platform: Platform) -> dict[str, Any]:
    """Exact row counts of every table of every service, and each database's size on disk."""
    sizes: dict[str, Any] = {}
    for service in SERVICES:
        connection = await asyncpg.connect(platform.endpoints.database_url(service, driver="postgresql"))
        try:
            # Exact counts, table names quoted by PostgreSQL itself (regclass); a session-local function
            # because the embedded server has no libxml for query_to_xml.
            await connection.execute(
                "CREATE FUNCTION pg_temp.row_count(r regclass) RETURNS bigint LANGUAGE plpgsql AS "
                "$$ DECLARE n bigint; BEGIN EXECUTE format('SELECT count(*) FROM %s', r) INTO n; RETURN n; END $$")
            rows = {r["name"]: r["count"] for r in await connection.fetch(
                "SELECT tablename AS name, pg_temp.row_count(format('%I.%I', schemaname, tablename)::regclass) "
                "AS count FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")}
            size = await connection.fetchval("SELECT pg_database_size(current_database())")
        finally:
            await connection.close()
        sizes[service] = {"rows": rows, "database_mb": round(size / 2**20, 1)}
    return sizes


def _set_logs_aside(log_dir: Path, index: int) -> None:
    """Each chunk's component logs on their own, so that its error counts are its own."""
    logs = list(log_dir.glob("*.log")) if log_dir.is_dir() else []
    if logs:
        # Chunk ``index`` (1-based) was the last to write them, or an interrupted attempt at the next one.
        kept = log_dir / f"chunk-{index:03d}"
        if kept.exists():
            kept = log_dir / f"chunk-{index:03d}-{int(time.time())}"
        kept.mkdir()
        for path in logs:
            path.rename(kept / path.name)


def cpu_ms_per_submission(processes: dict[str, Any], completed: int) -> dict[str, float]:
    return {name: round(values["cpu_seconds"] * 1000 / max(completed, 1), 1) for name, values in processes.items()}


async def settle(platform: Platform, timeout: float) -> dict[str, Any]:
    """Waits until every service has handled every event: no unsent outbox row and no consumer lag, three
    samples in a row (a handler's own events reach the outbox before its offset is committed, at most a
    second later, so one quiet sample could fall between the two). Before a restart that empties the broker's
    in-memory log this is what keeps events from being lost: at saturation the submission service's
    subscribers run minutes behind its HTTP work, and the last credit comes long before they catch up."""
    samples = Samples(started=now())
    stop = asyncio.Event()
    groups = await asyncio.to_thread(platform.consumer_groups)
    samplers = [asyncio.create_task(sample_backlog(platform, samples, stop)),
                asyncio.create_task(sample_lag(platform.endpoints.kafka_bootstrap, groups, samples, stop))]
    began, quiet = now(), 0
    try:
        while now() - began < timeout and quiet < 3:
            await asyncio.sleep(1.0)
            backlog = [series[-1][1] for series in samples.backlog.values() if series]
            lag = [series[-1][1] for series in samples.lag.values() if series]
            busy = len(backlog) < len(SERVICES) or len(lag) < len(groups) or any(backlog) or any(lag)
            quiet = 0 if busy else quiet + 1
    finally:
        stop.set()
        await asyncio.gather(*samplers, return_exceptions=True)
    first = {k: v[0][1] for k, v in samples.lag.items() if v and v[0][1]}
    return {"settled": quiet >= 3, "seconds": round(now() - began, 1), "lag_at_start": first,
            "lag_error": samples.lag_error,
            "left": {**{f"outbox {k}": v[-1][1] for k, v in samples.backlog.items() if v and v[-1][1]},
                     **{k: v[-1][1] for k, v in samples.lag.items() if v and v[-1][1]}}}


def speed_probe(rounds: int = 5) -> float:
    """Seconds for a fixed pure-Python workload on an idle platform, best of ``rounds``: the host's own speed,
    so that chunks run hours apart on a shared machine can be told apart from tables that grew."""
    best = math.inf
    for _ in range(rounds):
        began = time.perf_counter()
        total = 0
        for number in range(2_000_000):
            total += number * number % 7
        best = min(best, time.perf_counter() - began)
    return round(best, 4)


def compact_chunk(index: int, result: dict[str, Any], tables: dict[str, Any], started: str,
                  speed_probe_s: float) -> dict[str, Any]:
    """What a chunk keeps: its figures and per-second rates, not its per-event series (2 MB at 10,000)."""
    series = result["series"]
    return {
        "index": index, "date": started, "speed_probe_s": speed_probe_s,
        "submissions_in_tables_at_start": tables["submission"]["rows"].get("submissions"),
        "tables_at_start": tables,
        "counts": result["counts"], "timings": result["timings"], "throughput": result["throughput"],
        "latency": result["latency"], "http_latency_ms": result["http_latency_ms"],
        "processes": result["processes"],
        "cpu_ms_per_submission": cpu_ms_per_submission(result["processes"], result["counts"]["completed"]),
        "max_outbox_backlog": {k: max((b for _, b in v), default=0) for k, v in series["outbox_backlog"].items()},
        "max_consumer_lag": {k: max((n for _, n in v), default=0) for k, v in series["consumer_lag"].items()},
        "series": {k: series[k] for k in ("submitted_per_s", "completed_per_s", "events_per_s")},
        "ceiling": result["ceiling"], "settle": result.get("settle"),
        "service_log_errors": {s: v["counts"] for s, v in result["service_log_errors"].items()},
        "raw_end_to_end_ms": [round(v * 1000) for v in result["_raw_end_to_end"]],
    }


def chunked(options: Options, chunk: int, state_dir: Path, max_chunks: int, video: bytes,
            output: Path) -> dict[str, Any]:
    """Runs (or resumes) ``options.submissions`` in chunks of ``chunk``; at most ``max_chunks`` this time (0: only
    the report, from the kept state)."""
    total = math.ceil(options.submissions / chunk)
    teachers = max(math.ceil(chunk / options.credentials), 1)
    key = {"submissions": options.submissions, "chunk": chunk, "broker_log": options.broker_log,
           "credentials": options.credentials, "reviewers": options.reviewers, "fail_share": options.fail_share,
           "rate": options.rate, "concurrency": options.concurrency, "poll": options.poll, "seed": options.seed}
    state_path = state_dir / "state.json"
    if not state_path.exists() and max_chunks == 0:
        raise SystemExit(f"no run kept in {state_dir}: nothing to report")
    if state_path.exists():
        state = json.loads(state_path.read_text())
        if state["key"] != key:
            raise SystemExit(f"{state_path} belongs to a run with other options ({state['key']}); resume it with "
                             f"those, or pass another --state (or delete {state_dir}) to start a new run")
        console.print(f"resuming the run in {state_dir}: {len(state['chunks'])} of {total} chunks done")
    else:
        state_dir.mkdir(parents=True, exist_ok=True)
        state = {"key": key, "started": datetime.now(UTC).isoformat(timespec="seconds"), "port_base": None,
                 "catalog": None, "chunks": []}

    def keep() -> None:
        scratch = state_path.with_suffix(".tmp")
        scratch.write_text(json.dumps(state))
        scratch.replace(state_path)  # a kill mid-write leaves the previous state, never half of one

    ran, report = 0, None
    while len(state["chunks"]) < total and ran < max_chunks:
        index = len(state["chunks"])
        size = min(chunk, options.submissions - index * chunk)
        chunk_options = Options(size, options.rate, options.concurrency, options.credentials, options.reviewers,
                                options.fail_share, options.poll, options.timeout, options.ceiling,
                                options.seed + index, options.broker_log)
        ports = PlatformPorts.from_base(state["port_base"]) if state["port_base"] else None
        if ports is None or not ports.all_free():
            ports = PlatformPorts.free()  # the services' public URLs change; nothing in the run depends on them
        state["port_base"] = ports.infra.postgres
        data_dir = state_dir / "platform"
        _set_logs_aside(data_dir / "logs", index)
        started = datetime.now(UTC).isoformat(timespec="seconds")
        with running_platform(platform_for(data_dir, options.broker_log, ports), console) as platform:
            client = PlatformClient({s: platform.url(s) for s in SERVICES}, platform.tokens, timeout=120.0)
            try:
                if state["catalog"] is None:
                    with console.status("publishing credentials, registering reviewers"):
                        state["catalog"] = seed_catalog(client, options.credentials, options.reviewers,
                                                        max_open=reviewer_capacity(chunk))
                    keep()
                world = world_of(client, state["catalog"], teachers, teacher_prefix=f"teacher-c{index + 1:03d}")
            finally:
                client.close()
            tables = asyncio.run(table_sizes(platform))
            probe = speed_probe()
            console.print(f"[bold]chunk {index + 1} of {total}[/bold]: {size} submissions, {teachers} new teachers; "
                          f"the tables hold {tables['submission']['rows'].get('submissions')} submissions "
                          f"(data in {data_dir})")
            result = asyncio.run(drive(platform, world, chunk_options, video))
            with console.status("waiting until every service has handled every event"):
                result["settle"] = asyncio.run(settle(platform, timeout=600.0))
            if not result["settle"]["settled"]:
                console.print(f"[red]the platform did not settle in 10 minutes: {result['settle']['left']}; the "
                              "restart loses those events (recorded with the chunk)[/red]")
            last = index + 1 == total
            result["ceiling"] = raw_ceiling(platform, result) if last and options.ceiling else {}
            result["service_log_errors"] = service_log_errors(platform)
        state["chunks"].append(compact_chunk(index, result, tables, started, probe))
        keep()
        report = chunked_report(state, options, chunk, state_dir, output)  # an interrupted run still has one
        ran += 1
        c = state["chunks"][-1]
        console.print(f"chunk {index + 1}: {c['counts']['completed']} of {size} completed, "
                      f"{c['throughput']['completed_per_s']} completed/s, submit -> last credit p99 "
                      f"{c['latency']['from_submit_first_pass']['submit -> credit_last']['p99']} ms")
        if not c["timings"]["drained"]:
            console.print("[red]this chunk did not drain: the run stops here (its state is kept)[/red]")
            break
    return report if report is not None else chunked_report(state, options, chunk, state_dir, output)


def chunked_report(state: dict[str, Any], options: Options, chunk: int, state_dir: Path,
                   output: Path) -> dict[str, Any]:
    chunks = state["chunks"]
    total = math.ceil(options.submissions / chunk)
    totals = {k: sum(c["counts"][k] for c in chunks) for k in ("submissions", "completed", "failed", "revised")}
    completed = totals["completed"]
    elapsed = sum(c["timings"]["elapsed_s"] for c in chunks)
    rates = [c["throughput"]["completed_per_s"] or 0.0 for c in chunks]
    end_to_end = [v / 1000 for c in chunks for v in c["raw_end_to_end_ms"]]
    references = {}
    for size in (1000, 10000):
        path = output / f"pipeline-{size}{'-memlog' if options.broker_log == 'memory' else ''}.json"
        if path.is_file() and rates:
            rate = json.loads(path.read_text())["throughput"]["completed_per_s"]
            references[str(size)] = {
                "file": path.name, "completed_per_s": rate,
                "overall_over_it": round(completed / elapsed / rate, 3) if elapsed and rate else None,
                "last_chunk_over_it": round(rates[-1] / rate, 3) if rate else None,
            }
    report: dict[str, Any] = {
        "benchmark": "pipeline", "mode": "chunked",
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "started": state["started"],
        "machine": machine(),
        "complete": len(chunks) == total and all(c["timings"]["drained"] for c in chunks),
        "chunks_done": len(chunks), "chunks_total": total,
        "parameters": {**parameters(options, max(math.ceil(chunk / options.credentials), 1) * total),
                       "chunk": chunk, "state_dir": str(state_dir),
                       "between_chunks": "platform restarted on the same data directory once the chunk drained"
                                         + ("; the broker's in-memory log starts empty" if options.broker_log == "memory"
                                            else "; the broker's S3 log is kept")},
        "counts": totals,
        "timings": {"elapsed_s": round(elapsed, 1), "drained": all(c["timings"]["drained"] for c in chunks)},
        "throughput": {
            "completed_per_s": round(completed / elapsed, 2) if elapsed else None,
            "first_chunk_per_s": rates[0] if rates else None, "last_chunk_per_s": rates[-1] if rates else None,
            "last_over_first": round(rates[-1] / rates[0], 3) if rates and rates[0] else None,
            "min_chunk_per_s": min(rates, default=None), "max_chunk_per_s": max(rates, default=None),
        },
        "latency": {"unit": "ms", "submit -> credit_last, first pass, all chunks": percentiles(end_to_end)},
        "growth": {
            "submissions_in_tables_at_chunk_start": [c["submissions_in_tables_at_start"] for c in chunks],
            "completed_per_s": rates,
            "p99_submit_to_last_credit_ms": [
                c["latency"]["from_submit_first_pass"]["submit -> credit_last"]["p99"] for c in chunks],
            # The host's speed: a fixed workload's time before each chunk (chunks run since it was added), and
            # the machine's CPU per submission over the load generator's, whose work does not depend on the
            # tables, so a host that got slower moves both and leaves the ratio.
            "speed_probe_s": [c.get("speed_probe_s") for c in chunks],
            "machine_cpu_over_generator_cpu": [
                round(c["cpu_ms_per_submission"][MACHINE] / c["cpu_ms_per_submission"]["load generator"], 2)
                if c["cpu_ms_per_submission"].get("load generator") and MACHINE in c["cpu_ms_per_submission"]
                else None for c in chunks],
            "database_mb_at_chunk_start": [{s: t["database_mb"] for s, t in c["tables_at_start"].items()}
                                           for c in chunks],
            "compared_with": references,
        },
        "ceiling": chunks[-1]["ceiling"] if chunks else {},
        "chunks": [{k: v for k, v in c.items() if k != "raw_end_to_end_ms"} for c in chunks],
    }
    tag = tag_of(options)
    path = output / f"pipeline-{tag}.json"
    output.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    if chunks:
        chart = draw_chunked(report, output / "pipeline", tag)
        console.print(f"wrote {path} and {chart}")
    return report


def draw_chunked(report: dict[str, Any], charts: Path, tag: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chunks = report["chunks"]
    at = [c["submissions_in_tables_at_start"] or 0 for c in chunks]
    figure, ((rate, latency), (cost, timeline)) = plt.subplots(2, 2, figsize=(13, 9))
    rate.plot(at, report["growth"]["completed_per_s"], marker="o", label="completed / s, each chunk")
    for size, reference in report["growth"]["compared_with"].items():
        rate.axhline(reference["completed_per_s"], linestyle="--", linewidth=1,
                     color="tab:green" if size == "1000" else "tab:gray", label=f"run of {int(size):,}")
    rate.set_ylim(bottom=0)
    rate.set_xlim(left=0)
    rate.set_xlabel("submissions already in the tables when the chunk starts")
    rate.set_title("Throughput as the tables grow")
    rate.legend()
    for quantile in ("p50", "p95", "p99"):
        latency.plot(at, [(c["latency"]["from_submit_first_pass"]["submit -> credit_last"][quantile] or 0) / 1000
                          for c in chunks], marker="o", label=quantile)
    latency.set_ylim(bottom=0)
    latency.set_xlim(left=0)
    latency.set_xlabel("submissions already in the tables when the chunk starts")
    latency.set_ylabel("seconds, submit -> last credit (first pass)")
    latency.set_title("Latency as the tables grow")
    latency.legend()
    names = sorted({n for c in chunks for n in c["cpu_ms_per_submission"]},
                   key=lambda n: -max(c["cpu_ms_per_submission"].get(n, 0) for c in chunks))
    for name in names[:9]:
        cost.plot(at, [c["cpu_ms_per_submission"].get(name, 0) for c in chunks], marker=".", label=name)
    cost.set_ylim(bottom=0)
    cost.set_xlim(left=0)
    cost.set_xlabel("submissions already in the tables when the chunk starts")
    cost.set_ylabel("CPU ms per completed submission")
    cost.set_title("Cost per submission, by process")
    cost.legend(fontsize=8, ncol=2)
    offset = 0
    for c in chunks:
        series = c["series"]["completed_per_s"]
        timeline.plot(range(offset, offset + len(series)), series, linewidth=0.6, color="tab:blue")
        timeline.axvline(offset, color="tab:gray", linewidth=0.5)
        offset += len(series)
    timeline.set_ylim(bottom=0)
    timeline.set_xlabel("seconds of load, chunks end to end (grey lines: platform restarts)")
    timeline.set_ylabel("completed / s")
    timeline.set_title("Completions per second")
    figure.suptitle(f"{report['counts']['completed']:,} submissions in {report['chunks_done']} chunks"
                    + ("" if report["complete"] else f" (of {report['chunks_total']}; run not finished)"))
    figure.tight_layout()
    charts.mkdir(parents=True, exist_ok=True)
    path = charts / f"growth-{tag}.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def service_log_errors(platform: Platform) -> dict[str, Any]:
    """Errors and warnings the services logged during the run: the data directory goes with the platform."""
    found: dict[str, Any] = {}
    for service in SERVICES:
        path = platform.log_dir / f"{service}.log"
        counts: Counter[str] = Counter()
        samples: list[str] = []
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        for line in lines:
            level = re.search(r'"level":\s*"(\w+)"', line)
            name = level.group(1).upper() if level else ("ERROR" if "Traceback" in line else "")
            if name in ("WARNING", "ERROR", "CRITICAL"):
                counts[name] += 1
                if len(samples) < 3:
                    samples.append(line[:400])
        found[service] = {"counts": dict(counts), "first": samples}
    return found


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": host.python_version(), "os": host.platform()}


# ---------------------------------------------------------------------------------------------------
# Charts


def draw_run(report: dict[str, Any], raw_hops: dict[str, list[float]], charts: Path, tag: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    charts.mkdir(parents=True, exist_ok=True)
    series = report["series"]
    title = f"N={report['parameters']['submissions']}, rate {report['parameters']['rate_per_s']}"

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 8), sharex=True)
    for name in ("submitted_per_s", "completed_per_s"):
        top.plot(range(len(series[name])), series[name], label=name.replace("_", " "))
    top.set_ylabel("submissions / s")
    top.legend()
    top.set_title(f"Throughput and latency over time ({title})")
    completions = series["completions"]
    if completions:
        bottom.scatter([c[0] for c in completions], [c[1] for c in completions], s=4, alpha=0.5,
                       label="submit -> last credit (each completion)")
        bottom.set_yscale("log")
    bottom.set_ylabel("seconds")
    bottom.set_xlabel("seconds since the first submission")
    bottom.legend()
    figure.tight_layout()
    figure.savefig(charts / f"{tag}-throughput-latency.png", dpi=110)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(11, 5))
    names = [name for name, values in raw_hops.items() if values]
    # A hop can be 0 or below (an event published in the same relay batch as its cause, or before the HTTP
    # answer reached the client); the log axis needs a floor, so those are drawn at 1 ms.
    axis.boxplot([[max(v * 1000, 1.0) for v in raw_hops[n]] for n in names], orientation="horizontal",
                 whis=(1, 99), showfliers=False)
    axis.set_yticks(range(1, len(names) + 1), names)
    axis.set_xscale("log")
    axis.set_xlabel("milliseconds (box: p25-p75, whiskers: p1-p99; 0 or less drawn at 1 ms)")
    axis.set_title(f"Per-hop latency ({title})")
    figure.tight_layout()
    figure.savefig(charts / f"{tag}-hops.png", dpi=110)
    plt.close(figure)

    figure, (cpu, backlog, lag) = plt.subplots(3, 1, figsize=(11, 11), sharex=True)
    for name, points in sorted(series["process"].items()):
        if points and max(p[1] for p in points) >= 5:  # idle helpers only clutter the chart
            cpu.plot([p[0] for p in points], [p[1] for p in points], label=name)
    cpu.set_ylabel("CPU % (100 = one core)")
    cpu.legend(fontsize=7, ncol=3)
    cpu.set_title(f"Resources, outbox backlog and consumer lag ({title})")
    for name, points in sorted(series["outbox_backlog"].items()):
        backlog.plot([p[0] for p in points], [p[1] for p in points], label=name)
    backlog.set_ylabel("outbox backlog (rows)")
    backlog.legend(fontsize=7)
    for name, points in sorted(series["consumer_lag"].items()):
        if points and max(p[1] for p in points) > 0:
            lag.plot([p[0] for p in points], [p[1] for p in points], label=name)
    lag.set_ylabel("consumer lag (records)")
    lag.set_xlabel("seconds since the first submission")
    if series["consumer_lag_error"]:
        lag.text(0.01, 0.5, f"lag unavailable: {series['consumer_lag_error'][:90]}", transform=lag.transAxes)
    elif lag.get_legend_handles_labels()[0]:
        lag.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(charts / f"{tag}-resources.png", dpi=110)
    plt.close(figure)


def draw_growth(reports: list[dict[str, Any]], charts: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["parameters"]["submissions"] for r in reports]
    figure, (rate, latency) = plt.subplots(1, 2, figsize=(12, 4.5))
    rate.plot(sizes, [r["throughput"]["completed_per_s"] or 0 for r in reports], marker="o", label="completed / s")
    rate.plot(sizes, [r["throughput"]["submitted_per_s"] or 0 for r in reports], marker="o", label="submitted / s")
    rate.set_xscale("log")
    rate.set_ylim(bottom=0)  # from zero: a few percent must look like a few percent
    rate.set_xlabel("submissions in the run")
    rate.legend()
    rate.set_title("Throughput as the run grows")
    key = "submit -> credit_last"
    for quantile in ("p50", "p95", "p99"):
        latency.plot(sizes, [(r["latency"]["from_submit_first_pass"][key][quantile] or 0) / 1000 for r in reports],
                     marker="o", label=quantile)
    latency.set_xscale("log")
    latency.set_ylim(bottom=0)
    latency.set_xlabel("submissions in the run")
    latency.set_ylabel("seconds, submit -> last credit (first-pass submissions)")
    latency.legend()
    latency.set_title("Latency as the run grows")
    figure.tight_layout()
    path = charts / "growth.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


# ---------------------------------------------------------------------------------------------------
# Summary


def print_summary(report: dict[str, Any]) -> None:
    counts, throughput = report["counts"], report["throughput"]
    console.print(f"[bold]N={counts['submissions']}[/bold]: {counts['completed']} completed, {counts['failed']} failed, "
                  f"{counts['revised']} revised, in {report['timings']['elapsed_s']} s; "
                  f"{throughput['completed_per_s']} completed/s, {throughput['submitted_per_s']} submitted/s, "
                  f"{throughput['broker_records_per_s']} broker records/s")
    table = Table(title="Latency (ms)")
    for column in ("measure", "count", "p50", "p95", "p99", "max"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    rows = {**report["latency"]["per_hop"], **report["latency"]["from_submit_first_pass"],
            "first submit -> last credit (revised)": report["latency"]["from_first_submit_revised_then_credited"]}
    for name, values in rows.items():
        table.add_row(name, *(str(values[k]) for k in ("count", "p50", "p95", "p99", "max")))
    console.print(table)
    table = Table(title="Processes (1 s samples)")
    for column in ("process", "CPU mean %", "CPU max %", "CPU s", "RSS max MB"):
        table.add_column(column, justify="left" if column == "process" else "right")
    for name, values in report["processes"].items():
        if values["cpu_seconds"] >= 0.5:
            table.add_row(name, *(str(values[k]) for k in ("cpu_mean_pct", "cpu_max_pct", "cpu_seconds", "rss_max_mb")))
    console.print(table)
    ceiling = report.get("ceiling") or {}
    if ceiling:
        console.print(f"ceiling: kafka produce {ceiling['kafka']['produce_per_s']}/s, consume "
                      f"{ceiling['kafka']['consume_per_s']}/s; postgres {ceiling['postgres']['single_row_tx_per_s']} "
                      f"rows/s one per transaction, {ceiling['postgres']['batch_per_s']} rows/s batched; pipeline/"
                      f"kafka produce {ceiling.get('pipeline_over_kafka_produce')}, pipeline/postgres "
                      f"{ceiling.get('pipeline_over_postgres_single_row_tx')}")
    backlog = {k: max((p[1] for p in v), default=0) for k, v in report["series"]["outbox_backlog"].items()}
    lag = {k: max((p[1] for p in v), default=0) for k, v in report["series"]["consumer_lag"].items()}
    console.print(f"max outbox backlog: {backlog}")
    console.print(f"max consumer lag: {dict(sorted(lag.items(), key=lambda i: -i[1])[:6])} "
                  f"{report['series']['consumer_lag_error'] or ''}")


def print_chunked(report: dict[str, Any]) -> None:
    table = Table(title=f"Growth run: {report['chunks_done']} of {report['chunks_total']} chunks")
    for column in ("chunk", "in tables", "completed/s", "p50 ms", "p95 ms", "p99 ms", "machine CPU ms/sub"):
        table.add_column(column, justify="right")
    for c in report["chunks"]:
        e2e = c["latency"]["from_submit_first_pass"]["submit -> credit_last"]
        table.add_row(str(c["index"] + 1), f"{c['submissions_in_tables_at_start'] or 0:,}",
                      str(c["throughput"]["completed_per_s"]), *(str(e2e[q]) for q in ("p50", "p95", "p99")),
                      str(c["cpu_ms_per_submission"].get(MACHINE, "")))
    console.print(table)
    throughput = report["throughput"]
    console.print(f"overall {throughput['completed_per_s']} completed/s; last chunk / first "
                  f"{throughput['last_over_first']}; compared with: {report['growth']['compared_with']}")
    if not report["complete"]:
        console.print("[yellow]the run is not finished: the same command resumes it[/yellow]")


def headline(report: dict[str, Any]) -> dict[str, Any]:
    """The figures a before/after comparison puts side by side."""
    submissions = report["counts"]["submissions"] or 1
    end_to_end = report["latency"]["from_submit_first_pass"]["submit -> credit_last"]
    return {
        "date": report["date"], "submissions": report["counts"]["submissions"],
        "broker_log": report["parameters"].get("broker_log", "s3"),
        "completed_per_s": report["throughput"]["completed_per_s"],
        "submit_to_last_credit_ms": {q: end_to_end[q] for q in ("p50", "p95", "p99")},
        "cpu_ms_per_submission": cpu_ms_per_submission(report["processes"], submissions),
    }


def before_after(before: dict[str, Any], after: dict[str, Any], before_path: Path) -> dict[str, Any]:
    old, new = headline(before), headline(after)
    return {"before_file": str(before_path), "before": old, "after": new,
            "throughput_ratio": round((new["completed_per_s"] or 0) / (old["completed_per_s"] or 1), 2)}


def draw_before_after(comparison: dict[str, Any], charts: Path, tag: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    old, new = comparison["before"], comparison["after"]
    figure, (rate, cpu) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1, 3]})
    rate.bar(["before", "after"], [old["completed_per_s"] or 0, new["completed_per_s"] or 0], color=["#999", "#2a7"])
    rate.set_title("Completed submissions / s")
    names = [n for n in new["cpu_ms_per_submission"] if n != MACHINE]
    positions = range(len(names))
    cpu.bar([p - 0.2 for p in positions], [old["cpu_ms_per_submission"].get(n, 0) for n in names], 0.4,
            label=f"before ({old['date'][:10]})", color="#999")
    cpu.bar([p + 0.2 for p in positions], [new["cpu_ms_per_submission"].get(n, 0) for n in names], 0.4,
            label="after", color="#2a7")
    cpu.set_xticks(list(positions), names, rotation=30, ha="right")
    cpu.set_ylabel("CPU ms per submission")
    cpu.set_title("Where a submission's CPU goes")
    cpu.legend()
    figure.tight_layout()
    path = charts / f"before-after-{tag}.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def print_before_after(comparison: dict[str, Any]) -> None:
    old, new = comparison["before"], comparison["after"]
    table = Table(title=f"Before ({comparison['before_file']}) and after")
    for column in ("", "before", "after"):
        table.add_column(column, justify="left" if not column else "right")
    table.add_row("completed / s", str(old["completed_per_s"]), str(new["completed_per_s"]))
    for q in ("p50", "p95", "p99"):
        table.add_row(f"submit -> last credit {q} ms", str(old["submit_to_last_credit_ms"][q]),
                      str(new["submit_to_last_credit_ms"][q]))
    for name, value in new["cpu_ms_per_submission"].items():
        table.add_row(f"CPU ms / submission: {name}", str(old["cpu_ms_per_submission"].get(name, "-")), str(value))
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("-n", "--submissions", type=int, default=1000, help="submissions to drive (default 1000)")
    parser.add_argument("--sizes", type=str, default="", help="several sizes, one platform each: 200,1000")
    parser.add_argument("--rate", type=float, default=0.0, help="target submissions/s; 0 = as fast as possible")
    parser.add_argument("--concurrency", type=int, default=32, help="teachers preparing a submission at once")
    parser.add_argument("--credentials", type=int, default=4, help="credentials (TN caps at 5 per teacher)")
    parser.add_argument("--reviewers", type=int, default=8)
    parser.add_argument("--fail-share", type=float, default=0.1, help="share scored below passing first")
    parser.add_argument("--poll", type=float, default=0.25, help="reviewer and district polling interval, s")
    parser.add_argument("--timeout", type=float, default=0.0, help="drain timeout, s (default 120 + N/2)")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the plain Kafka/PostgreSQL ceiling")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--replicas", type=parse_replicas, default={},
                        help="processes of a service, as pods of its Deployment: submission=2[,review=2]")
    parser.add_argument("--broker-log", choices=("s3", "memory"), default="s3",
                        help="where Tansu keeps its log: s3 (SeaweedFS, as make up runs it) or memory (no S3 round "
                             "trip per produce and commit, closer to a Kafka broker's cost)")
    parser.add_argument("--before", type=Path, default=None,
                        help="an earlier pipeline-*.json to compare with (the report gains a before/after section), "
                             "or a directory of them: each run is compared with the report of its own tag there")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"results directory (default {RESULTS})")
    parser.add_argument("--chunk", type=int, default=0,
                        help="run -n as a long growth run in chunks of this many submissions over one growing "
                             "platform, restarted between chunks; the same command resumes an interrupted run")
    parser.add_argument("--state", type=Path, default=None,
                        help="where a chunked run keeps its platform and progress (default .microcred/bench/<run>)")
    parser.add_argument("--max-chunks", type=int, default=None,
                        help="chunks to run this time (default: all left; 0 writes the report from the kept state)")
    args = parser.parse_args(argv)
    if args.before is not None and not args.before.exists():
        parser.error(f"--before: {args.before} does not exist")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()] or [args.submissions]
    if min(sizes) < 1 or args.concurrency < 1 or not 0 <= args.fail_share < 1 or not 1 <= args.credentials <= 5:
        parser.error("sizes and --concurrency must be positive, --fail-share in [0, 1), --credentials in 1..5")

    video = tiny_video()
    if args.chunk:
        if args.sizes or args.before is not None or args.rate > 0 or args.chunk < 1 or (args.max_chunks or 0) < 0 \
                or args.replicas:
            parser.error("--chunk takes -n, a positive chunk size, no --sizes, --before, --rate or --replicas")
        options = Options(args.submissions, 0.0, args.concurrency, args.credentials, args.reviewers, args.fail_share,
                          args.poll, args.timeout or 120 + min(args.chunk, args.submissions) / 2, not args.no_ceiling,
                          args.seed, args.broker_log)
        state_dir = args.state or Path(__file__).resolve().parents[1] / ".microcred" / "bench" / tag_of(options)
        report = chunked(options, args.chunk, state_dir, 1_000_000 if args.max_chunks is None else args.max_chunks,
                         video, args.output)
        print_chunked(report)
        return 0 if report["timings"]["drained"] else 1
    reports = []
    for size in sizes:
        options = Options(size, args.rate, args.concurrency, args.credentials, args.reviewers, args.fail_share,
                          args.poll, args.timeout or 120 + size / 2, not args.no_ceiling, args.seed,
                          args.broker_log, args.replicas)
        before_path = args.before
        if before_path is not None and before_path.is_dir():
            before_path = before_path / f"pipeline-{tag_of(options)}.json"
            if not before_path.is_file():
                console.print(f"[yellow]no earlier report {before_path}: run {tag_of(options)} has no before/after[/]")
                before_path = None
        report = one_size(options, video, args.output / "pipeline")
        if before_path is not None:
            report["before_after"] = before_after(json.loads(before_path.read_text()), report, before_path)
            draw_before_after(report["before_after"], args.output / "pipeline", tag_of(options))
        path = args.output / f"pipeline-{tag_of(options)}.json"
        path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
        print_summary(report)
        if "before_after" in report:
            print_before_after(report["before_after"])
        console.print(f"wrote {path} and charts in {args.output / 'pipeline'}")
        reports.append(report)
    if len(reports) > 1:
        console.print(f"growth curve: {draw_growth(reports, args.output / 'pipeline')}")
    return 0 if all(r["timings"]["drained"] for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
