"""Submission use cases. Each takes a command (or an event) and a unit of work, and commits once.

Consumers are idempotent: each claims ``submission.<handler>`` + ``event_id`` in the same transaction
as its state change, so a redelivered event is a no-op. Events about an attempt that is no longer
current are claimed and otherwise ignored. The catalog projections are idempotent by content as well
(a version, a retirement, an earned credential is stored once; a pathway keeps its highest revision),
so the same fact re-announced under a new event id changes nothing either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol
from uuid import UUID, uuid4

from pydantic import BaseModel, Field

from microcred.events import (
    CredentialAwarded,
    CredentialPublished,
    CredentialRetired,
    EvidenceRef,
    PathwayChanged,
    ReviewerAssigned,
    RevisionRequested,
    SubmissionScored,
    SubmissionSubmitted,
)
from microcred.runtime.auth import Principal, Role
from microcred.runtime.context import current_correlation_id
from microcred.runtime.errors import Conflict, Forbidden, Invalid, NotFound
from microcred.submission.domain.model import (
    Evidence,
    EvidenceStatus,
    Pathway,
    PublishedCredential,
    Submission,
    ensure_evidence_fits,
    ensure_prerequisites_met,
    evidence_object_key,
    version_for_new_submission,
)
from microcred.submission.service_layer.unit_of_work import SubmissionUnitOfWork

CONSUMER = "submission"


def utc_now() -> datetime:
    return datetime.now(UTC)


class StoredObject(Protocol):
    @property
    def size(self) -> int: ...

    @property
    def etag(self) -> str: ...


class EvidenceStorage(Protocol):
    """What the use cases need of the object store (adapters.evidence_store.EvidenceStore in production)."""

    async def upload_url(self, object_key: str, ttl_seconds: int) -> str: ...

    async def download_url(self, object_key: str, ttl_seconds: int, filename: str) -> str: ...

    async def stat(self, object_key: str) -> StoredObject | None: ...

    async def sha256(self, object_key: str) -> str: ...


@dataclass(frozen=True)
class EvidencePolicy:
    max_bytes: int
    upload_url_ttl_seconds: int
    download_url_ttl_seconds: int


# -- commands ----------------------------------------------------------------------------------


class StartSubmission(BaseModel):
    credential_id: UUID


class DeclareEvidence(BaseModel):
    requirement_key: str = Field(min_length=1, max_length=80)
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(
        min_length=3, max_length=255, pattern=r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\s*;.*)?$"
    )
    size_bytes: int = Field(ge=1)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class UploadTicket:
    evidence_id: UUID
    object_key: str
    upload_url: str
    expires_at: datetime
    upload_method: str = "PUT"


@dataclass(frozen=True)
class DownloadTicket:
    evidence_id: UUID
    download_url: str
    expires_at: datetime


# -- who may see what --------------------------------------------------------------------------


class Viewer(StrEnum):
    OWNER = "owner"
    REVIEWER = "reviewer"
    OPERATOR = "operator"


def viewer_of(submission: Submission, principal: Principal) -> Viewer | None:
    if principal.subject == submission.teacher_id:
        return Viewer.OWNER
    if principal.has(Role.REVIEWER) and submission.is_reviewed_by(principal.subject):
        return Viewer.REVIEWER
    if principal.has(Role.OPERATOR):
        return Viewer.OPERATOR
    return None


async def _visible(
    uow: SubmissionUnitOfWork, submission_id: UUID, principal: Principal, *, for_update: bool
) -> tuple[Submission, Viewer]:
    submission = await uow.submissions.get(submission_id, for_update=for_update)
    viewer = None if submission is None else viewer_of(submission, principal)
    # The same answer whether it does not exist or is someone else's: existence is not leaked.
    if submission is None or viewer is None:
        raise NotFound(f"submission {submission_id} does not exist", code="submission_not_found")
    return submission, viewer


async def _owned(uow: SubmissionUnitOfWork, submission_id: UUID, principal: Principal) -> Submission:
    submission, viewer = await _visible(uow, submission_id, principal, for_update=True)
    if viewer is not Viewer.OWNER:
        raise Forbidden("only the teacher who owns the submission may change it", code="not_owner")
    return submission


def _find_evidence(submission: Submission, evidence_id: UUID) -> Evidence:
    evidence = submission.find_evidence(evidence_id)
    if evidence is None:
        raise NotFound(
            f"evidence {evidence_id} is not part of submission {submission.submission_id}",
            code="evidence_not_found",
        )
    return evidence


# -- teacher use cases -------------------------------------------------------------------------


def _valid_state(code: str) -> bool:
    return len(code) == 2 and code.isalpha() and code.isupper()


async def start_submission(command: StartSubmission, principal: Principal, uow: SubmissionUnitOfWork) -> Submission:
    bad_states = [s for s in principal.states if not _valid_state(s)]
    if bad_states:
        raise Invalid(f"the token's states must be two-letter state codes, got {bad_states}", code="invalid_states")
    async with uow:
        credential = version_for_new_submission(
            command.credential_id, await uow.credentials.versions(command.credential_id)
        )
        prerequisites = await uow.pathways.prerequisites_of(credential.credential_id)
        if prerequisites:
            earned = await uow.earned.among(principal.subject, prerequisites)
            if earned != prerequisites:
                names = await uow.credentials.names(prerequisites - earned)
                ensure_prerequisites_met(credential, prerequisites, earned, names)
        submission = Submission(
            submission_id=uuid4(),
            teacher_id=principal.subject,
            credential_id=credential.credential_id,
            credential_version=credential.version,
            credential_name=credential.name,
            states=tuple(principal.states),
            created_at=utc_now(),
        )
        await uow.submissions.add(submission)
        await uow.commit()
    return submission


async def get_submission(
    submission_id: UUID, principal: Principal, uow: SubmissionUnitOfWork
) -> tuple[Submission, Viewer]:
    async with uow:
        return await _visible(uow, submission_id, principal, for_update=False)


async def list_submissions(
    principal: Principal, uow: SubmissionUnitOfWork, *, limit: int, offset: int
) -> list[Submission]:
    teacher_id = None if principal.has(Role.OPERATOR) else principal.subject
    async with uow:
        return await uow.submissions.list_recent(teacher_id=teacher_id, limit=limit, offset=offset)


async def _credential_of(uow: SubmissionUnitOfWork, submission: Submission) -> PublishedCredential:
    credential = await uow.credentials.get(submission.credential_id, submission.credential_version)
    # The projection row was there when the submission was created and is never deleted.
    assert credential is not None, f"credential {submission.credential_id} v{submission.credential_version} vanished"
    return credential


async def declare_evidence(
    submission_id: UUID,
    command: DeclareEvidence,
    principal: Principal,
    uow: SubmissionUnitOfWork,
    store: EvidenceStorage,
    policy: EvidencePolicy,
) -> UploadTicket:
    if command.size_bytes > policy.max_bytes:
        raise Invalid(
            f"evidence may be at most {policy.max_bytes} bytes, {command.size_bytes} were declared",
            code="evidence_too_large",
            details={"max_bytes": policy.max_bytes},
        )
    async with uow:
        submission = await _owned(uow, submission_id, principal)
        submission.ensure_evidence_editable()
        credential = await _credential_of(uow, submission)
        requirement = credential.requirement(command.requirement_key)
        ensure_evidence_fits(requirement, command.content_type, command.size_bytes)
        evidence_id = uuid4()
        evidence = Evidence(
            evidence_id=evidence_id,
            requirement_key=command.requirement_key,
            filename=command.filename,
            content_type=command.content_type,
            size_bytes=command.size_bytes,
            sha256=command.sha256.lower(),
            object_key=evidence_object_key(submission_id, evidence_id, command.filename),
        )
        submission.add_evidence(evidence, requirement)
        expires_at = utc_now() + timedelta(seconds=policy.upload_url_ttl_seconds)
        upload_url = await store.upload_url(evidence.object_key, policy.upload_url_ttl_seconds)
        await uow.submissions.save(submission)
        await uow.commit()
    return UploadTicket(
        evidence_id=evidence_id, object_key=evidence.object_key, upload_url=upload_url, expires_at=expires_at
    )


async def complete_evidence(
    submission_id: UUID,
    evidence_id: UUID,
    principal: Principal,
    uow: SubmissionUnitOfWork,
    store: EvidenceStorage,
) -> Evidence:
    """Verify an upload against its declaration. Also re-verifies an upload that was overwritten."""
    async with uow:
        submission = await _owned(uow, submission_id, principal)
        submission.ensure_evidence_editable()
        evidence = _find_evidence(submission, evidence_id)
        stored = await store.stat(evidence.object_key)
        if stored is None:
            raise Conflict(
                f"nothing was uploaded for evidence {evidence_id} yet; PUT the file to its upload URL first",
                code="upload_missing",
            )
        # Hashing a large file is the slow part: skip it when the size already disagrees.
        digest = await store.sha256(evidence.object_key) if stored.size == evidence.size_bytes else ""
        evidence.verify_upload(stored_size=stored.size, stored_sha256=digest, etag=stored.etag, now=utc_now())
        await uow.submissions.save(submission)
        await uow.commit()
    return evidence


async def withdraw_evidence(
    submission_id: UUID, evidence_id: UUID, principal: Principal, uow: SubmissionUnitOfWork
) -> Evidence:
    """Leave an item out of the next attempt, e.g. to replace it where the requirement's maximum is reached."""
    async with uow:
        submission = await _owned(uow, submission_id, principal)
        evidence = submission.withdraw_evidence(evidence_id)
        await uow.submissions.save(submission)
        await uow.commit()
    return evidence


