"""Evidence upload throughput: the teacher's presigned multipart path against a direct S3 client.

One run starts the whole platform (embedded PostgreSQL, Kafka-protocol broker, S3 and the five
services) in a temporary directory, publishes a credential that takes video evidence with no
duration limit, writes a real MP4 (PyAV, mpeg4, random-noise frames: incompressible, so the size is
what was asked for and the server's type and duration checks run on a genuine video), and then
measures, ``--repeat`` times each:

(a) presigned: what a browser does. ``POST /submissions/{id}/evidence`` declares the file and
    returns presigned part URLs; the parts are PUT concurrently (``--threads``) straight to the
    object store; ``POST .../complete`` makes the service seal and verify what landed (size, sha256,
    type and duration; a single PUT is first copied inside the store, a completed multipart upload
    is sealed where it is). Reported as the transfer alone and as the total (declare + transfer +
    complete).
(b) direct: ``minio.Minio.fput_object`` of the same file into the same bucket under another key,
    with the part size the service chose and as many parallel part uploads as (a) has threads; then
    one server-side ``copy_object`` of it, timed on its own: what sealing a single PUT costs per byte,
    and what copying a multipart upload of this size would cost.

The part upload loop is written here, not taken from ``PlatformClient``, so that it measures exactly
the requests a browser sends. The platform is stopped at the end whatever happens.

    python benchmarks/upload_throughput.py [--size-mb 200] [--repeat 3] [--threads 4]

Writes ``benchmarks/results/upload_throughput.json`` (stable key order, one run per file, meant to
be committed next to the change it measures).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform as host
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import av
import httpx
from harness import running_platform
from minio import Minio
from minio.commonconfig import CopySource
from rich.console import Console
from rich.table import Table

from microcred.devstack.client import Actor, ApiError, PlatformClient
from microcred.devstack.platform import EVIDENCE_BUCKET, SERVICES, Platform, PlatformPorts
from microcred.runtime.auth import Role

RESULTS = Path(__file__).parent / "results" / "upload_throughput.json"
REQUIREMENT = "classroom-video"
CONTENT_TYPE = "video/mp4"
MB = 1_000_000  # throughput is reported in decimal megabytes per second, as network tools do
console = Console()


# ---------------------------------------------------------------------------------------------------
# The evidence file


def write_noise_video(path: Path, size_bytes: int, width: int = 640, height: int = 480, fps: int = 30) -> float:
    """An MP4 of at least ``size_bytes``: mpeg4, every frame a key frame of random noise.

    Noise defeats compression (about 0.5 MB per 640x480 frame at the lowest quantiser), so the file
    grows at encoder speed (about 200 MB/s on one core here). A pool of eight noise frames is cycled:
    with every frame intra-coded, repetition saves nothing. Returns the video's duration in seconds.
    """
    pool = []
    for _ in range(8):
        frame = av.VideoFrame(width, height, "yuv420p")
        for plane in frame.planes:
            plane.update(os.urandom(plane.buffer_size))
        pool.append(frame)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = 400_000_000
        stream.codec_context.gop_size = 1
        stream.codec_context.qmin, stream.codec_context.qmax = 1, 2
        written = frames = 0
        while written < size_bytes:
            frame = pool[frames % len(pool)]
            frame.pts = frames
            frames += 1
            for packet in stream.encode(frame):
                written += packet.size
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return float(frames / Fraction(fps))


def sha256_of(path: Path, chunk: int = 8 * 1024 * 1024) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------------
# The platform side


def credential_definition(unique: str) -> dict[str, Any]:
    levels = [{"key": "not-yet", "name": "Not Yet", "points": 0}, {"key": "proficient", "name": "Proficient", "points": 1}]
    return {
        "name": f"Upload benchmark {unique}",
        "description": "A credential that exists to receive one large classroom video.",
        "competency": "Records a whole lesson.",
        "key_method": "Record the lesson and upload it.",
        "method_components": ["Record", "Upload"],
        "research": [{"title": "Not applicable: a benchmark fixture"}],
        # Video with no duration and no size limit: the upload is bounded only by the service's maximum.
        "submission_criteria": {"items": [
            {"key": REQUIREMENT, "kind": "video", "title": "Video of the lesson",
             "accepted_content_types": [CONTENT_TYPE]},
        ]},
        "rubric": {
            "criteria": [{"key": "lesson", "name": "The lesson", "levels": levels}],
            "passing_rule": {"kind": "all_criteria_at_least", "level": "proficient"},
        },
    }


def publish_video_credential(client: PlatformClient) -> str:
    """Issuer, admin and operator the way the end-to-end tests' ``World`` makes them."""
    unique = uuid.uuid4().hex[:8]
    operator = client.operator(f"op-{unique}")
    issuer_id = client.create_issuer(operator, f"Benchmark issuer {unique}", url="https://example.org")
    admin = client.actor(f"admin-{unique}", Role.ISSUER_ADMIN, organization=issuer_id)
    draft = client.draft_credential(admin, issuer_id, credential_definition(unique))
    client.approve_and_publish(admin, operator, draft["credential_id"], 1)
    return str(draft["credential_id"])


