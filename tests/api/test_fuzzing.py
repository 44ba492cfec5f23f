"""Schemathesis against every service of a running platform, as an operator and as a teacher.

Every phase runs (the documents' examples, the coverage of each schema's edges, property-based fuzzing,
and stateful sequences along the documents' links), with every check: no server error, every status,
media type, header and body as its operation documents it, schema-valid data accepted and schema-violating
data refused (with the statuses ``schemathesis.toml`` explains). The assertion is the report: no failure
and no error, for any service or caller.

Bounded for CI by ``MICROCRED_FUZZ_SECONDS`` per service and caller (default 12: about two and a half
minutes in all). Before a release run it longer, e.g. ``MICROCRED_FUZZ_SECONDS=600 .venv/bin/python -m pytest
tests/api/test_fuzzing.py`` (see the README). Each run's figures go to ``tests/api/fuzzing-report.json``
(ignored by git) for the record.

The platform is its own: fuzzing registers reviewers certified for everything and other things a shared
platform's tests would trip over.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from microcred.devstack.client import Actor, PlatformClient
from microcred.devstack.platform import SERVICES, Platform, PlatformPorts
from microcred.devstack.providers import infrastructure_for_tests
from microcred.devstack.samples import QUICK_SERVICE_ENV, credential_definition, tiny_video
from microcred.runtime.auth import Role

pytestmark = pytest.mark.stack

HERE = Path(__file__).parent
SECONDS = int(os.environ.get("MICROCRED_FUZZ_SECONDS", "12"))
REPORT = HERE / "fuzzing-report.json"
CALLERS = ("operator", "teacher")
# Schemathesis failure codes (`st explain CODE`): server errors, and answers other than the document says.
SERVER_ERRORS = {"ST101", "ST102"}
SCHEMA_VIOLATIONS = {"ST103", "ST104", "ST105", "ST106", "ST107", "ST108", "ST109", "ST110"}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, dict[str, Actor]]]:
    data_dir = tmp_path_factory.mktemp("fuzzing")
    ports = PlatformPorts.free()
    with Platform(data_dir, ports, infra=infrastructure_for_tests(data_dir, ports),
                  service_env=QUICK_SERVICE_ENV) as platform:
        yield platform, _seed(platform)


def _seed(platform: Platform) -> dict[str, Actor]:
    """Something of everything, so fuzzing reaches past the 404 of an empty platform."""
    client = PlatformClient({s: platform.url(s) for s in SERVICES}, platform.tokens)
    try:
        operator = client.operator("fuzz-operator")
        issuer_id = client.create_issuer(operator, "Fuzzing Issuer")
        admin = client.actor("fuzz-admin", Role.ISSUER_ADMIN, organization=issuer_id)
        draft = client.draft_credential(admin, issuer_id, credential_definition("Fuzzed practice"))
        client.approve_and_publish(admin, operator, draft["credential_id"], 1)
        client.register_reviewer(operator, "fuzz-reviewer", [draft["credential_id"]])
        teacher = client.actor("fuzz-teacher", Role.TEACHER, states=("TN",), email="fuzz-teacher@schools.example")
        client.register_license(teacher, "TN")
        submission_id = client.start_submission(teacher, draft["credential_id"])["submission_id"]
        client.upload(teacher, submission_id, "classroom-video", tiny_video(), "video/mp4", "lesson.mp4")
        client.call("POST", "licensure", "/webhooks", operator, expect=201,
                    json={"state": "TN", "url": f"http://127.0.0.1:9/{uuid.uuid4().hex}"})
    finally:
        client.close()
    return {"operator": operator, "teacher": teacher}


def _fuzz(platform: Platform, service: str, caller: Actor, directory: Path) -> tuple[dict[str, Any], str]:
    directory.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(HERE / "schemathesis.toml"),
        "run", f"{platform.url(service)}/openapi.json",
        "--header", f"Authorization: {caller.headers['Authorization']}",
        "--phases", "examples,coverage,fuzzing,stateful", "--checks", "all",
        # One worker: with two, hypothesis describing its strategies (ast.parse in threads) sometimes fails
        # inside CPython 3.11 ("AST constructor recursion depth mismatch"), an error of the tool, not the API.
        "--max-time", str(SECONDS), "--workers", "1", "--request-timeout", "30",
        "--generation-database", "none", "--no-color",
        "--report", "json", "--report-json-path", str(directory / "report.json"),
    ]
    # Run where its crash cache (.schemathesis/) cannot land in the checkout.
    done = subprocess.run(command, capture_output=True, text=True, timeout=SECONDS * 4 + 300, check=False,
                          cwd=directory)
    report_path = directory / "report.json"
    assert report_path.exists(), f"schemathesis wrote no report:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return json.loads(report_path.read_text()), done.stdout


def test_no_server_error_and_every_answer_as_documented_in_any_service_for_any_caller(
    fuzzed: tuple[Platform, dict[str, Actor]], tmp_path: Path,
) -> None:
    platform, callers = fuzzed
    figures: list[dict[str, Any]] = []
    problems: list[str] = []
    for service in SERVICES:
        for name in CALLERS:
            report, output = _fuzz(platform, service, callers[name], tmp_path / f"{service}-{name}")
            failures = {f["code"]: f["count"] for f in report["failures"]}
            figures.append({
                "service": service, "caller": name, "seconds": round(report["running_time"], 1),
                "operations": report["operations"]["tested"], "cases": report["test_cases"]["generated"],
                "server_errors": sum(n for code, n in failures.items() if code in SERVER_ERRORS),
                "schema_violations": sum(n for code, n in failures.items() if code in SCHEMA_VIOLATIONS),
                "other_failures": sum(n for code, n in failures.items()
                                      if code not in SERVER_ERRORS | SCHEMA_VIOLATIONS),
                "errors": len(report["errors"]),
                "phases": {phase: result["status"] for phase, result in report["phases"].items()},
            })
            if report["failures"] or report["errors"]:
                problems.append(f"--- {service} as {name}: {report['failures']} {report['errors']}\n"
                                + output[min(output.find(s) % (len(output) + 1) for s in ("= FAILURES =", "= ERRORS =")):][:6000])
    REPORT.write_text(json.dumps({"seconds_per_run": SECONDS, "runs": figures}, indent=2) + "\n")
    print(json.dumps(figures, indent=1))
    assert sum(f["cases"] for f in figures) > 0
    assert not problems, "\n".join(problems)
