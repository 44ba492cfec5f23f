"""What one object-store request costs the store and its client, and what sealing a small evidence item costs.

Issue 22's fifth round: SeaweedFS, the development stand-in for S3, was about an eighth of the machine's CPU per
submission, and sealing a single PUT sent it four requests (HEAD, CopyObject, GET, DELETE) for a 3 KB file. This
starts the embedded stack, and measures with an object of ``--bytes`` (3,437 by default: the pipeline's short video):

- each request on its own, ``--requests`` times: PUT, HEAD, GET, CopyObject and DELETE sent with minio, the
  store's CPU (its processes' user and system time) and this process's per request; then the copies deleted
  by DeleteObjects, 100 keys a request, per key;
- sealing as the submission service does it (``sealing.seal`` then ``sealing.remove_upload``, the service's own
  store and media probe, whose queued removals go in one request as the store closes), ``--items`` items, half
  the pipeline's video and half a line of text, uploaded first and then sealed, the store's and this process's
  CPU per item, over ``--rounds`` rounds.

On this machine (2026-12-07, quiet, two runs): PUT 2.1-2.4 ms of SeaweedFS CPU, HEAD 0.7-0.9, GET 1.2-1.4,
CopyObject 3.7-4.0, DELETE 0.8-0.9; the client about 0.6 ms for each but the copy, 1.2. Sealing a small item went
from 2.31-2.46 ms of the client's CPU and 5.73-6.43 ms of SeaweedFS's (HEAD, copy, GET of the copy, DELETE; this
script run from the checkout before the change) to 1.69-1.90 and 3.90-4.37 (GET, PUT of the bytes read, DELETE),
one checkout after the other. Deleting by DeleteObjects, 100 keys a request (2026-12-07 evening, three runs):
0.43-0.70 ms of SeaweedFS per key and 0.02-0.03 of the client's, against 0.60-0.90 and 0.44-0.61 for a DELETE.

    python benchmarks/object_store_costs.py [--bytes 3437] [--requests 400] [--items 300] [--rounds 3]

Prints two tables; writes nothing but a scratch stack directory, removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
from minio import Minio
from minio.commonconfig import CopySource
from minio.deleteobjects import DeleteObject

from microcred.devstack.infra import EmbeddedStack, Endpoints, Ports
from microcred.devstack.samples import tiny_video
from microcred.submission.adapters.evidence_store import EvidenceStore
from microcred.submission.adapters.media_probe import PyAVMediaProbe
from microcred.submission.domain.model import Evidence, evidence_object_key
from microcred.submission.service_layer import sealing
from microcred.submission.settings import SubmissionSettings

BUCKET = "evidence"
TEXT = b"The exit tickets showed most students had it."
BATCH = 100  # keys per DeleteObjects request
SETTLE_S = 1.0  # the store finishes what a request set off (its filer's metadata writes) before CPU is read


class StoreCpu:
    """CPU seconds (user and system) of the store's processes."""

    def __init__(self, stack: EmbeddedStack) -> None:
        self._processes = [psutil.Process(pid) for name, pid in stack.pids.items() if name.startswith("seaweedfs")]

    def seconds(self) -> float:
        return sum(sum(process.cpu_times()[:2]) for process in self._processes)


def measured(store: StoreCpu, count: int, run: Callable[[], None]) -> tuple[float, float]:
    """The store's and this process's CPU ms per unit of ``count``, for ``run``."""
    time.sleep(SETTLE_S)
    store_before, client_before = store.seconds(), time.process_time()
    run()
    client = time.process_time() - client_before
    time.sleep(SETTLE_S)
    return (store.seconds() - store_before) / count * 1000, client / count * 1000


def minio_client(endpoints: Endpoints) -> Minio:
    return Minio(endpoints.s3_endpoint.split("://", 1)[1], endpoints.s3_access_key, endpoints.s3_secret_key,
                 secure=False, region="us-east-1")