# ---------------------------------------------------------------------------------------------------
# Measurements


@dataclass
class PresignedRun:
    declare_s: float
    transfer_s: float
    complete_s: float
    mode: str
    part_size: int | None
    part_count: int

    @property
    def total_s(self) -> float:
        return self.declare_s + self.transfer_s + self.complete_s


def _put(http: httpx.Client, url: str, path: Path, offset: int, length: int,
         headers: dict[str, str] | None = None) -> None:
    with path.open("rb") as handle:
        handle.seek(offset)
        body = handle.read(length)
    response = http.put(url, content=body, headers=headers)
    if response.status_code not in (200, 204):
        raise ApiError(response, 200)


def presigned_upload(client: PlatformClient, http: httpx.Client, teacher: Actor, submission_id: str, path: Path,
                     size: int, sha256: str, threads: int) -> PresignedRun:
    started = time.perf_counter()
    slot = client.call("POST", "submission", f"/submissions/{submission_id}/evidence", teacher, expect=201, json={
        "requirement_key": REQUIREMENT, "filename": path.name, "content_type": CONTENT_TYPE,
        "size_bytes": size, "sha256": sha256,
    })
    declared = time.perf_counter()
    upload = slot["upload"]
    if upload["mode"] == "single":
        _put(http, upload["url"], path, 0, size, {"Content-Type": CONTENT_TYPE})
        part_size, part_count = None, 1
    else:
        part_size, part_count = int(upload["part_size"]), int(upload["part_count"])
        assert len(upload["parts"]) == part_count, "the service listed fewer part URLs than parts"

        def send(part: dict[str, Any]) -> None:
            offset = (int(part["part_number"]) - 1) * part_size
            _put(http, part["url"], path, offset, min(part_size, size - offset))

        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(send, upload["parts"]))  # list() re-raises the first failed part
    transferred = time.perf_counter()
    # No ETags go back: the service asks the store which parts it holds (ListParts) and assembles those.
    client.call("POST", "submission", f"/submissions/{submission_id}/evidence/{slot['evidence_id']}/complete",
                teacher)
    completed = time.perf_counter()
    return PresignedRun(declared - started, transferred - declared, completed - transferred, upload["mode"],
                        part_size, part_count)


def direct_upload(store: Minio, path: Path, part_size: int, threads: int) -> tuple[float, float]:
    """Seconds for the upload, then for one server-side copy of the uploaded object."""
    key = f"benchmark/direct-{uuid.uuid4().hex}.mp4"
    started = time.perf_counter()
    store.fput_object(EVIDENCE_BUCKET, key, str(path), content_type=CONTENT_TYPE, part_size=part_size,
                      num_parallel_uploads=threads)
    uploaded = time.perf_counter()
    store.copy_object(EVIDENCE_BUCKET, f"{key}.copy", CopySource(EVIDENCE_BUCKET, key))
    copied = time.perf_counter()
    for removed in (key, f"{key}.copy"):
        store.remove_object(EVIDENCE_BUCKET, removed)
    return uploaded - started, copied - uploaded


def minio_client(endpoint: str, access_key: str, secret_key: str) -> Minio:
    parts = urlsplit(endpoint)
    return Minio(parts.netloc, access_key=access_key, secret_key=secret_key, secure=parts.scheme == "https",
                 region="us-east-1")


# ---------------------------------------------------------------------------------------------------
# Report


@dataclass
class Series:
    seconds: list[float] = field(default_factory=list)

    def rates(self, size: int) -> list[float]:
        return [size / MB / s for s in self.seconds]

    def summary(self, size: int) -> dict[str, Any]:
        rates = self.rates(size)
        return {
            "seconds": [round(s, 3) for s in self.seconds],
            "mb_per_s": {"median": round(statistics.median(rates), 1), "min": round(min(rates), 1),
                         "max": round(max(rates), 1)},
        }


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in _read_lines("/proc/cpuinfo")
                if line.startswith("model name")), host.processor() or "unknown")
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": host.python_version(),
        "os": host.platform(),
        "pyav": av.__version__,
    }


