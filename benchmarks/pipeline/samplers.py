"""What is sampled every second during a run: CPU and RSS per process, outbox backlog, consumer lag."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import defaultdict
from dataclasses import dataclass, field

import asyncpg
import psutil
from aiokafka import AIOKafkaConsumer

from microcred.devstack.platform import SERVICES, Platform
from microcred.runtime.offsets import LogEnds
from pipeline import now

MACHINE = "machine (all processes)"  # the whole host's CPU, sampled beside the processes we watch
# The benchmark's own query on every service database (counts.py leaves it out of the services' statements).
BACKLOG_QUERY = "SELECT count(*) FROM outbox WHERE published_at IS NULL"


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


def children_by_parent() -> dict[int, list[int]]:
    """Every process's children, from one pass over /proc (psutil's children() would read it once per root)."""
    children: dict[int, list[int]] = {}
    for process in psutil.process_iter(["ppid"]):
        children.setdefault(process.info["ppid"], []).append(process.pid)
    return children


def tree(root: int, children: dict[int, list[int]]) -> list[int]:
    """``root`` and all its descendants, by pid."""
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        pending.extend(children.get(pid, ()))
        found.append(pid)
    return found


async def sample_processes(roots: dict[str, int], samples: Samples, stop: asyncio.Event) -> None:
    """CPU and RSS per name, each name summing its root and all its descendants as they are now: PostgreSQL
    forks a backend per connection and the services open connections as load grows."""
    known: dict[int, psutil.Process] = {}
    children: dict[int, list[int]] = {}

    def rescan() -> None:
        nonlocal children
        children = children_by_parent()  # once per sample, for every root

    def members(root: int) -> list[psutil.Process]:
        found = []
        for pid in tree(root, children):
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


async def idle_cpu(roots: dict[str, int], seconds: float) -> dict[str, float]:
    """CPU ms per second each watched process (with its descendants) spends while nothing is asked of the platform:
    what it costs by the clock (consumers' fetches and heartbeats, relays' and schedulers' polls, the stack's own
    housekeeping), which a run at any rate pays on top of its work. The load generator, this process, is left out,
    and so is the machine's CPU outside the watched processes."""
    watched = {name: pid for name, pid in roots.items() if name != "load generator"}

    def tree_cpu_seconds() -> dict[str, dict[int, float]]:
        children = children_by_parent()
        found: dict[str, dict[int, float]] = {name: {} for name in watched}
        for name, root in watched.items():
            for pid in tree(root, children):
                with contextlib.suppress(psutil.Error):
                    times = psutil.Process(pid).cpu_times()
                    found[name][pid] = times.user + times.system
        return found

    before, started = await asyncio.to_thread(tree_cpu_seconds), now()
    await asyncio.sleep(seconds)
    after, elapsed = await asyncio.to_thread(tree_cpu_seconds), now() - started
    # A process that started during the window counts from zero; one that ended, not at all.
    return {name: round(sum(cpu - before[name].get(pid, 0.0) for pid, cpu in after[name].items()) * 1000 / elapsed, 1)
            for name in watched}


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
                    unsent = await connection.fetchval(BACKLOG_QUERY)
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
                        mine = [tp for tp in ends if tp.topic == topic]
                        # One OffsetFetch for all the group's partitions: ``committed()`` sends one per partition,
                        # which made the sampler a third of the broker's requests in a run. aiokafka has no
                        # public call for several partitions; its coordinator's is the one ``committed()`` uses.
                        committed = await reader._coordinator.fetch_committed_offsets(mine)
                        lag = sum(max(ends[tp] - (committed[tp].offset if tp in committed else 0), 0) for tp in mine)
                    except Exception as error:  # say which group the broker would not answer for, keep the others
                        failing.add(group)
                        samples.lag_error = f"{group}: {error!r}"
                        continue
                    samples.lag[group].append((at, lag))
                await asyncio.sleep(1.0)
        finally:
            for reader in readers.values():
                await reader.stop()