async def evidence_download(
    submission_id: UUID,
    evidence_id: UUID,
    principal: Principal,
    uow: SubmissionUnitOfWork,
    store: EvidenceStorage,
    policy: EvidencePolicy,
) -> DownloadTicket:
    async with uow:
        submission, viewer = await _visible(uow, submission_id, principal, for_update=False)
    if viewer not in (Viewer.OWNER, Viewer.REVIEWER):
        raise Forbidden(
            "only the owner and the reviewer assigned to the current attempt may download evidence",
            code="not_allowed",
        )
    evidence = _find_evidence(submission, evidence_id)
    if viewer is Viewer.REVIEWER and evidence.status is not EvidenceStatus.UPLOADED:
        raise NotFound(f"evidence {evidence_id} is not part of the submitted attempt", code="evidence_not_found")
    url = await store.download_url(evidence.object_key, policy.download_url_ttl_seconds, evidence.filename)
    return DownloadTicket(
        evidence_id=evidence_id,
        download_url=url,
        expires_at=utc_now() + timedelta(seconds=policy.download_url_ttl_seconds),
    )


async def submit(
    submission_id: UUID, principal: Principal, uow: SubmissionUnitOfWork, store: EvidenceStorage
) -> Submission:
    async with uow:
        submission = await _owned(uow, submission_id, principal)
        credential = await _credential_of(uow, submission)
        submission.submit(credential.submission_criteria, utc_now())
        uploaded = submission.uploaded_evidence()
        changed = []
        for evidence in uploaded:
            stored = await store.stat(evidence.object_key)
            if stored is None or stored.size != evidence.size_bytes or stored.etag != evidence.etag:
                changed.append(str(evidence.evidence_id))
        if changed:
            raise Conflict(
                "the stored files of some evidence changed after they were verified; complete them again",
                code="evidence_changed",
                details=changed,
            )
        uow.publish(
            SubmissionSubmitted(
                correlation_id=current_correlation_id(),
                states=submission.states,
                submission_id=submission.submission_id,
                attempt=submission.attempt,
                credential_id=submission.credential_id,
                credential_version=submission.credential_version,
                teacher_id=submission.teacher_id,
                evidence=tuple(
                    EvidenceRef(
                        evidence_id=e.evidence_id,
                        requirement_key=e.requirement_key,
                        object_key=e.object_key,
                        filename=e.filename,
                        content_type=e.content_type,
                        size_bytes=e.size_bytes,
                        sha256=e.sha256,
                    )
                    for e in uploaded
                ),
            )
        )
        await uow.submissions.save(submission)
        await uow.commit()
    return submission


