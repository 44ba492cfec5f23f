"""Tests of the embedded stack against the real servers (PostgreSQL, SeaweedFS, Tansu).

Sync tests that drive async clients through asyncio.run, so they run under any pytest-asyncio
mode. Three stack starts in total keep the file around half a minute on two cores.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from minio import Minio

from microcred.devstack import EmbeddedStack, Endpoints, Ports, StackError, TopicSpec

DATABASE = "devstack_test"
BUCKET = "devstack-test"
TOPIC = "devstack.test"


def make_stack(data_dir: Path, ports: Ports) -> EmbeddedStack:
    return EmbeddedStack(
        data_dir,
        ports,
        databases=[DATABASE],
        buckets=[BUCKET],
        topics=[TopicSpec(TOPIC, partitions=3)],
    )


def s3_client(ep: Endpoints) -> Minio:
    return Minio(
        urlsplit(ep.s3_endpoint).netloc,
        access_key=ep.s3_access_key,
        secret_key=ep.s3_secret_key,
        secure=False,
        region="us-east-1",
    )


async def produce(ep: Endpoints, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=ep.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(TOPIC, value, key=value)
    finally:
        await producer.stop()


async def consume_until(ep: Endpoints, wanted: bytes, timeout: float = 30.0) -> list[bytes]:
    """Read every partition from the start until ``wanted`` shows up.

    Partitions are assigned by hand: joining a new consumer group on Tansu takes about 5 s
    (the broker holds the first JoinGroup), which would double this file's runtime.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=ep.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: list[bytes] = []
    try:
        partitions = consumer.partitions_for_topic(TOPIC)
        assert partitions, f"topic {TOPIC} has no partitions"
        consumer.assign([TopicPartition(TOPIC, p) for p in partitions])
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + timeout
        while wanted not in seen and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            seen.extend(record.value for records in batches.values() for record in records if record.value)
    finally:
        await consumer.stop()
    return seen


async def insert_row(ep: Endpoints, marker: str) -> None:
    conn = await asyncpg.connect(ep.database_url(DATABASE, driver="postgresql"))
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS marks (value text PRIMARY KEY)")
        await conn.execute("INSERT INTO marks VALUES ($1)", marker)
    finally:
        await conn.close()


async def read_rows(ep: Endpoints) -> list[str]:
    conn = await asyncpg.connect(ep.database_url(DATABASE, driver="postgresql"))
    try:
        return [row["value"] for row in await conn.fetch("SELECT value FROM marks")]
    finally:
        await conn.close()


def put_object(ep: Endpoints, key: str, data: bytes) -> None:
    s3_client(ep).put_object(BUCKET, key, io.BytesIO(data), len(data))


def get_object(ep: Endpoints, key: str) -> bytes:
    response = s3_client(ep).get_object(BUCKET, key)
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


def _proc_stats() -> dict[int, tuple[int, str, str]]:
    """pid -> (ppid, state, start time) for every process."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        # The command name may contain spaces and parentheses; fields resume after the last ')'.
        fields = raw.rsplit(")", 1)[1].split()
        stats[int(entry.name)] = (int(fields[1]), fields[0], fields[19])
    return stats


def process_tree(roots: Iterable[int]) -> set[tuple[int, str]]:
    """(pid, start time) of the roots and all their descendants.

    PostgreSQL backends call setsid(), so process groups miss them; parentage does not.
    """
    stats = _proc_stats()
    found = {pid for pid in roots if pid in stats}
    grew = True
    while grew:
        children = {pid for pid, (ppid, _, _) in stats.items() if ppid in found} - found
        found |= children
        grew = bool(children)
    return {(pid, stats[pid][2]) for pid in found}


def wait_gone(tree: set[tuple[int, str]], timeout: float = 10.0) -> list[int]:
    """Pids from ``tree`` still alive (same start time, not a zombie) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        stats = _proc_stats()
        alive = [pid for pid, start in tree if pid in stats and stats[pid][2] == start and stats[pid][1] != "Z"]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def test_port_layout_never_collides() -> None:
    a, b = Ports.from_base(15400), Ports.from_base(25400)
    assert not set(a.as_dict().values()) & set(b.as_dict().values())
    for delta in range(Ports.BLOCK, 3 * Ports.BLOCK):
        first, second = Ports.from_base(20000), Ports.from_base(20000 + delta)
        assert not set(first.as_dict().values()) & set(second.as_dict().values())
    assert len(set(a.as_dict().values())) == len(a.as_dict())
    # A hand-built Ports keeps SeaweedFS's own P + 10000 rule for the gRPC ports.
    manual = Ports(postgres=5432, kafka=9092, s3=8333, weed_master=9333, weed_volume=8080, weed_filer=8888)
    assert manual.as_dict()["weed_s3_grpc"] == 18333


def test_database_url_quotes_credentials() -> None:
    ep = Endpoints(
        postgres_host="127.0.0.1",
        postgres_port=5432,
        postgres_user="micro cred",
        postgres_password="p@ss/word",
        kafka_bootstrap="127.0.0.1:9092",
        s3_endpoint="http://127.0.0.1:8333",
        s3_access_key="a",
        s3_secret_key="b",
    )
    assert ep.database_url("app") == "postgresql+asyncpg://micro%20cred:p%40ss%2Fword@127.0.0.1:5432/app"
    assert "p@ss" not in repr(ep)


