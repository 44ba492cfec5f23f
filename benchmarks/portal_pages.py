"""Benchmark: each portal page's server time, p95, on the local stack, with 10,000 open reviews in the review queue.

Issue 20's target: every page under 150 ms p95 of server time, the reviewer's queue included with 10,000 open
reviews in the database. Server time is what the portal itself reports in ``Server-Timing: app;dur=`` (the
whole request inside the portal, its calls to the services included), so the client's own overhead stays out.

1. A throwaway platform with the portal (``Platform(portal=True)``), as ``make up`` runs it.
2. Through the services' public APIs: an issuer publishes a credential, a teacher submits a real video and a
   reflection, a reviewer certified for that credential is assigned the review. So every page measured shows
   real data reached the way a person reaches it.
3. **10,000 more open reviews** assigned to that reviewer are written straight into the review service's own
   ``reviews`` table with COPY, the way ``benchmarks/review_routing.py`` seeds its 100,000. Through events each
   would be a submission, an upload and a routing decision (the pipeline runs about 15 a second here, so 11
   minutes); the page reads the same rows either way, and the rows are what it is measured against. They
   are all on one reviewer: the worst queue a reviewer could have, and the platform's 10,000 open reviews all
   in the page's index range.
4. The people sign in to the portal through its development OpenID provider (the same code-with-PKCE flow a
   browser follows), and each page of ``PAGES`` is requested ``--requests`` times in turn after a warm-up.

The pages are a table of (person, path): add a line to measure a new page. A path may name what step 2
created: ``{credential}``, ``{submission}``, ``{review}``.

    .venv/bin/python benchmarks/portal_pages.py [--requests 200] [--open-reviews 10000]

Writes ``benchmarks/results/portal_pages.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as host
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from harness import running_platform
from rich.console import Console
from rich.table import Table

from microcred.devstack.client import PlatformClient
from microcred.devstack.platform import SERVICES, Platform, PlatformPorts, embedded_infrastructure
from microcred.devstack.samples import QUICK_SERVICE_ENV, credential_definition, tiny_video
from microcred.runtime.auth import Role
from microcred.runtime.dev_oidc import Person, write_people

RESULTS = Path(__file__).parent / "results"
TARGET_MS = 150.0
console = Console()

# Who is signed in, and which page: one line per page measured.
PAGES: list[tuple[str, str]] = [
    ("teacher", "/catalog"),
    ("teacher", "/catalog?q=formative"),
    ("teacher", "/credentials/{credential}"),
    ("teacher", "/applications"),
    ("teacher", "/applications/{submission}"),
    ("teacher", "/earned"),
    ("teacher", "/licenses"),
    ("reviewer", "/reviews"),
    ("reviewer", "/reviews?sort=-assigned"),
    ("reviewer", "/reviews?due=overdue&page=100"),
    ("reviewer", "/reviews?page=401"),
    ("reviewer", "/reviews/{review}"),
    ("issuer", "/authoring"),
    ("issuer", "/authoring/new"),
    ("issuer", "/authoring/{credential}/versions/1"),
    ("operator", "/operations"),
    ("operator", "/operations/approvals"),
    ("operator", "/operations/reviewers"),
    ("operator", "/operations/reviewers/{reviewer}"),
    ("operator", "/operations/waiting"),
    ("operator", "/operations/awards"),
    ("operator", "/operations/catalog"),
    ("state", "/agency"),
    ("state", "/agency/approvals"),
    ("state", "/agency/reports/credits"),
    ("state", "/agency/reports/competencies"),
    ("state", "/agency/webhooks"),
    ("district", "/agency/approvals"),
    ("district", "/agency/reports/credits"),
]


def person(key: str, subject: str, role: Role, **claims: Any) -> Person:
    return Person(key=key, label=f"Benchmark {key}", subject=subject, roles=[role], name=f"Benchmark {key}", **claims)


def seed_through_apis(client: PlatformClient, unique: str) -> dict[str, str]:
    operator = client.operator(f"bench-op-{unique}")
    issuer_id = client.create_issuer(operator, f"Bench issuer {unique}", url="https://example.org")
    admin = client.actor(f"bench-admin-{unique}", Role.ISSUER_ADMIN, organization=issuer_id)
    draft = client.draft_credential(admin, issuer_id, credential_definition(f"Formative assessment {unique}"))
    client.approve_and_publish(admin, operator, draft["credential_id"], 1)
    credential_id = str(draft["credential_id"])
    reviewer = client.actor(f"bench-reviewer-{unique}", Role.REVIEWER)
    client.register_reviewer(operator, reviewer.subject, [credential_id], max_open=1000)  # the API's most; the seeded rows go past it
    teacher = client.actor(f"bench-teacher-{unique}", Role.TEACHER, states=("TN",))
    submission_id = str(client.start_submission(teacher, credential_id)["submission_id"])
    client.upload(teacher, submission_id, "classroom-video", tiny_video(), "video/mp4", "lesson.mp4")
    client.upload(teacher, submission_id, "reflection", b"The exit tickets showed the gap.", "text/plain",
                  "notes.txt")
    client.answer_prompts(teacher, submission_id, {("reflection", 0): "Three students needed a re-teach."})
    client.submit(teacher, submission_id)
    review = client.assigned_review(reviewer, submission_id, attempt=1)
    return {"credential": credential_id, "submission": submission_id, "review": str(review["review_id"]),
            "teacher": teacher.subject, "reviewer": reviewer.subject, "issuer_id": issuer_id,
            "admin": admin.subject, "operator": operator.subject}


async def seed_open_reviews(dsn: str, reviewer: str, credential_id: str, count: int) -> float:
    """``count`` open reviews assigned to ``reviewer``, due over the next four weeks and some already late."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    rows = []
    for n in range(count):
        assigned = now - timedelta(minutes=n % 5000)
        rows.append((uuid.uuid4(), uuid.uuid4(), 1, uuid.UUID(credential_id), 1, f"seeded-teacher-{n}", '["TN"]', "[]",
                     "assigned", reviewer, assigned - timedelta(minutes=1), assigned,
                     now + timedelta(hours=(n * 37) % 700 - 48), "primary", "[]"))
    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table(
            "reviews", columns=["review_id", "submission_id", "attempt", "credential_id", "credential_version",
                                "teacher_id", "states", "evidence", "status", "reviewer_id", "created_at",
                                "assigned_at", "due_at", "role", "excluded_reviewers"], records=rows)
        # What autovacuum does within a minute of 10,000 inserts (its insert threshold is 1,000 rows): statistics,
        # and the visibility map that lets the queue's counts be index-only scans.
        await connection.execute("VACUUM ANALYZE reviews")
    finally:
        await connection.close()
    return time.perf_counter() - started


