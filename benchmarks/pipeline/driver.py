"""One run: a throwaway platform, the world seeded, the players, followers and samplers started, N
submissions driven in, and the report and charts written once every credit has arrived."""

from __future__ import annotations

import asyncio
import math
import random
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from harness import running_platform
from replicas import held_partitions
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from microcred.devstack.client import PlatformClient
from microcred.devstack.platform import SERVICES, Platform, PlatformPorts, embedded_infrastructure
from microcred.devstack.samples import QUICK_SERVICE_ENV
from pipeline import console, now
from pipeline.api import Api
from pipeline.ceiling import CEILING_DATABASE, raw_ceiling
from pipeline.charts import draw_run
from pipeline.counts import SQL_SETTINGS, Counting
from pipeline.counts import service_env as counting_env
from pipeline.followers import follow
from pipeline.options import Options, tag_of
from pipeline.players import Run, register_licenses, wait_until_credentials_known
from pipeline.profiles import record
from pipeline.report import idle_report, machine, parameters, service_log_errors, summarise
from pipeline.samplers import (
    BACKLOG_QUERY,
    Samples,
    idle_cpu,
    sample_backlog,
    sample_lag,
    sample_processes,
    watched_processes,
)
from pipeline.world import Job, World, build_world, reviewer_capacity

PROFILE_DELAY_S = 3.0  # from the first submission to the profiles' start: the pipeline filling up


def platform_for(data_dir: Path, broker_log: Literal["s3", "memory"], ports: PlatformPorts | None = None,
                 replicas: dict[str, int] | None = None, counts: bool = False) -> Platform:
    """``counts``: PostgreSQL with pg_stat_statements loaded, and the services' requests counted (counts.py)."""
    ports = ports or PlatformPorts.free()
    infra = embedded_infrastructure(data_dir, ports.infra, data_dir / "logs", extra_databases=(CEILING_DATABASE,),
                                    broker_log=broker_log, postgres_settings=SQL_SETTINGS if counts else None)
    service_env = {**QUICK_SERVICE_ENV, **(counting_env(data_dir / "counts") if counts else {})}
    return Platform(data_dir, ports, infra=infra, service_env=service_env, replicas=replicas or 1)


async def drive(platform: Platform, world: World, options: Options, video: bytes,
                profiles: Path | None = None) -> dict[str, Any]:
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
        # Before the followers, samplers and players start: the platform alone, asked nothing.
        idle = await idle_cpu(watched_processes(platform), options.idle) if options.idle > 0 else None

        samples = Samples(started=now())
        sampling_stop = asyncio.Event()
        ready = asyncio.Event()
        followers = [asyncio.create_task(follow(bootstrap, run, ready))]
        await asyncio.wait_for(ready.wait(), 60)
        groups = await asyncio.to_thread(platform.consumer_groups)
        samplers = [
            asyncio.create_task(sample_processes(watched_processes(platform), samples, sampling_stop)),
            asyncio.create_task(sample_backlog(platform, samples, sampling_stop)),
            asyncio.create_task(sample_lag(bootstrap, groups, samples, sampling_stop)),
        ]
        players = [asyncio.create_task(run.reviewer(r)) for r in world.reviewers]
        players.append(asyncio.create_task(run.district()))

        counting = Counting(platform, platform.data_dir / "counts") if options.counts else None
        if counting is not None:
            await counting.start(run.api.timings)
        started = samples.started = now()
        drained = asyncio.Event()
        profiling = (asyncio.create_task(record(platform, profiles, tag_of(options), PROFILE_DELAY_S, options.profile,
                                                drained)) if options.profile > 0 and profiles is not None else None)
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
            drained.set()
            progress.update(sent_bar, completed=run.submitted)
            progress.update(done_bar, completed=run.completed)

        # Let the samplers see the drained state for a moment, then stop everyone.
        await asyncio.sleep(2.0)
        run.stop.set()
        sampling_stop.set()
        for task in [*players, *followers, *samplers, *launched, *run.background]:
            task.cancel()
        await asyncio.gather(*players, *followers, *samplers, *launched, *run.background, return_exceptions=True)
        result = summarise(run, samples, started, finished, options)
        if idle is not None:
            result["idle"] = idle_report(idle, options.idle, result["throughput"]["completed_per_s"])
        if counting is not None:
            result["counts_per_submission"] = await counting.finish(run.api.timings, result["counts"]["completed"],
                                                                    exclude=[BACKLOG_QUERY])
        if profiling is not None:
            result["profiles"] = await profiling
        return result
    finally:
        await api.close()


def one_size(options: Options, video: bytes, charts: Path, profiles: Path | None = None) -> dict[str, Any]:
    teachers = max(math.ceil(options.submissions / options.credentials), 1)
    with tempfile.TemporaryDirectory(prefix="microcred-pipeline-") as scratch, \
            running_platform(platform_for(Path(scratch) / "platform", options.broker_log, replicas=options.replicas,
                                          counts=options.counts), console) as platform:
        console.print(f"platform up (data in {platform.data_dir}); "
                      f"N={options.submissions}, {teachers} teachers, {options.credentials} credentials")
        client = PlatformClient({s: platform.url(s) for s in SERVICES}, platform.tokens, timeout=120.0)
        try:
            with console.status("publishing credentials, registering reviewers"):
                world = build_world(client, options.credentials, options.reviewers, teachers,
                                    max_open=reviewer_capacity(options.submissions))
        finally:
            client.close()
        result = asyncio.run(drive(platform, world, options, video, profiles))
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
