"""Benchmark: reviewer assignments per second with a large registry and a deep open-review table.

Starts the embedded PostgreSQL (via the dev stack), migrates the review schema, seeds --reviewers
reviewers (with districts and schools, so conflict-of-interest checks have work to do) and
--open-reviews assigned reviews spread over them, then feeds --submissions synthetic
``submission.submitted`` events through review's real routing use case (``open_review``: inbox claim,
routing lock, eligibility, least-loaded choice, outbox row, commit), one at a time as the consumer
does. Kafka is left out on purpose: this measures the routing decision and its transaction, the part
that grows with the tables. Writes benchmarks/results/review_routing.json.

    .venv/bin/python benchmarks/review_routing.py [--reviewers 10000] [--open-reviews 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as machine
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from microcred.devstack.infra import EmbeddedStack, Ports
from microcred.events import EvidenceRef, SubmissionSubmitted
from microcred.review.adapters.orm import messaging
from microcred.review.domain.model import BusinessDays, ReviewStatus
from microcred.review.service_layer import handlers
from microcred.review.service_layer.unit_of_work import ReviewUnitOfWork

RUBRIC = {
    "criteria": [{"key": "a", "name": "A", "levels": [
        {"key": "not-yet", "name": "Not Yet", "points": 0}, {"key": "proficient", "name": "Proficient", "points": 1}]}],
    "passing_rule": {"kind": "all_criteria_at_least", "level": "proficient"},
}


async def seed(dsn: str, credential_id: uuid.UUID, reviewers: int, open_reviews: int, rng: random.Random) -> float:
    started = time.perf_counter()
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "INSERT INTO credential_versions (credential_id, version, name, rubric) VALUES ($1, 1, 'Bench', $2)",
            credential_id, json.dumps(RUBRIC))
        # Capacity leaves room: 100,000 open over 10,000 reviewers is 10 each, against 25 allowed.
        await connection.copy_records_to_table(
            "reviewers",
            columns=["reviewer_id", "credential_ids", "max_open", "active", "district", "school"],
            records=[(f"reviewer-{i:05d}", None, 25, True, f"district-{rng.randrange(200)}",
                      f"school-{rng.randrange(2000)}") for i in range(reviewers)],
        )
        now = datetime.now(UTC)
        evidence = json.dumps([])
        rows = [
            (uuid.uuid4(), uuid.uuid4(), 1, credential_id, 1, f"teacher-{i}", json.dumps(["TN"]), evidence,
             ReviewStatus.ASSIGNED.value, f"reviewer-{rng.randrange(reviewers):05d}", now, now, now + timedelta(days=20))
            for i in range(open_reviews)
        ]
        await connection.copy_records_to_table(
            "reviews",
            columns=["review_id", "submission_id", "attempt", "credential_id", "credential_version", "teacher_id",
                     "states", "evidence", "status", "reviewer_id", "created_at", "assigned_at", "due_at"],
            records=rows,
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return time.perf_counter() - started


def submitted(credential_id: uuid.UUID, rng: random.Random) -> SubmissionSubmitted:
    return SubmissionSubmitted(
        correlation_id=uuid.uuid4(), states=("TN",), submission_id=uuid.uuid4(), attempt=1,
        credential_id=credential_id, credential_version=1, teacher_id=f"bench-teacher-{uuid.uuid4().hex[:8]}",
        teacher_district=f"district-{rng.randrange(200)}", teacher_school=f"school-{rng.randrange(2000)}",
        evidence=(EvidenceRef(evidence_id=uuid.uuid4(), requirement_key="video", object_key="k", filename="v.mp4",
                              content_type="video/mp4", size_bytes=1, sha256="0" * 64),),
    )


async def route(url: str, credential_id: uuid.UUID, submissions: int, rng: random.Random) -> list[float]:
    engine = create_async_engine(url, pool_size=2)
    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    latencies = []
    try:
        for _ in range(submissions):
            event = submitted(credential_id, rng)
            started = time.perf_counter()
            await handlers.open_review(event, ReviewUnitOfWork(session_factory, messaging, "review"), BusinessDays(14))
            latencies.append(time.perf_counter() - started)
        async with engine.connect() as connection:
            assigned = await connection.exec_driver_sql(
                "SELECT count(*) FROM reviews WHERE teacher_id LIKE 'bench-teacher-%' AND status = 'assigned'")
            count = assigned.scalar_one()
        if count != submissions:
            raise SystemExit(f"only {count} of {submissions} benchmark submissions were assigned")
    finally:
        await engine.dispose()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviewers", type=int, default=10_000)
    parser.add_argument("--open-reviews", type=int, default=100_000)
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "review_routing.json")
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="microcred-routing-") as tmp:
        stack = EmbeddedStack(Path(tmp) / "stack", Ports.free(), databases=("review",))
        endpoints = stack.start()
        try:
            url = endpoints.database_url("review")
            env = {**os.environ, "MICROCRED_DATABASE_URL": url}
            subprocess.run([sys.executable, "-m", "microcred.review", "migrate"], env=env, check=True,
                           capture_output=True)
            credential_id = uuid.uuid4()
            seconds = asyncio.run(seed(endpoints.database_url("review", driver="postgresql"), credential_id,
                                       args.reviewers, args.open_reviews, rng))
            print(f"seeded {args.reviewers} reviewers and {args.open_reviews} open reviews in {seconds:.1f}s")
            latencies = asyncio.run(route(url, credential_id, args.submissions, rng))
        finally:
            stack.stop()
    total = sum(latencies)
    ordered = sorted(latencies)
    report = {
        "benchmark": "review_routing",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "python": machine.python_version(), "os": machine.platform()},
        "config": {"reviewers": args.reviewers, "open_reviews": args.open_reviews, "submissions": args.submissions},
        "results": {
            "assignments_per_second": round(len(latencies) / total, 1),
            "latency_ms": {
                "p50": round(statistics.median(latencies) * 1000, 2),
                "p95": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 2),
                "p99": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 2),
                "max": round(ordered[-1] * 1000, 2),
            },
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["results"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