def _read_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def print_table(report: dict[str, Any]) -> None:
    table = Table(title=f"Evidence upload, {report['config']['file_mb']:.0f} MB file, "
                        f"{report['config']['repeat']} runs, {report['config']['threads']} threads")
    for column in ("path", "median MB/s", "min MB/s", "max MB/s", "median s"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for name, label in (("presigned_transfer", "presigned: part PUTs only"),
                        ("presigned_total", "presigned: declare + PUTs + complete"),
                        ("direct", "direct: minio fput_object"),
                        ("server_side_copy", "server-side copy_object")):
        row = report["results"][name]
        rates = row["mb_per_s"]
        table.add_row(label, f"{rates['median']:.1f}", f"{rates['min']:.1f}", f"{rates['max']:.1f}",
                      f"{statistics.median(row['seconds']):.2f}")
    console.print(table)
    ratios = report["ratios"]
    console.print(f"presigned/direct (median MB/s): transfer {ratios['presigned_transfer_over_direct']:.2f}, "
                  f"total {ratios['presigned_total_over_direct']:.2f}; "
                  f"server-side sealing and verification (complete) median "
                  f"{report['results']['complete_median_s']:.2f} s; a server-side copy of the file "
                  f"{statistics.median(report['results']['server_side_copy']['seconds']):.2f} s")


# ---------------------------------------------------------------------------------------------------
# Run


def timed(what: str, action: Callable[[], Any]) -> tuple[Any, float]:
    with console.status(what):
        started = time.perf_counter()
        result = action()
    return result, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size-mb", type=int, default=200, help="size of the video file in MB (default 200)")
    parser.add_argument("--repeat", type=int, default=3, help="uploads per path (default 3)")
    parser.add_argument("--threads", type=int, default=4, help="concurrent part uploads (default 4)")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"where the JSON goes (default {RESULTS})")
    args = parser.parse_args(argv)
    if args.size_mb < 1 or args.repeat < 1 or args.threads < 1:
        parser.error("--size-mb, --repeat and --threads must be at least 1")

    with tempfile.TemporaryDirectory(prefix="microcred-bench-") as scratch:
        work = Path(scratch)
        video = work / "lesson.mp4"
        duration, generate_s = timed(f"writing a {args.size_mb} MB noise video",
                                     lambda: write_noise_video(video, args.size_mb * MB))
        size = video.stat().st_size
        sha256, sha_s = timed("hashing it", lambda: sha256_of(video))
        console.print(f"video: {size / MB:.1f} MB, {duration:.1f} s, written in {generate_s:.1f} s, "
                      f"sha256 in {sha_s:.2f} s")

        with running_platform(Platform(work / "platform", PlatformPorts.free()), console) as platform:
            console.print(f"platform up (data in {platform.data_dir})")
            client = PlatformClient({s: platform.url(s) for s in SERVICES}, platform.tokens, timeout=600.0)
            # One pooled client shared by the part threads, like a browser's connection pool.
            parts_http = httpx.Client(timeout=600.0, limits=httpx.Limits(max_connections=args.threads))
            try:
                credential_id = publish_video_credential(client)
                presigned: list[PresignedRun] = []
                for run in range(args.repeat):
                    # A fresh teacher and submission each time: every run declares, sends and verifies anew.
                    teacher = client.actor(f"teacher-{uuid.uuid4().hex[:8]}", Role.TEACHER, states=("TN",))
                    submission_id = str(client.start_submission(teacher, credential_id)["submission_id"])
                    result, _ = timed(f"presigned upload {run + 1}/{args.repeat}", partial(
                        presigned_upload, client, parts_http, teacher, submission_id, video, size, sha256, args.threads))
                    presigned.append(result)
                    console.print(f"presigned {run + 1}: {result.mode}, {result.part_count} parts, transfer "
                                  f"{result.transfer_s:.2f} s, complete {result.complete_s:.2f} s")

                part_size = presigned[0].part_size or size
                e = platform.endpoints
                store = minio_client(e.s3_endpoint, e.s3_access_key, e.s3_secret_key)
                direct, copy = Series(), Series()
                for run in range(args.repeat):
                    (upload_s, copy_s), _ = timed(f"direct upload {run + 1}/{args.repeat}",
                                                  lambda: direct_upload(store, video, max(part_size, 5 * 1024 * 1024),
                                                                        args.threads))
                    direct.seconds.append(upload_s)
                    copy.seconds.append(copy_s)
                    console.print(f"direct {run + 1}: {upload_s:.2f} s, server-side copy {copy_s:.2f} s")
            finally:
                parts_http.close()
                client.close()

    transfer = Series([r.transfer_s for r in presigned])
    total = Series([r.total_s for r in presigned])
    direct_median = statistics.median(direct.rates(size))
    report: dict[str, Any] = {
        "benchmark": "upload_throughput",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "object_store": "SeaweedFS S3 gateway (embedded dev stack), same host",
        "config": {
            "file_bytes": size, "file_mb": round(size / MB, 1), "video_seconds": round(duration, 2),
            "codec": "mpeg4 noise, all key frames", "repeat": args.repeat, "threads": args.threads,
            "upload_mode": presigned[0].mode, "part_size": presigned[0].part_size,
            "part_count": presigned[0].part_count,
        },
        "results": {
            "presigned_transfer": transfer.summary(size),
            "presigned_total": total.summary(size),
            "presigned_runs": [
                {k: round(v, 3) if isinstance(v, float) else v for k, v in (asdict(r) | {"total_s": r.total_s}).items()}
                for r in presigned
            ],
            "direct": direct.summary(size),
            "server_side_copy": copy.summary(size),
            "complete_median_s": round(statistics.median(r.complete_s for r in presigned), 3),
            "declare_median_s": round(statistics.median(r.declare_s for r in presigned), 3),
            "client_sha256_s": round(sha_s, 3),
        },
        "ratios": {
            "presigned_transfer_over_direct": round(statistics.median(transfer.rates(size)) / direct_median, 3),
            "presigned_total_over_direct": round(statistics.median(total.rates(size)) / direct_median, 3),
        },
    }
    print_table(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    console.print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
