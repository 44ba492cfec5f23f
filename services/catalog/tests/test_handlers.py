"""Use cases through the fake unit of work: who may act, and which events a change publishes."""

from __future__ import annotations

from uuid import uuid4

import pytest
from catalog_fakes import FakeUnitOfWork
from conftest import definition_data

from microcred.catalog.domain.model import Issuer, VersionStatus
from microcred.catalog.service_layer import handlers
from microcred.events import CredentialPublished, CredentialRetired, PathwayChanged, StackChanged
from microcred.runtime.auth import Principal, Role
from microcred.runtime.errors import Conflict, Forbidden, Invalid, NotFound

APPROVE_ALL = handlers.Approve(checks=handlers.Checks(research_base=True, evidence_requirements=True, rubric=True))


async def draft(uow: FakeUnitOfWork, issuer: Issuer, principal: Principal, **changes: object) -> handlers.DraftCredential:
    command = handlers.DraftCredential.model_validate(definition_data(**changes) | {"issuer_id": issuer.issuer_id})
    return command


async def published_credential(uow: FakeUnitOfWork, issuer: Issuer, admin: Principal, operator: Principal,
                               **changes: object) -> object:
    version = await handlers.draft_credential(await draft(uow, issuer, admin, **changes), admin, uow)
    cid = version.credential_id
    await handlers.submit_for_review(cid, 1, handlers.SubmitForReview(), admin, uow)
    await handlers.approve(cid, 1, APPROVE_ALL, operator, uow)
    return await handlers.publish(cid, 1, admin, uow)


async def test_publishing_emits_the_whole_definition_with_the_issuer_profile_and_key(
    uow: FakeUnitOfWork, issuer: Issuer, admin: Principal, operator: Principal
) -> None:
    version = await published_credential(uow, issuer, admin, operator)
    [event] = uow.published
    assert isinstance(event, CredentialPublished)
    assert event.credential_id == version.credential_id and event.version == 1  # type: ignore[attr-defined]
    assert event.key == "checking-for-understanding"
    assert event.issuer.name == "Digital Promise" and event.issuer.issuer_id == issuer.issuer_id
    assert event.alignments[0].target_code == "3d"
    assert event.credit_hints[0].unit == "clock_hours" and event.expiry_months == 60
    assert event.rubric.criteria[0].key == "video"


async def test_an_editor_may_draft_and_edit_but_not_submit_for_review_or_retire(
    uow: FakeUnitOfWork, issuer: Issuer, editor: Principal, admin: Principal, operator: Principal
) -> None:
    version = await handlers.draft_credential(await draft(uow, issuer, editor), editor, uow)
    edited = handlers.DefinitionBody.model_validate(definition_data(name="Renamed")).definition()
    await handlers.edit_version(version.credential_id, 1, edited, editor, uow)
    with pytest.raises(Forbidden):
        await handlers.submit_for_review(version.credential_id, 1, handlers.SubmitForReview(), editor, uow)
    await handlers.submit_for_review(version.credential_id, 1, handlers.SubmitForReview(), admin, uow)
    await handlers.approve(version.credential_id, 1, APPROVE_ALL, operator, uow)
    await handlers.publish(version.credential_id, 1, admin, uow)
    with pytest.raises(Forbidden):
        await handlers.retire(version.credential_id, 1, handlers.Retire(reason="old"), editor, uow)


async def test_a_listed_staff_admin_manages_the_issuer_without_the_organization_claim(
    uow: FakeUnitOfWork, issuer: Issuer
) -> None:
    staff_admin = Principal(subject="staff-admin-1", roles=frozenset({Role.ISSUER_ADMIN}))
    version = await handlers.draft_credential(await draft(uow, issuer, staff_admin), staff_admin, uow)
    await handlers.submit_for_review(version.credential_id, 1, handlers.SubmitForReview(), staff_admin, uow)


async def test_an_admin_of_another_issuer_may_not_touch_this_one(uow: FakeUnitOfWork, issuer: Issuer) -> None:
    stranger = Principal(subject="admin-9", roles=frozenset({Role.ISSUER_ADMIN}), organization=str(uuid4()))
    with pytest.raises(Forbidden):
        await handlers.draft_credential(await draft(uow, issuer, stranger), stranger, uow)


async def test_only_an_operator_approves(
    uow: FakeUnitOfWork, issuer: Issuer, admin: Principal
) -> None:
    version = await handlers.draft_credential(await draft(uow, issuer, admin), admin, uow)
    await handlers.submit_for_review(version.credential_id, 1, handlers.SubmitForReview(), admin, uow)
    with pytest.raises(Forbidden):
        await handlers.approve(version.credential_id, 1, APPROVE_ALL, admin, uow)


async def test_a_refused_approval_changes_nothing(
    uow: FakeUnitOfWork, issuer: Issuer, admin: Principal, operator: Principal
) -> None:
    version = await handlers.draft_credential(await draft(uow, issuer, admin), admin, uow)
    await handlers.submit_for_review(version.credential_id, 1, handlers.SubmitForReview(), admin, uow)
    partial = handlers.Approve(checks=handlers.Checks(research_base=True, evidence_requirements=True, rubric=False))
    with pytest.raises(Invalid):
        await handlers.approve(version.credential_id, 1, partial, operator, uow)
    stored = uow.state.credentials[version.credential_id].latest()
    assert stored.status is VersionStatus.IN_REVIEW and len(stored.transitions) == 2


