"""The catalog's API against its real database: validation, workflow, authorization, search, import."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from microcred.devstack.client import ApiError, PlatformClient
from microcred.devstack.seed import load_catalog
from microcred.runtime.auth import Role

pytestmark = pytest.mark.stack

LEVELS = [{"key": "not-yet", "name": "Not Yet", "points": 0}, {"key": "proficient", "name": "Proficient", "points": 1}]


def definition(name: str, **overrides: Any) -> dict[str, Any]:
    return {
        "name": name, "description": "d", "competency": "Uses hinge questions to adjust instruction.",
        "key_method": "k", "method_components": ["m"], "research": [{"title": "r"}],
        "submission_criteria": {"items": [{"key": "video", "kind": "video", "title": "Video"}]},
        "rubric": {"criteria": [{"key": "a", "name": "A", "levels": LEVELS}],
                   "passing_rule": {"kind": "all_criteria_at_least", "level": "proficient"}},
        **overrides,
    }


def refusal(client: PlatformClient, world: Any, body: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ApiError) as refused:
        client.draft_credential(world.admin, world.issuer_id, body)
    assert refused.value.status_code == 422
    assert isinstance(refused.value.body, dict)
    return refused.value.body


def test_invalid_rubrics_are_refused_with_errors_that_say_what_is_wrong(client: PlatformClient, world: Any) -> None:
    no_levels = definition("No levels")
    no_levels["rubric"]["criteria"][0]["levels"] = []
    body = refusal(client, world, no_levels)
    assert body["error"] == "invalid_request" and "levels" in str(body["details"])

    unordered = definition("Unordered")
    unordered["rubric"]["criteria"][0]["levels"] = list(reversed(LEVELS))
    assert "must ascend" in str(refusal(client, world, unordered)["details"])

    missing = definition("Missing criterion")
    missing["rubric"]["passing_rule"]["criteria"] = ["a", "reflection"]
    assert "refers to criterion 'reflection'" in str(refusal(client, world, missing)["details"])


def test_publication_needs_review_and_approval_and_every_step_is_recorded(client: PlatformClient, world: Any) -> None:
    draft = client.draft_credential(world.admin, world.issuer_id, definition(f"Workflow {world.unique}"))
    base = f"/credentials/{draft['credential_id']}/versions/1"
    with pytest.raises(ApiError) as early:
        client.call("POST", "catalog", f"{base}/publish", world.admin)
    assert early.value.status_code == 409 and early.value.body["error"] == "not_approved"

    client.call("POST", "catalog", f"{base}/submit-for-review", world.admin, json={})
    with pytest.raises(ApiError) as no_reason:
        client.call("POST", "catalog", f"{base}/request-changes", world.operator, json={})
    assert no_reason.value.status_code == 422
    client.call("POST", "catalog", f"{base}/request-changes", world.operator,
                json={"reason": "Cite the research behind the key method."})
    edited = definition(f"Workflow {world.unique}", research=[{"title": "Wiliam (2011), Embedded Formative Assessment"}])
    client.call("PUT", "catalog", base, world.admin, json=edited)
    client.call("POST", "catalog", f"{base}/submit-for-review", world.admin, json={})
    with pytest.raises(ApiError) as partial:
        client.call("POST", "catalog", f"{base}/approve", world.operator,
                    json={"checks": {"research_base": True, "evidence_requirements": True, "rubric": False}})
    assert partial.value.status_code in (409, 422)
    client.call("POST", "catalog", f"{base}/approve", world.operator,
                json={"checks": {"research_base": True, "evidence_requirements": True, "rubric": True}})
    client.call("POST", "catalog", f"{base}/publish", world.admin)
    with pytest.raises(ApiError) as immutable:
        client.call("PUT", "catalog", base, world.admin, json=edited)
    assert immutable.value.status_code == 409

    history = client.call("GET", "catalog", f"{base}/history", world.admin)
    steps = [(h["from"], h["to"]) for h in history]
    assert steps[-5:] == [("draft", "in_review"), ("in_review", "changes_requested"),
                          ("changes_requested", "in_review"), ("in_review", "approved"), ("approved", "published")]
    assert history[-4]["reason"] == "Cite the research behind the key method."
    assert history[-4]["actor"] == world.operator.subject


def test_only_the_issuers_own_admins_edit_its_credentials(client: PlatformClient, world: Any) -> None:
    draft = client.draft_credential(world.admin, world.issuer_id, definition(f"Guarded {world.unique}"))
    outsider = client.actor("admin-elsewhere", Role.ISSUER_ADMIN, organization=str(uuid.uuid4()))
    with pytest.raises(ApiError) as refused:
        client.call("PUT", "catalog", f"/credentials/{draft['credential_id']}/versions/1", outsider,
                    json=definition("Hijacked"))
    # A draft is its issuer's business: to anyone else it does not exist.
    assert (refused.value.status_code, refused.value.body["error"]) == (404, "credential_not_found")
    teacher = client.actor("t-1", Role.TEACHER)
    with pytest.raises(ApiError) as teacher_refused:
        client.draft_credential(teacher, world.issuer_id, definition("Nope"))
    assert teacher_refused.value.status_code == 403


def test_search_filters_and_paginates_with_a_stable_order(client: PlatformClient, world: Any) -> None:
    tag = world.unique
    for index, subject in enumerate(["math", "math", "science"]):
        body = definition(f"Searchable {tag} {index}", subjects=[subject], grade_bands=["6-8"],
                          alignments=[{"target_name": "Danielson 3d", "target_framework": "Danielson", "target_code": "3d"}]
                          if subject == "science" else [])
        draft = client.draft_credential(world.admin, world.issuer_id, body)
        client.approve_and_publish(world.admin, world.operator, draft["credential_id"], 1)
    search = {"issuer_id": world.issuer_id}
    maths = client.call("GET", "catalog", "/credentials", world.operator, params=search | {"subject": "math"})
    assert maths["total"] == 2 and [c["name"] for c in maths["items"]] == [f"Searchable {tag} 0", f"Searchable {tag} 1"]
    aligned = client.call("GET", "catalog", "/credentials", world.operator, params=search | {"alignment": "Danielson"})
    assert [c["name"] for c in aligned["items"]] == [f"Searchable {tag} 2"]
    page = client.call("GET", "catalog", "/credentials", world.operator, params=search | {"limit": 1, "offset": 1})
    assert page["total"] == 3 and [c["name"] for c in page["items"]] == [f"Searchable {tag} 1"]
    text = client.call("GET", "catalog", "/credentials", world.operator, params=search | {"q": "hinge questions"})
    assert text["total"] == 3
    drafts = client.call("GET", "catalog", "/credentials", world.operator, params=search | {"status": "draft"})
    assert drafts["total"] == 0


def test_a_bad_catalog_file_is_refused_with_located_errors_and_changes_nothing(client: PlatformClient) -> None:
    operator = client.operator()
    document = copy.deepcopy(load_catalog())
    marker = f"Should Not Exist {uuid.uuid4().hex[:6]}"
    document["issuers"].append({"key": "new-issuer", "name": marker})
    document["credentials"][1]["rubric"]["criteria"][0]["levels"] = []
    document["stacks"][0]["credentials"].append("no-such-credential")
    with pytest.raises(ApiError) as refused:
        client.import_catalog(operator, document)
    assert refused.value.status_code == 422 and refused.value.body["error"] == "invalid_catalog"
    locations = [d["location"] for d in refused.value.body["details"]]
    assert any(loc.startswith("credentials[1]") and "levels" in loc for loc in locations), locations
    assert any(loc.startswith("stacks[0]") for loc in locations), locations
    issuers = client.call("GET", "catalog", "/issuers", operator)
    assert marker not in {i["name"] for i in issuers}