def request_costs(endpoints: Endpoints, store: StoreCpu, size: int, requests: int) -> list[tuple[str, float, float]]:
    client = minio_client(endpoints)
    body = os.urandom(size)
    keys = [f"costs/{uuid.uuid4()}" for _ in range(requests)]

    def each(request: Callable[[str], object]) -> Callable[[], None]:
        def run() -> None:
            for key in keys:
                request(key)
        return run

    steps: list[tuple[str, Callable[[str], object]]] = [
        ("PUT", lambda key: client.put_object(BUCKET, key, io.BytesIO(body), size)),
        ("HEAD", lambda key: client.stat_object(BUCKET, key)),
        ("GET", lambda key: client.get_object(BUCKET, key).read()),
        ("CopyObject", lambda key: client.copy_object(BUCKET, f"{key}.copy", CopySource(BUCKET, key))),
        ("DELETE", lambda key: client.remove_object(BUCKET, key)),
    ]
    figures = [(name, *measured(store, requests, each(request))) for name, request in steps]

    def in_batches() -> None:
        for start in range(0, len(keys), BATCH):
            refused = list(client.remove_objects(BUCKET, [DeleteObject(f"{key}.copy") for key in keys[start:start + BATCH]]))
            assert not refused, refused

    figures.append((f"DeleteObjects, per key ({BATCH} a request)", *measured(store, requests, in_batches)))
    return figures


def sealing_costs(endpoints: Endpoints, store: StoreCpu, items: int, rounds: int) -> list[tuple[float, float]]:
    """Per item, as complete_evidence seals a verified single PUT: seal, then remove the upload."""
    config = SubmissionSettings(s3_endpoint=endpoints.s3_endpoint, s3_access_key=endpoints.s3_access_key,
                                s3_secret_key=endpoints.s3_secret_key, s3_bucket=BUCKET)
    evidence_store = EvidenceStore(config)
    probe = PyAVMediaProbe(evidence_store.read_range, max_read_bytes=config.probe_max_read_bytes)
    browser = minio_client(endpoints)  # stands in for the browser's PUTs, made before the measured part
    kinds = [(tiny_video(), "video/mp4", "lesson.mp4"), (TEXT, "text/plain", "reflection.txt")]
    figures = []
    for _ in range(rounds):
        uploaded = []
        for number in range(items):
            content, content_type, filename = kinds[number % len(kinds)]
            submission_id, evidence_id = uuid.uuid4(), uuid.uuid4()
            key = evidence_object_key(submission_id, evidence_id, filename)
            browser.put_object(BUCKET, key, io.BytesIO(content), len(content), content_type=content_type)
            uploaded.append((submission_id, Evidence(
                evidence_id=evidence_id, requirement_key="item", filename=filename, content_type=content_type,
                size_bytes=len(content), sha256=hashlib.sha256(content).hexdigest(), object_key=key)))

        async def seal_all(uploaded: list[tuple[uuid.UUID, Evidence]] = uploaded) -> None:
            try:
                for submission_id, evidence in uploaded:
                    facts = await sealing.seal(evidence_store, probe, submission_id, evidence)
                    assert facts.sha256 == evidence.sha256, "the sealed bytes are not the uploaded ones"
                    sealing.remove_upload(evidence_store, evidence)
            finally:
                await evidence_store.close()

        figures.append(measured(store, items, lambda: asyncio.run(seal_all())))
    return figures


def main(size: int, requests: int, items: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="object-store-costs-") as scratch:
        stack = EmbeddedStack(Path(scratch), Ports.free(), buckets=[BUCKET], broker_log="memory")
        endpoints = stack.start()
        try:
            store = StoreCpu(stack)
            by_request = request_costs(endpoints, store, size, requests)
            by_item = sealing_costs(endpoints, store, items, rounds)
        finally:
            stack.stop()
    print(f"| request ({size} bytes) | store CPU ms | client CPU ms |\n|---|---|---|")
    for name, store_ms, client_ms in by_request:
        print(f"| {name} | {store_ms:.2f} | {client_ms:.2f} |")
    print("\n| sealing a small item, round | store CPU ms per item | client CPU ms per item |\n|---|---|---|")
    for number, (store_ms, client_ms) in enumerate(by_item, 1):
        print(f"| {number} | {store_ms:.2f} | {client_ms:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bytes", type=int, default=3437, help="size of the object each request moves")
    parser.add_argument("--requests", type=int, default=400, help="requests of each kind")
    parser.add_argument("--items", type=int, default=300, help="items sealed per round")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    main(options.bytes, options.requests, options.items, options.rounds)