# -- consumers ---------------------------------------------------------------------------------


async def record_credential_published(event: CredentialPublished, uow: SubmissionUnitOfWork) -> None:
    async with uow:
        if not await uow.claim(f"{CONSUMER}.record_credential_published", event.event_id):
            return
        await uow.credentials.add(
            PublishedCredential(
                credential_id=event.credential_id,
                version=event.version,
                name=event.name,
                submission_criteria=event.submission_criteria,
            ),
            published_at=event.occurred_at,
        )
        await uow.commit()


async def record_credential_retired(event: CredentialRetired, uow: SubmissionUnitOfWork) -> None:
    """The version takes no new drafts from now on; submissions bound to it carry on."""
    async with uow:
        if not await uow.claim(f"{CONSUMER}.record_credential_retired", event.event_id):
            return
        await uow.credentials.retire(event.credential_id, event.version, event.reason, event.occurred_at)
        await uow.commit()


async def record_pathway_changed(event: PathwayChanged, uow: SubmissionUnitOfWork) -> None:
    """Keep the pathway's highest revision; a lower or equal one (late or repeated) changes nothing."""
    async with uow:
        if not await uow.claim(f"{CONSUMER}.record_pathway_changed", event.event_id):
            return
        await uow.pathways.replace_if_newer(
            Pathway(pathway_id=event.pathway_id, revision=event.revision, active=event.active, steps=event.steps),
            changed_at=event.occurred_at,
        )
        await uow.commit()


