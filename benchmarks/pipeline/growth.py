"""A long growth run, in chunks over one growing platform.

Tansu, the dev broker, lists every record object of a partition on every fetch (DynoStore::fetch in
tansu-storage 0.6.0), with its log in memory as in S3, so its CPU grows with the length of the log:
from 13.5% to 31.6% of a core between the 1,000 and 10,000 runs, on course to more than this machine
has before 100,000. Apache Kafka finds an offset through a segment index and does not slow down as a
topic grows. So a long run keeps one platform data directory (PostgreSQL and the evidence store grow
through the whole run) and restarts the platform between chunks, each time once every submission of
the chunk has been credited and every service has handled every event (:func:`settle`): with
``--broker-log memory`` that restart empties the broker's log, which is what a topic's retention would
do on Kafka. With ``--broker-log s3`` the log is kept and grows. The wait to settle is reported with
each chunk and not counted in its throughput, which runs from its first submission to its last credit.
The run state is kept after every chunk, so the same command resumes an interrupted run.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from harness import running_platform

from microcred.devstack.client import PlatformClient
from microcred.devstack.platform import SERVICES, Platform, PlatformPorts
from pipeline import console, now
from pipeline.ceiling import raw_ceiling
from pipeline.charts import draw_chunked
from pipeline.driver import drive, platform_for
from pipeline.options import Options, tag_of
from pipeline.report import cpu_ms_per_submission, machine, parameters, percentiles, service_log_errors
from pipeline.samplers import MACHINE, Samples, sample_backlog, sample_lag
from pipeline.world import reviewer_capacity, seed_catalog, world_of


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
