"""The approval workflow of a credential version, as pure rules."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from microcred.catalog.domain.model import ApprovalChecks, Credential, CredentialDefinition, VersionStatus
from microcred.runtime.errors import Conflict, Invalid

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ALL_CHECKS = ApprovalChecks(research_base=True, evidence_requirements=True, rubric=True)


def new_credential(definition: CredentialDefinition) -> Credential:
    return Credential.draft(uuid4(), uuid4(), "checking-for-understanding", definition, "admin-1", AT)


def published(definition: CredentialDefinition) -> Credential:
    credential = new_credential(definition)
    version = credential.latest()
    version.submit_for_review("admin-1", None, AT)
    version.approve("operator-1", ALL_CHECKS, None, AT)
    version.publish("admin-1", AT)
    return credential


def test_a_version_walks_draft_review_changes_approval_publication_and_retirement(
    definition: CredentialDefinition,
) -> None:
    credential = new_credential(definition)
    version = credential.latest()
    version.submit_for_review("admin-1", "first try", AT)
    version.request_changes("operator-1", "cite the research for the key method", AT)
    version.submit_for_review("admin-1", None, AT)
    version.approve("operator-1", ALL_CHECKS, "solid", AT)
    version.publish("admin-1", AT)
    version.retire("admin-1", "superseded by version 2", AT)

    assert version.status is VersionStatus.RETIRED
    assert [(t.from_status, t.to_status) for t in version.transitions] == [
        (None, VersionStatus.DRAFT),
        (VersionStatus.DRAFT, VersionStatus.IN_REVIEW),
        (VersionStatus.IN_REVIEW, VersionStatus.CHANGES_REQUESTED),
        (VersionStatus.CHANGES_REQUESTED, VersionStatus.IN_REVIEW),
        (VersionStatus.IN_REVIEW, VersionStatus.APPROVED),
        (VersionStatus.APPROVED, VersionStatus.PUBLISHED),
        (VersionStatus.PUBLISHED, VersionStatus.RETIRED),
    ]
    assert [t.actor for t in version.transitions][2] == "operator-1"
    assert version.transitions[2].reason == "cite the research for the key method"
    assert version.published_at == AT and version.retired_at == AT


def test_publishing_a_version_that_is_not_approved_is_refused(definition: CredentialDefinition) -> None:
    version = new_credential(definition).latest()
    version.submit_for_review("admin-1", None, AT)
    with pytest.raises(Conflict) as refused:
        version.publish("admin-1", AT)
    assert refused.value.code == "not_approved"
    assert version.status is VersionStatus.IN_REVIEW
    assert len(version.transitions) == 2


@pytest.mark.parametrize(
    ("move", "status"),
    [
        (lambda v: v.approve("op", ALL_CHECKS, None, AT), "draft"),
        (lambda v: v.request_changes("op", "why", AT), "draft"),
        (lambda v: v.retire("admin", "why", AT), "draft"),
    ],
)
def test_moves_that_skip_a_step_of_the_workflow_are_refused(
    definition: CredentialDefinition, move: object, status: str
) -> None:
    version = new_credential(definition).latest()
    with pytest.raises(Conflict):
        move(version)  # type: ignore[operator]
    assert version.status.value == status


def test_a_version_in_review_cannot_be_submitted_again(definition: CredentialDefinition) -> None:
    version = new_credential(definition).latest()
    version.submit_for_review("admin-1", None, AT)
    with pytest.raises(Conflict) as refused:
        version.submit_for_review("admin-1", None, AT)
    assert refused.value.code == "illegal_transition"


def test_approval_requires_every_check_confirmed(definition: CredentialDefinition) -> None:
    version = new_credential(definition).latest()
    version.submit_for_review("admin-1", None, AT)
    with pytest.raises(Invalid) as refused:
        version.approve("operator-1", ApprovalChecks(research_base=True, evidence_requirements=False, rubric=False),
                        None, AT)
    assert refused.value.code == "checks_incomplete"
    assert refused.value.details == {"failing": ["evidence_requirements", "rubric"]}
    assert version.status is VersionStatus.IN_REVIEW


def test_requesting_changes_needs_a_reason(definition: CredentialDefinition) -> None:
    version = new_credential(definition).latest()
    version.submit_for_review("admin-1", None, AT)
    with pytest.raises(Invalid):
        version.request_changes("operator-1", "  ", AT)


def test_editing_a_published_version_is_refused(definition: CredentialDefinition) -> None:
    version = published(definition).latest()
    with pytest.raises(Conflict) as refused:
        version.edit(definition.model_copy(update={"name": "Renamed"}))
    assert refused.value.code == "version_not_editable"
    assert version.definition.name == definition.name


def test_a_version_in_review_cannot_be_edited_but_one_with_changes_requested_can(
    definition: CredentialDefinition,
) -> None:
    version = new_credential(definition).latest()
    version.submit_for_review("admin-1", None, AT)
    with pytest.raises(Conflict):
        version.edit(definition.model_copy(update={"name": "Renamed"}))
    version.request_changes("operator-1", "rename it", AT)
    version.edit(definition.model_copy(update={"name": "Renamed"}))
    assert version.definition.name == "Renamed"


def test_a_new_version_copies_the_latest_published_one_and_leaves_it_untouched(
    definition: CredentialDefinition,
) -> None:
    credential = published(definition)
    draft = credential.open_new_version("editor-1", AT)
    draft.edit(definition.model_copy(update={"name": "Version two"}))

    assert draft.version == 2 and draft.status is VersionStatus.DRAFT
    assert credential.version(1).definition.name == definition.name  # type: ignore[union-attr]
    assert credential.latest_published().version == 1  # type: ignore[union-attr]


def test_only_one_version_may_be_open_at_a_time(definition: CredentialDefinition) -> None:
    credential = published(definition)
    credential.open_new_version("editor-1", AT)
    with pytest.raises(Conflict) as refused:
        credential.open_new_version("editor-1", AT)
    assert refused.value.code == "open_version_exists"


def test_an_import_records_the_operator_as_approver_with_reason_imported(definition: CredentialDefinition) -> None:
    credential = Credential.draft(uuid4(), uuid4(), "k", definition, "operator-1", AT, reason="imported")
    version = credential.latest()
    version.publish_as_imported("operator-1", AT)
    assert version.status is VersionStatus.PUBLISHED
    assert {(t.actor, t.reason) for t in version.transitions} == {("operator-1", "imported")}
    assert [t.to_status for t in version.transitions][-2:] == [VersionStatus.APPROVED, VersionStatus.PUBLISHED]