async def test_retiring_emits_credential_retired_and_a_new_version_can_follow(
    uow: FakeUnitOfWork, issuer: Issuer, admin: Principal, operator: Principal
) -> None:
    version = await published_credential(uow, issuer, admin, operator)
    cid = version.credential_id  # type: ignore[attr-defined]
    await handlers.retire(cid, 1, handlers.Retire(reason="rubric outdated"), admin, uow)
    assert isinstance(uow.published[-1], CredentialRetired) and uow.published[-1].reason == "rubric outdated"
    with pytest.raises(Conflict) as refused:
        await handlers.open_version(cid, admin, uow)
    assert refused.value.code == "nothing_published"


async def test_a_teacher_never_sees_an_unpublished_version(
    uow: FakeUnitOfWork, issuer: Issuer, admin: Principal, operator: Principal
) -> None:
    version = await published_credential(uow, issuer, admin, operator)
    cid = version.credential_id  # type: ignore[attr-defined]
    await handlers.open_version(cid, admin, uow)
    teacher = Principal(subject="t-1", roles=frozenset({Role.TEACHER}))
    assert (await handlers.read_version(cid, None, teacher, uow)).version == 1
    assert (await handlers.read_version(cid, None, admin, uow)).version == 2
    assert [v.version for v in await handlers.list_versions(cid, teacher, uow)] == [1]


async def test_stack_and_pathway_changes_emit_their_whole_state_with_a_growing_revision(
    uow: FakeUnitOfWork, issuer: Issuer, admin: Principal, operator: Principal
) -> None:
    first = await published_credential(uow, issuer, admin, operator)
    second = await published_credential(uow, issuer, admin, operator, name="Second")
    ids = [first.credential_id, second.credential_id]  # type: ignore[attr-defined]
    stack = await handlers.create_stack(
        handlers.CreateStack(issuer_id=issuer.issuer_id, name="Formative", credential_ids=ids), admin, uow
    )
    await handlers.update_stack(stack.stack_id, handlers.StackBody(name="Formative", credential_ids=ids[:1]), admin,
                                uow)
    await handlers.delete_stack(stack.stack_id, admin, uow)
    with pytest.raises(NotFound):  # deleted: gone to the API, once announced inactive
        await handlers.delete_stack(stack.stack_id, admin, uow)
    stack_events = [e for e in uow.published if isinstance(e, StackChanged)]
    assert [(e.revision, e.active, len(e.credential_ids)) for e in stack_events] == [(1, True, 2), (2, True, 1),
                                                                                     (3, False, 1)]
    pathway = await handlers.create_pathway(
        handlers.CreatePathway.model_validate({
            "issuer_id": issuer.issuer_id, "name": "Formative pathway",
            "steps": [{"credential_id": ids[0]}, {"credential_id": ids[1], "prerequisites": [ids[0]]}],
        }), admin, uow,
    )
    [event] = [e for e in uow.published if isinstance(e, PathwayChanged)]
    assert event.pathway_id == pathway.pathway_id and event.steps[1].prerequisites == (ids[0],)


async def test_a_stack_naming_an_unknown_credential_is_refused(
    uow: FakeUnitOfWork, issuer: Issuer, admin: Principal
) -> None:
    with pytest.raises(Exception) as refused:
        await handlers.create_stack(
            handlers.CreateStack(issuer_id=issuer.issuer_id, name="S", credential_ids=[uuid4()]), admin, uow
        )
    assert getattr(refused.value, "code", None) == "credential_not_found"
    assert uow.published == []


async def test_an_editor_may_not_manage_pathways(
    uow: FakeUnitOfWork, issuer: Issuer, editor: Principal, admin: Principal, operator: Principal
) -> None:
    first = await published_credential(uow, issuer, admin, operator)
    with pytest.raises(Forbidden):
        await handlers.create_pathway(handlers.CreatePathway.model_validate({
            "issuer_id": issuer.issuer_id, "name": "P",
            "steps": [{"credential_id": first.credential_id}],  # type: ignore[attr-defined]
        }), editor, uow)


async def test_keys_default_to_a_slug_of_the_name_made_unique(
    uow: FakeUnitOfWork, issuer: Issuer, admin: Principal
) -> None:
    first = await handlers.draft_credential(await draft(uow, issuer, admin), admin, uow)
    second = await handlers.draft_credential(await draft(uow, issuer, admin), admin, uow)
    assert (first.key, second.key) == ("checking-for-understanding", "checking-for-understanding-2")


@pytest.fixture
def other_issuer(uow: FakeUnitOfWork) -> tuple[Issuer, Principal]:
    found = Issuer(uuid4(), "arkansas-dese", "Arkansas DESE")
    uow.state.issuers[found.issuer_id] = found
    return found, Principal(subject="ar-admin", roles=frozenset({Role.ISSUER_ADMIN}), organization=str(found.issuer_id))