def signed_in(portal: str, key: str) -> httpx.Client:
    """A client holding the portal session of the person ``key``, through the development provider's form."""
    session = httpx.Client(base_url=portal, follow_redirects=True, timeout=30)
    chooser = session.get("/sign-in", params={"next": "/"})
    request_id = re.search(r'name="request" value="([^"]+)"', chooser.text)
    assert request_id, f"no sign-in form at {chooser.url}"
    done = session.post(str(chooser.url.copy_with(query=None)), data={"request": request_id.group(1), "person": key})
    assert done.status_code == 200 and "Sign out" in done.text, f"{key} did not sign in: {done.status_code}"
    return session


def server_ms(response: httpx.Response) -> float:
    found = re.search(r"app;dur=([\d.]+)", response.headers.get("Server-Timing", ""))
    assert found, "the portal sent no Server-Timing"
    return float(found.group(1))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(sessions: dict[str, httpx.Client], paths: list[tuple[str, str]], requests: int,
            warmup: int) -> list[dict[str, Any]]:
    """Every page once per round, ``requests`` rounds: a burst of load from elsewhere on the machine then falls on
    every page alike instead of on whichever page was being measured at the time."""
    for _ in range(warmup):
        for who, path in paths:
            sessions[who].get(path)
    server: list[list[float]] = [[] for _ in paths]
    wall: list[list[float]] = [[] for _ in paths]
    size = [0 for _ in paths]
    for _ in range(requests):
        for n, (who, path) in enumerate(paths):
            started = time.perf_counter()
            response = sessions[who].get(path)
            wall[n].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, f"{path}: {response.status_code}"
            server[n].append(server_ms(response))
            size[n] = len(response.content)
    return [{"requests": requests, "server_ms": {"p50": round(statistics.median(server[n]), 1),
                                                 "p95": round(percentile(server[n], 0.95), 1),
                                                 "max": round(max(server[n]), 1)},
             "wall_ms_p95": round(percentile(wall[n], 0.95), 1), "bytes": size[n]} for n in range(len(paths))]