def test_data_survives_restart_and_stop_leaves_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "stack"
    ports = Ports.free()
    stack = make_stack(data_dir, ports)
    marker = uuid.uuid4().hex
    try:
        began = time.monotonic()
        ep = stack.start()
        first_start = time.monotonic() - began
        assert stack.start() is ep  # idempotent while running

        asyncio.run(produce(ep, marker.encode()))
        assert marker.encode() in asyncio.run(consume_until(ep, marker.encode()))
        asyncio.run(insert_row(ep, marker))
        put_object(ep, f"{marker}.txt", marker.encode())

        pids = stack.pids
        assert set(pids) == {"postgres", "seaweedfs", "seaweedfs-volume", "tansu"}
        tree = process_tree(pids.values())
        assert len(tree) > len(pids)  # PostgreSQL's background processes at least
        began = time.monotonic()
        stack.stop()
        first_stop = time.monotonic() - began
        assert stack.pids == {}
        assert wait_gone(tree) == []

        began = time.monotonic()
        ep2 = stack.start()
        restart = time.monotonic() - began
        assert ep2 == ep  # credentials were generated once and reused
        assert marker.encode() in asyncio.run(consume_until(ep2, marker.encode()))
        assert asyncio.run(read_rows(ep2)) == [marker]
        assert get_object(ep2, f"{marker}.txt") == marker.encode()
        tree = process_tree(stack.pids.values())
    finally:
        stack.stop()
    stack.stop()  # idempotent
    assert wait_gone(tree) == []
    weed_ports = {port for name, port in ports.as_dict().items() if name.startswith("weed") or name == "s3"}
    leftovers = [p for p in Path("/tmp").glob("seaweedfs-*.sock") if int(p.stem.rsplit("-", 1)[1]) in weed_ports]
    assert leftovers == []
    with pytest.raises(RuntimeError):
        _ = stack.endpoints
    logs = data_dir / "logs"
    assert {p.name for p in logs.iterdir()} >= {"postgres.log", "seaweedfs.log", "tansu.log"}
    print(f"first start {first_start:.1f}s, stop {first_stop:.1f}s, restart {restart:.1f}s")


def test_failed_start_names_component_and_cleans_up(tmp_path: Path) -> None:
    ports = Ports.free()
    # Something else already owns the PostgreSQL port, so that component must fail.
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", ports.postgres))
    blocker.listen()
    stack = make_stack(tmp_path / "stack", ports)
    try:
        with pytest.raises(StackError) as info:
            stack.start(timeout=30)
        assert info.value.component == "postgres"
        assert "Address already in use" in str(info.value)  # the tail of PostgreSQL's own log
        assert stack.pids == {}
        stack.stop()  # safe after a failed start
    finally:
        blocker.close()
        stack.stop()


CHILD_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from microcred.devstack import EmbeddedStack, Ports

    ports = Ports(**json.loads(sys.argv[2]))
    stack = EmbeddedStack(Path(sys.argv[1]), ports, buckets=["side"])
    endpoints = stack.start()
    print(json.dumps({"pids": stack.pids, "s3": endpoints.s3_endpoint, "kafka": endpoints.kafka_bootstrap,
                      "key": endpoints.s3_access_key, "secret": endpoints.s3_secret_key}), flush=True)
    time.sleep(600)
    """
)


def test_two_stacks_side_by_side_and_sigkilled_parent_takes_children_along(tmp_path: Path) -> None:
    ports_a, ports_b = Ports.free(), Ports.free()
    assert not set(ports_a.as_dict().values()) & set(ports_b.as_dict().values())
    # Stack B lives in another Python process, which is SIGKILLed at the end: its servers must
    # not outlive it (PR_SET_PDEATHSIG), with no stop() or atexit hook running.
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_SCRIPT, str(tmp_path / "b"), json.dumps(ports_b.as_dict())],
        stdout=subprocess.PIPE,
        text=True,
    )
    stack_a = EmbeddedStack(tmp_path / "a", ports_a, buckets=["side"])
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            # From a worker thread on purpose: the servers must survive that thread's exit.
            ep_a = pool.submit(stack_a.start).result()
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, f"stack B did not start (exit code {child.poll()})"
        info_b = json.loads(line)
        tree_b = {(pid, start) for pid, start in process_tree([child.pid]) if pid != child.pid}
        assert {pid for pid, _ in tree_b} >= set(info_b["pids"].values())

        s3_b = Minio(urlsplit(info_b["s3"]).netloc, info_b["key"], info_b["secret"], secure=False, region="us-east-1")
        s3_a = s3_client(ep_a)
        s3_a.put_object("side", "who", io.BytesIO(b"a"), 1)
        s3_b.put_object("side", "who", io.BytesIO(b"b"), 1)
        assert s3_a.get_object("side", "who").read() == b"a"
        assert s3_b.get_object("side", "who").read() == b"b"
        asyncio.run(asyncio.wait_for(_kafka_metadata(ep_a.kafka_bootstrap), 15))
        asyncio.run(asyncio.wait_for(_kafka_metadata(info_b["kafka"]), 15))
        assert asyncpg_port(ep_a) == ports_a.postgres

        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        assert wait_gone(tree_b) == []
        # Stack A is untouched by B's death.
        assert s3_a.get_object("side", "who").read() == b"a"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        stack_a.stop()


def asyncpg_port(ep: Endpoints) -> int:
    async def query() -> int:
        conn = await asyncpg.connect(ep.database_url("postgres", driver="postgresql"))
        try:
            return int(await conn.fetchval("SELECT current_setting('port')"))
        finally:
            await conn.close()

    return asyncio.run(query())


async def _kafka_metadata(bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    await producer.stop()