async def test_another_issuers_draft_is_to_an_admin_as_if_it_did_not_exist(
    uow: FakeUnitOfWork, issuer: Issuer, admin: Principal, other_issuer: tuple[Issuer, Principal]
) -> None:
    version = await handlers.draft_credential(await draft(uow, issuer, admin), admin, uow)
    _, stranger = other_issuer
    edited = handlers.DefinitionBody.model_validate(definition_data(name="Mine now")).definition()
    for cid in (version.credential_id, uuid4()):
        attempts = [
            handlers.read_version(cid, None, stranger, uow),
            handlers.list_versions(cid, stranger, uow),
            handlers.edit_version(cid, 1, edited, stranger, uow),
            handlers.open_version(cid, stranger, uow),
            handlers.submit_for_review(cid, 1, handlers.SubmitForReview(), stranger, uow),
        ]
        for attempt in attempts:
            with pytest.raises(NotFound) as refused:
                await attempt
            assert refused.value.code == "credential_not_found"
    assert uow.state.credentials[version.credential_id].latest().definition.name == "Checking for Understanding"


async def test_another_issuers_published_credential_is_seen_but_not_changed(
    uow: FakeUnitOfWork, issuer: Issuer, admin: Principal, operator: Principal,
    other_issuer: tuple[Issuer, Principal],
) -> None:
    version = await published_credential(uow, issuer, admin, operator)
    cid = version.credential_id  # type: ignore[attr-defined]
    _, stranger = other_issuer
    assert (await handlers.read_version(cid, None, stranger, uow)).version == 1
    with pytest.raises(Forbidden):
        await handlers.retire(cid, 1, handlers.Retire(reason="not mine"), stranger, uow)


async def test_a_stack_may_not_name_another_issuers_draft_which_reads_as_unknown(
    uow: FakeUnitOfWork, issuer: Issuer, admin: Principal, other_issuer: tuple[Issuer, Principal]
) -> None:
    hidden = await handlers.draft_credential(await draft(uow, issuer, admin), admin, uow)
    theirs, stranger = other_issuer
    with pytest.raises(Invalid) as refused:
        await handlers.create_stack(handlers.CreateStack(issuer_id=theirs.issuer_id, name="S",
                                                         credential_ids=[hidden.credential_id]), stranger, uow)
    assert (refused.value.code, refused.value.details) == ("credential_not_found",
                                                           {"missing": [str(hidden.credential_id)]})
    assert uow.published == []


async def test_a_pathway_sets_prerequisites_only_for_its_own_issuers_credentials(
    uow: FakeUnitOfWork, issuer: Issuer, admin: Principal, operator: Principal,
    other_issuer: tuple[Issuer, Principal],
) -> None:
    foreign = await published_credential(uow, issuer, admin, operator)
    theirs, their_admin = other_issuer
    their_draft = await handlers.draft_credential(
        handlers.DraftCredential.model_validate(definition_data(name="Own") | {"issuer_id": theirs.issuer_id}),
        their_admin, uow,
    )
    own, other = their_draft.credential_id, foreign.credential_id  # type: ignore[attr-defined]
    gating_theirs = {"issuer_id": theirs.issuer_id, "name": "P",
                     "steps": [{"credential_id": own}, {"credential_id": other, "prerequisites": [own]}]}
    with pytest.raises(Forbidden) as refused:
        await handlers.create_pathway(handlers.CreatePathway.model_validate(gating_theirs), their_admin, uow)
    assert (refused.value.code, refused.value.details) == ("not_the_issuers_credential", {"credentials": [str(other)]})
    # Starting from another issuer's credential imposes nothing on it: allowed.
    leading_to_own = {"issuer_id": theirs.issuer_id, "name": "P",
                      "steps": [{"credential_id": other}, {"credential_id": own, "prerequisites": [other]}]}
    pathway = await handlers.create_pathway(handlers.CreatePathway.model_validate(leading_to_own), their_admin, uow)
    assert [s.credential_id for s in pathway.steps] == [other, own]


async def test_only_the_issuers_a_person_may_author_for_are_listed_as_manageable(
        uow: FakeUnitOfWork, issuer: Issuer, admin: Principal, operator: Principal, editor: Principal) -> None:
    other = Issuer(uuid4(), "other", "Other Issuer")
    uow.state.issuers[other.issuer_id] = other
    teacher = Principal(subject="teacher-1", roles=frozenset({Role.TEACHER}))
    assert {i.key for i in await handlers.list_issuers(teacher, False, uow)} == {"digital-promise", "other"}
    assert [i.key for i in await handlers.list_issuers(admin, True, uow)] == ["digital-promise"]
    assert [i.key for i in await handlers.list_issuers(editor, True, uow)] == ["digital-promise"]  # listed staff
    assert {i.key for i in await handlers.list_issuers(operator, True, uow)} == {"digital-promise", "other"}
    assert await handlers.list_issuers(teacher, True, uow) == []