def run(options: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="portal-pages-"))
    ports = PlatformPorts.free()
    infra = embedded_infrastructure(data_dir, ports.infra, data_dir / "logs")
    platform = Platform(data_dir, ports, infra=infra, service_env=QUICK_SERVICE_ENV, portal=True)
    unique = uuid.uuid4().hex[:6]
    with running_platform(platform, console):
        client = PlatformClient({s: platform.url(s) for s in SERVICES}, platform.tokens)
        try:
            with console.status("publishing, submitting and assigning through the APIs"):
                ids = seed_through_apis(client, unique)
        finally:
            client.close()
        write_people(platform.tokens.directory, [
            person("teacher", ids["teacher"], Role.TEACHER, states=["TN"]),
            person("reviewer", ids["reviewer"], Role.REVIEWER),
            person("issuer", ids["admin"], Role.ISSUER_ADMIN, org=ids["issuer_id"]),
            person("operator", ids["operator"], Role.OPERATOR),
            person("state", f"bench-state-{unique}", Role.STATE_ADMIN, states=["TN"]),
            person("district", f"bench-district-{unique}", Role.DISTRICT_ADMIN, states=["AR"],
                   district="Pulaski County"),
        ])
        seconds = asyncio.run(seed_open_reviews(platform.endpoints.database_url("review", driver="postgresql"),
                                                ids["reviewer"], ids["credential"], options.open_reviews))
        console.print(f"seeded {options.open_reviews} open reviews in {seconds:.1f} s")
        sessions = {key: signed_in(platform.url("portal"), key) for key in {p for p, _ in PAGES}}
        load_before = os.getloadavg()
        try:
            paths = [(who, template.format(**ids)) for who, template in PAGES]
            measured = measure(sessions, paths, options.requests, options.warmup)
        finally:
            for session in sessions.values():
                session.close()
        load_after = os.getloadavg()
    pages = [{"person": who, "page": template, **result} for (who, template), result in zip(PAGES, measured,
                                                                                          strict=True)]
    return {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"python": host.python_version(), "os": host.platform(), "cores": os.cpu_count(),
                        # Other work on the machine during the run (1-minute load average): the figures are only
                        # as quiet as the machine was.
                        "load_average_before": round(load_before[0], 2), "load_average_after": round(load_after[0], 2)},
            "parameters": {"requests": options.requests, "warmup": options.warmup,
                           "open_reviews_seeded": options.open_reviews, "target_ms_p95": TARGET_MS},
            "pages": pages}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--open-reviews", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=RESULTS / "portal_pages.json")
    options = parser.parse_args()
    report = run(options)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(report, indent=2) + "\n")
    table = Table("person", "page", "p50 ms", "p95 ms", "max ms", "under target")
    for page in report["pages"]:
        ms = page["server_ms"]
        table.add_row(page["person"], page["page"], str(ms["p50"]), str(ms["p95"]), str(ms["max"]),
                      "yes" if ms["p95"] < TARGET_MS else "NO")
    console.print(table)
    return 0 if all(p["server_ms"]["p95"] < TARGET_MS for p in report["pages"]) else 1


if __name__ == "__main__":
    sys.exit(main())
