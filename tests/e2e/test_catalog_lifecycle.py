"""Catalog versions, retirement and pathways, seen end to end through every service that reads them."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from microcred.devstack.client import ApiError, PlatformClient, read_events, wait_for
from microcred.devstack.platform import Platform
from microcred.devstack.seed import load_catalog

pytestmark = pytest.mark.stack

V1_LEVELS = {"overview": "proficient", "adjustment": "proficient"}


def rubric_v2(base: dict[str, Any]) -> dict[str, Any]:
    rubric = copy.deepcopy(base)
    rubric["criteria"].append({"key": "student-impact", "name": "Impact on students", "levels": [
        {"key": "not-yet", "name": "Not Yet", "points": 0}, {"key": "proficient", "name": "Proficient", "points": 1}]})
    return rubric


def test_submission_started_on_version_1_is_scored_against_version_1_after_version_2_is_published(
    platform: Platform, client: PlatformClient, world: Any
) -> None:
    credential_id = world.publish("Versioned Formative Assessment")
    reviewer, teacher = world.reviewer(credential_id), world.teacher()
    submission_id = world.submit_evidence(teacher, credential_id)
    review = client.assigned_review(reviewer, submission_id, attempt=1)

    v1 = client.call("GET", "catalog", f"/credentials/{credential_id}", world.admin)
    v2 = client.call("POST", "catalog", f"/credentials/{credential_id}/versions", world.admin, expect=201)
    assert v2["version"] == 2 and v2["status"] == "draft"
    definition = {k: v1[k] for k in ("name", "description", "competency", "key_method", "method_components",
                                     "research", "submission_criteria")}
    client.call("PUT", "catalog", f"/credentials/{credential_id}/versions/2", world.admin,
                json=definition | {"rubric": rubric_v2(v1["rubric"])})
    client.approve_and_publish(world.admin, world.operator, credential_id, 2)

    newcomer = world.teacher()
    wait_for(lambda: client.start_submission(newcomer, credential_id)["credential_version"] == 2,
             "new drafts to bind to version 2")
    assert client.submission(teacher, submission_id)["credential_version"] == 1

    seen_by_reviewer = client.call("GET", "review", f"/reviews/{review['review_id']}", reviewer)
    assert [c["key"] for c in seen_by_reviewer["rubric"]["criteria"]] == ["overview", "adjustment"]
    with pytest.raises(ApiError) as refused:  # version 2's rubric does not apply to a version 1 submission
        client.score(reviewer, review["review_id"], V1_LEVELS | {"student-impact": "proficient"})
    assert refused.value.status_code == 422
    client.score(reviewer, review["review_id"], V1_LEVELS)
    awarded = client.wait_status(teacher, submission_id, "awarded")
    document = client.call("GET", "award", f"/awards/{awarded['award_id']}")["credential"]
    assert len(document["credentialSubject"]["result"]) == 2


def test_retired_version_takes_no_new_submissions_but_started_ones_finish(
    platform: Platform, client: PlatformClient, world: Any
) -> None:
    credential_id = world.publish("Retiring Credential")
    reviewer, teacher = world.reviewer(credential_id), world.teacher()
    submission_id = world.submit_evidence(teacher, credential_id)
    review = client.assigned_review(reviewer, submission_id, attempt=1)

    with pytest.raises(ApiError):
        client.call("POST", "catalog", f"/credentials/{credential_id}/versions/1/retire", world.admin, json={})
    client.call("POST", "catalog", f"/credentials/{credential_id}/versions/1/retire", world.admin,
                json={"reason": "superseded by the state's new framework"})
    (retired,) = read_events(platform.endpoints.kafka_bootstrap, "catalog.credential-retired",
                             lambda e: e["credential_id"] == credential_id, 1)
    assert retired.value["reason"] == "superseded by the state's new framework"

    latecomer = world.teacher()

    def refused() -> bool:
        response = client.attempt("POST", "submission", "/submissions", latecomer, json={"credential_id": credential_id})
        return response.status_code == 409 and response.json()["error"] == "credential_retired"

    wait_for(refused, "submission to refuse new drafts on the retired version")
    client.score(reviewer, review["review_id"], V1_LEVELS)
    client.wait_status(teacher, submission_id, "awarded")


def test_pathway_prerequisite_blocks_a_start_until_the_teacher_has_earned_it(
    platform: Platform, client: PlatformClient, world: Any
) -> None:
    first = world.publish("Formative Assessment Foundations")
    second = world.publish("Formative Assessment Leadership")
    reviewer = world.reviewer(first, second)
    pathway = client.call("POST", "catalog", "/pathways", world.admin, expect=201, json={
        "issuer_id": world.issuer_id, "name": f"Mentor teacher pathway {world.unique}",
        "description": "Foundations first, then leading colleagues.",
        "steps": [{"credential_id": first, "prerequisites": []},
                  {"credential_id": second, "prerequisites": [first]}]})
    assert pathway["steps"][1]["prerequisites"] == [first]
    teacher = world.teacher()

    def blocked() -> dict[str, Any] | None:
        # Until submission has read the second credential's publication it answers
        # credential_not_found (also a 422): wait for the pathway's refusal itself.
        response = client.attempt("POST", "submission", "/submissions", teacher, json={"credential_id": second})
        body = response.json()
        return body if response.status_code == 422 and body["error"] != "credential_not_found" else None

    refusal = wait_for(blocked, "submission to learn the pathway")
    assert refusal["error"] == "prerequisites_not_met" and refusal["details"] == [first]

    submission_id = world.submit_evidence(teacher, first)
    review = client.assigned_review(reviewer, submission_id, attempt=1)
    client.score(reviewer, review["review_id"], V1_LEVELS)
    client.wait_status(teacher, submission_id, "awarded")
    started = client.start_submission(teacher, second)
    assert started["status"] == "draft"


def test_sample_catalog_loads_into_the_local_stack_and_a_second_import_changes_nothing(
    platform: Platform, client: PlatformClient
) -> None:
    operator = client.operator(f"op-{uuid.uuid4().hex[:6]}")
    document = load_catalog()
    client.import_catalog(operator, document)
    again = client.import_catalog(operator, document)
    assert again["credentials_published"] == 0 and again["new_versions"] == 0
    assert again["unchanged"] == len(document["credentials"])

    names = {c["name"] for c in document["credentials"]}
    listed = client.call("GET", "catalog", "/credentials", operator, params={"limit": 200})
    assert names <= {c["name"] for c in listed["items"]}
    stacks = client.call("GET", "catalog", "/stacks", operator)
    assert {s["name"] for s in document["stacks"]} <= {s["name"] for s in stacks}
    pathways = client.call("GET", "catalog", "/pathways", operator)
    assert {p["name"] for p in document.get("pathways", [])} <= {p["name"] for p in pathways}

    found = client.call("GET", "catalog", "/credentials", operator, params={"q": "formative assessment lesson"})
    assert any("Formative Assessment" in c["name"] for c in found["items"])