async def _submission_for_event(uow: SubmissionUnitOfWork, submission_id: UUID) -> Submission:
    submission = await uow.submissions.get(submission_id, for_update=True)
    if submission is None:
        # Retried, then dead-lettered: an event about a submission this service never had is a fault.
        raise NotFound(f"submission {submission_id} does not exist", code="submission_not_found")
    return submission


async def record_reviewer_assigned(event: ReviewerAssigned, uow: SubmissionUnitOfWork) -> None:
    async with uow:
        if not await uow.claim(f"{CONSUMER}.record_reviewer_assigned", event.event_id):
            return
        submission = await _submission_for_event(uow, event.submission_id)
        if submission.assign_reviewer(event.attempt, event.reviewer_id):
            await uow.submissions.save(submission)
        await uow.commit()


async def record_revision_requested(event: RevisionRequested, uow: SubmissionUnitOfWork) -> None:
    async with uow:
        if not await uow.claim(f"{CONSUMER}.record_revision_requested", event.event_id):
            return
        submission = await _submission_for_event(uow, event.submission_id)
        if submission.request_revision(event.attempt, event.feedback, event.occurred_at):
            await uow.submissions.save(submission)
        await uow.commit()


async def record_submission_scored(event: SubmissionScored, uow: SubmissionUnitOfWork) -> None:
    async with uow:
        if not await uow.claim(f"{CONSUMER}.record_submission_scored", event.event_id):
            return
        # A "revise" decision changes nothing here: review.revise-requested carries it with the feedback.
        if event.decision == "passed":
            submission = await _submission_for_event(uow, event.submission_id)
            if submission.record_pass(event.attempt):
                await uow.submissions.save(submission)
        await uow.commit()


async def record_credential_awarded(event: CredentialAwarded, uow: SubmissionUnitOfWork) -> None:
    async with uow:
        if not await uow.claim(f"{CONSUMER}.record_credential_awarded", event.event_id):
            return
        # What prerequisites are checked against: the teacher has earned the credential, whichever version.
        await uow.earned.add(event.teacher_id, event.credential_id, event.award_id, event.issued_at)
        submission = await _submission_for_event(uow, event.submission_id)
        if submission.record_award(event.award_id):
            await uow.submissions.save(submission)
        await uow.commit()
