"""Who sees what of recognitions, over the five processes: a teacher reads their progress toward a district's
eligibility program ("2 of 3 for ...") with the missing credential by name, then holds it; the district admin
finds them in the eligibility list and another district's admin does not; the state admin filters by district;
the incentive report owes the capped amount and lists the ledger entries behind it, as JSON and as CSV.

Programs are files licensure reads at start: this test writes two (an eligibility and an incentive of a district
only this test's teacher is in) and restarts licensure, as tests/e2e/test_recognitions.py does.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from microcred.devstack.client import PlatformClient, wait_for
from microcred.devstack.platform import Platform
from microcred.runtime.auth import Role

pytestmark = pytest.mark.stack



def program_file(program_id: str, district: str, version: dict[str, Any]) -> str:
    return json.dumps({
        "program_id": program_id, "state": "TN", "district": district, "agency": "e2e test district",
        "confirm_with_agency": True, "note": "written by tests/e2e/test_recognition_views.py",
        "versions": [{"version": 1, "effective_from": "2024-07-01", **version}],
    })


def test_teacher_progress_district_eligibility_list_and_incentive_report(
    platform: Platform, client: PlatformClient, world: Any, licensure_reads: Path,
) -> None:
    three = [world.publish(f"Lab Safety Practice {n}") for n in range(1, 4)]
    stack = client.call("POST", "catalog", "/stacks", world.admin, expect=201, json={
        "issuer_id": world.issuer_id, "name": f"Lab Science Set {world.unique}",
        "description": "The three credentials of the lab science position.", "credential_ids": three})
    district = f"Views County {world.unique}"
    eligible_id, incentive_id = f"TN-E2E-LAB-{world.unique}", f"TN-E2E-INCENTIVE-{world.unique}"
    (licensure_reads / "eligibility.json").write_text(program_file(eligible_id, district, {
        "name": "E2E hard-to-staff lab science",
        "outcome": {"kind": "eligibility", "label": "Lab science (hard to staff)",
                    "role": {"title": "Science teacher", "subject": "Science", "grade_band": "6-12"}},
        "rule": {"kind": "eligibility", "stacks": [stack["stack_id"]]}}))
    (licensure_reads / "incentive.json").write_text(program_file(incentive_id, district, {
        "name": "E2E lab science incentive",
        "outcome": {"kind": "incentive", "label": "Lab incentive", "amount": "100", "unit": "USD"},
        "rule": {"kind": "incentive_per_credential", "from_set": {"stacks": [stack["stack_id"]]},
                 "cap_per_year": "250"}}))
    platform.stop_service("licensure")
    platform.restart_service("licensure")

    teacher = world.teacher("TN", district=district)
    (license,) = client.call("GET", "licensure", "/licenses", teacher)
    for credential_id in three[:2]:
        world.earn(teacher, credential_id)

    def mine() -> dict[str, Any]:
        found = client.call("GET", "licensure", "/recognitions/me", teacher)
        return {p["program_id"]: p for p in found["programs"]}

    wait_for(lambda: mine()[eligible_id]["progress"]["text"] == "2 of 3 for Lab science (hard to staff)",
             "the teacher's progress after two credentials", timeout=60)
    progress = mine()[eligible_id]
    assert progress["held"] == [] and len(progress["counted"]) == 2
    (missing,) = progress["missing"]
    assert missing == {"credential_id": three[2], "name": f"Lab Safety Practice 3 {world.unique}"}
    assert progress["summary"].startswith("Holding every credential of a stack of 3 credentials")

    world.earn(teacher, three[2])
    wait_for(lambda: [h["status"] for h in mine()[eligible_id]["held"]] == ["granted"], "the eligibility", timeout=60)
    assert mine()[incentive_id]["progress"]["text"].startswith("250 of 250 USD")

    ours = client.actor(f"views-district-{world.unique}", Role.DISTRICT_ADMIN, states=("TN",), district=district)
    theirs = client.actor(f"other-district-{world.unique}", Role.DISTRICT_ADMIN, states=("TN",), district="Knox County")
    state = client.actor(f"views-state-{world.unique}", Role.STATE_ADMIN, states=("TN",))
    holders = f"/states/TN/recognitions/{eligible_id}/holders"
    response = client.attempt("GET", "licensure", holders, ours)
    assert response.status_code == 200 and response.headers["X-Total-Count"] == "1"
    (holder,) = response.json()
    assert (holder["teacher_id"], holder["districts"], holder["status"]) == (teacher.subject, [district], "granted")
    assert holder["licenses"] == [{"license_number": license["license_number"], "district": district}]
    assert client.call("GET", "licensure", holders, theirs) == []
    # A district admin reads their own district whatever district they ask for.
    assert [h["teacher_id"] for h in client.call("GET", "licensure", holders, ours,
                                                 params={"district": "Knox County"})] == [teacher.subject]
    assert [h["teacher_id"] for h in client.call("GET", "licensure", holders, state,
                                                 params={"district": district})] == [teacher.subject]

    year = str(datetime.now(UTC).year)
    (line,) = client.call("GET", "licensure", "/states/TN/reports/incentives", ours, params={"year": year})
    assert (line["teacher_id"], line["program_id"], line["owed"], line["status"]) == (
        teacher.subject, incentive_id, "250", "granted")
    assert sum(Decimal(e["amount"]) for e in line["entries"]) == Decimal(250) and len(line["entries"]) == 3
    download = client.attempt("GET", "licensure", "/states/TN/reports/incentives.csv", state,
                              params={"year": year, "district": district})
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [r["row"] for r in rows] == ["line", "entry", "entry", "entry"]
    assert {r["entry_id"] for r in rows[1:]} == {e["entry_id"] for e in line["entries"]}

    unknown = client.attempt("GET", "licensure", "/states/TN/recognitions/NO-SUCH-PROGRAM/holders", state)
    assert unknown.status_code == 404 and unknown.json()["error"] == "program_not_found"
    assert client.attempt("GET", "licensure", "/states/TN/reports/incentives", state,
                          params={"year": "1066"}).status_code == 422
    assert client.attempt("GET", "licensure", "/states/tn/reports/incentives", state,
                          params={"year": year}).status_code == 422
