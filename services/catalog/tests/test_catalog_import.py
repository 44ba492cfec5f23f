"""Catalog import: the whole document is checked first; a bad one is refused with located problems
and changes nothing; a good one is applied at once, and importing it again changes nothing."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from catalog_fakes import FakeUnitOfWork

from microcred.catalog.domain.model import VersionStatus
from microcred.catalog.service_layer.catalog_exchange import export_catalog, import_catalog
from microcred.events import CredentialPublished, PathwayChanged, StackChanged
from microcred.runtime.auth import Principal
from microcred.runtime.errors import DomainError


async def refused(document: dict[str, Any], uow: FakeUnitOfWork, operator: Principal) -> list[dict[str, str]]:
    with pytest.raises(DomainError) as error:
        await import_catalog(document, operator, uow)
    assert error.value.code == "invalid_catalog"
    assert uow.state.issuers == {} and uow.state.credentials == {} and uow.published == []
    details: list[dict[str, str]] = error.value.details  # type: ignore[assignment]
    return details


def credential_index(document: dict[str, Any], key: str) -> int:
    return next(i for i, c in enumerate(document["credentials"]) if c["key"] == key)


async def test_the_sample_catalog_imports_whole_with_its_stacks_and_pathways(
    seed_document: dict[str, Any], uow: FakeUnitOfWork, operator: Principal
) -> None:
    summary = await import_catalog(seed_document, operator, uow)
    assert summary.issuers_created == len(seed_document["issuers"])
    assert summary.credentials_published == len(seed_document["credentials"])
    assert summary.stacks == len(seed_document["stacks"])
    assert summary.pathways == len(seed_document["pathways"]) >= 1
    assert uow.commits == 1
    assert sum(isinstance(e, CredentialPublished) for e in uow.published) == len(seed_document["credentials"])
    assert any(isinstance(e, PathwayChanged) and any(s.prerequisites for s in e.steps) for e in uow.published)
    version = next(iter(uow.state.credentials.values())).latest()
    assert version.status is VersionStatus.PUBLISHED
    assert {(t.actor, t.reason) for t in version.transitions} == {("operator-1", "imported")}


async def test_importing_the_same_catalog_again_changes_and_publishes_nothing(
    seed_document: dict[str, Any], uow: FakeUnitOfWork, operator: Principal
) -> None:
    await import_catalog(seed_document, operator, uow)
    before = len(uow.published)
    summary = await import_catalog(seed_document, operator, uow)
    assert summary.model_dump() == {"issuers_created": 0, "credentials_published": 0, "new_versions": 0,
                                    "unchanged": len(seed_document["credentials"]), "stacks": 0, "pathways": 0}
    assert len(uow.published) == before


async def test_a_changed_definition_is_published_as_a_new_version(
    seed_document: dict[str, Any], uow: FakeUnitOfWork, operator: Principal
) -> None:
    await import_catalog(seed_document, operator, uow)
    changed = copy.deepcopy(seed_document)
    changed["credentials"][0]["description"] = "A clearer description."
    summary = await import_catalog(changed, operator, uow)
    assert (summary.new_versions, summary.unchanged) == (1, len(seed_document["credentials"]) - 1)
    event = uow.published[-1]
    assert isinstance(event, CredentialPublished) and event.version == 2
    assert event.description == "A clearer description."


async def test_an_exported_catalog_imports_into_an_empty_one(
    seed_document: dict[str, Any], uow: FakeUnitOfWork, operator: Principal
) -> None:
    await import_catalog(seed_document, operator, uow)
    exported = await export_catalog(uow)
    fresh = FakeUnitOfWork()
    summary = await import_catalog(exported, operator, fresh)
    assert summary.credentials_published == len(seed_document["credentials"])
    assert summary.stacks == len(seed_document["stacks"]) and summary.pathways == len(seed_document["pathways"])
    assert (await import_catalog(exported, operator, uow)).unchanged == len(seed_document["credentials"])


async def test_a_rubric_criterion_without_levels_is_located(
    seed_document: dict[str, Any], uow: FakeUnitOfWork, operator: Principal
) -> None:
    index = credential_index(seed_document, "ct-working-with-data")
    seed_document["credentials"][index]["rubric"]["criteria"][0]["levels"] = []
    [problem] = await refused(seed_document, uow, operator)
    assert problem["location"] == f"credentials[{index}] (key 'ct-working-with-data').rubric.criteria[0].levels"


async def test_unordered_rubric_levels_are_located(
    seed_document: dict[str, Any], uow: FakeUnitOfWork, operator: Principal
) -> None:
    levels = seed_document["credentials"][2]["rubric"]["criteria"][1]["levels"]
    levels.reverse()
    [problem] = await refused(seed_document, uow, operator)
    key = seed_document["credentials"][2]["key"]
    assert problem["location"] == f"credentials[2] (key '{key}').rubric.criteria[1]"
    assert "ascend" in problem["message"]


async def test_a_passing_rule_naming_a_missing_criterion_is_located(
    seed_document: dict[str, Any], uow: FakeUnitOfWork, operator: Principal
) -> None:
    seed_document["credentials"][0]["rubric"]["passing_rule"]["criteria"] = ["overview", "no-such-criterion"]
    [problem] = await refused(seed_document, uow, operator)
    assert problem["location"].startswith("credentials[0] (key 'modifying-instruction-formative-assessment').rubric")
    assert "'no-such-criterion'" in problem["message"]


async def test_an_unknown_issuer_key_is_located(
    seed_document: dict[str, Any], uow: FakeUnitOfWork, operator: Principal
) -> None:
    seed_document["credentials"][4]["issuer"] = "no-such-issuer"
    problems = await refused(seed_document, uow, operator)
    assert {"location": f"credentials[4] (key '{seed_document['credentials'][4]['key']}').issuer",
            "message": "unknown issuer key 'no-such-issuer'"} in problems


async def test_an_unknown_credential_key_in_a_stack_is_located(
    seed_document: dict[str, Any], uow: FakeUnitOfWork, operator: Principal
) -> None:
    seed_document["stacks"][1]["credentials"].append("ct-no-such-practice")
    position = len(seed_document["stacks"][1]["credentials"]) - 1
    [problem] = await refused(seed_document, uow, operator)
    assert problem == {
        "location": f"stacks[1] (key 'computational-thinking-practices').credentials[{position}]",
        "message": "unknown credential key 'ct-no-such-practice' of issuer 'digital-promise'",
    }


async def test_every_problem_is_reported_at_once(
    seed_document: dict[str, Any], uow: FakeUnitOfWork, operator: Principal
) -> None:
    seed_document["credentials"][0]["rubric"]["criteria"][0]["levels"] = []
    seed_document["credentials"][1]["issuer"] = "nobody"
    seed_document["stacks"][0]["credentials"].append("missing")
    seed_document["pathways"][0]["steps"].reverse()
    problems = await refused(seed_document, uow, operator)
    assert len(problems) >= 4
    assert any(p["location"].startswith("pathways[0]") and "earlier step" in p["message"] for p in problems)


async def test_a_document_that_is_not_a_catalog_is_refused(uow: FakeUnitOfWork, operator: Principal) -> None:
    assert (await refused([], uow, operator))[0]["location"] == "(document)"  # type: ignore[arg-type]
    assert (await refused({"credentail": []}, uow, operator))[0]["location"] == "credentail"


async def test_stacks_and_pathways_change_only_when_their_content_does(
    seed_document: dict[str, Any], uow: FakeUnitOfWork, operator: Principal
) -> None:
    await import_catalog(seed_document, operator, uow)
    seed_document["stacks"][0]["description"] = "Renamed theme."
    summary = await import_catalog(seed_document, operator, uow)
    assert (summary.stacks, summary.pathways) == (1, 0)
    event = uow.published[-1]
    assert isinstance(event, StackChanged) and event.revision == 2
