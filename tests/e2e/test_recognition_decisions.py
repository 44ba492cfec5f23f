"""A district's decision on a recognition over the five processes: a Pulaski County teacher earns a salary step
that needs the district's approval (licensure.recognition-granted, pending), the district admin finds it in
the pending list and approves it, and licensure.recognition-granted says so again, pending no longer.

Programs are files licensure reads at start (see test_recognitions.py): this test's program counts only the
credential it publishes, so the Pulaski County teachers of other tests earn nothing under it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from microcred.devstack.client import PlatformClient, wait_for
from microcred.devstack.platform import Platform
from microcred.devstack.topics import read_until
from microcred.runtime.auth import Role

pytestmark = pytest.mark.stack



def step_program(program_id: str, credential_id: str) -> dict[str, Any]:
    return {
        "program_id": program_id, "state": "AR", "district": "Pulaski County", "agency": "e2e test district",
        "confirm_with_agency": True, "note": "written by tests/e2e/test_recognition_decisions.py",
        "versions": [{
            "version": 1, "name": "E2E lane step", "effective_from": "2024-01-01",
            "outcome": {"kind": "salary_step", "label": "E2E lane step", "amount": "750", "unit": "USD"},
            "rule": {"kind": "count_from_set", "from_set": {"credentials": [credential_id]}, "count": 1},
            "requires_district_approval": True,
        }],
    }


def test_the_district_admin_approves_a_pending_salary_step(
    platform: Platform, client: PlatformClient, world: Any, licensure_reads: Path,
) -> None:
    credential_id = world.publish("Lane Step Practice")
    program_id = f"AR-E2E-STEP-{world.unique}"
    (licensure_reads / "e2e-step.json").write_text(json.dumps(step_program(program_id, credential_id)))
    platform.stop_service("licensure")
    platform.restart_service("licensure")

    teacher = world.teacher("AR", district="Pulaski County")
    award = world.earn(teacher, credential_id)
    bootstrap = platform.endpoints.kafka_bootstrap

    def of_program(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in records if r.get("program_id") == program_id]

    (pending,) = of_program(read_until(bootstrap, "licensure.recognition-granted", lambda rs: bool(of_program(rs))))
    assert pending["pending"] is True and pending["key"] == "step-1" and pending["district"] == "Pulaski County"

    pulaski = client.actor(f"pulaski-{world.unique}", Role.DISTRICT_ADMIN, states=("AR",), district="Pulaski County")
    benton = client.actor(f"benton-{world.unique}", Role.DISTRICT_ADMIN, states=("AR",), district="Benton County")

    def listed(who: Any) -> list[dict[str, Any]]:
        found = client.call("GET", "licensure", "/states/AR/pending-recognitions", who, params={"limit": "200"})
        return [p for p in found if p["teacher_id"] == teacher.subject and p["program_id"] == program_id]

    (item,) = wait_for(lambda: listed(pulaski), "the pending step in Pulaski County's list")
    assert (item["outcome_label"], item["amount"], item["unit"], item["program_version"]) == \
        ("E2E lane step", "750", "USD", 1)
    assert item["awards"] == [{"award_id": award["award_id"], "credential_name": item["awards"][0]["credential_name"]}]
    assert "Lane Step Practice" in item["awards"][0]["credential_name"] and len(item["license_numbers"]) == 1
    assert listed(benton) == []  # held to their own district

    decision = {"teacher_id": teacher.subject, "program_id": program_id, "key": "step-1"}
    refused = client.attempt("POST", "licensure", "/recognitions/decisions", teacher, json=decision | {"approve": True})
    assert refused.status_code == 403, refused.text  # the teacher sees it, but does not decide it
    hidden = client.attempt("POST", "licensure", "/recognitions/decisions", benton, json=decision | {"approve": True})
    assert hidden.status_code == 404, hidden.text
    unexplained = client.attempt("POST", "licensure", "/recognitions/decisions", pulaski,
                                 json=decision | {"approve": False, "reason": " "})
    assert unexplained.status_code == 422, unexplained.text

    approved = client.call("POST", "licensure", "/recognitions/decisions", pulaski,
                           json=decision | {"approve": True, "reason": "hired into the lane"})
    assert approved["decision"] == "approve" and approved["amount"] == "750"
    again = client.attempt("POST", "licensure", "/recognitions/decisions", pulaski, json=decision | {"approve": True})
    assert again.status_code == 409 and again.json()["error"] == "not_pending"

    def final(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in of_program(records) if r["pending"] is False]

    (granted,) = final(read_until(bootstrap, "licensure.recognition-granted", lambda rs: bool(final(rs))))
    assert granted["key"] == "step-1" and "hired into the lane" in granted["reason"]
    assert granted["teacher_id"] == teacher.subject and Decimal(granted["amount"]) == 750
    assert listed(pulaski) == []
