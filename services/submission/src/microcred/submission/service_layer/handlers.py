"""Submission use cases. Each takes a command (or an event) and a unit of work, and commits once.

Consumers are idempotent: each claims ``submission.<handler>`` + ``event_id`` in the same transaction
as its state change, so a redelivered event is a no-op. Events about an attempt that is no longer
current are claimed and otherwise ignored. The catalog projections are idempotent by content as well
(a version, a retirement, an earned credential is stored once; a pathway keeps its highest revision),
so the same fact re-announced under a new event id changes nothing either.

What the object store must do for them is ``storage``; how an upload is sealed and measured is
``sealing``; the evidence sweeps are ``evidence_retention``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated
from uuid import UUID, uuid4

from pydantic import Field

from microcred.events import (
    CredentialAwarded,
    CredentialPublished,
    CredentialRetired,
    EvidenceRef,
    PathwayChanged,
    ReviewerAssigned,
    ReviewerReleased,
    RevisionRequested,
    SubmissionScored,
    SubmissionSubmitted,
    SubmissionWithdrawn,
)
from microcred.runtime.api_types import ByteCount, Count, Matching, Ordinal, RequestModel, Text
from microcred.runtime.auth import Principal, Role
from microcred.runtime.context import current_correlation_id
from microcred.runtime.errors import Conflict, Forbidden, Invalid, NotFound
from microcred.submission.domain.model import (
    Answer,
    Evidence,
    EvidenceStatus,
    Pathway,
    PublishedCredential,
    Submission,
    UploadMode,
    ensure_captions_fit,
    ensure_evidence_fits,
    ensure_prerequisites_met,
    evidence_object_key,
    missing_parts,
    plan_upload,
    version_for_new_submission,
)
from microcred.submission.service_layer import sealing
from microcred.submission.service_layer.storage import EvidencePolicy, EvidenceStorage, MediaProbe, StoredPart
from microcred.submission.service_layer.unit_of_work import SubmissionUnitOfWork

CONSUMER = "submission"


def utc_now() -> datetime:
    return datetime.now(UTC)

# -- commands ----------------------------------------------------------------------------------


class StartSubmission(RequestModel):
    credential_id: UUID


RequirementKey = Annotated[Text, Field(min_length=1, max_length=80)]


class DeclareEvidence(RequestModel):
    requirement_key: RequirementKey
    filename: Annotated[Text, Field(min_length=1, max_length=255)]
    content_type: Annotated[
        str, Matching(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\s*;.*)?$"), Field(min_length=3, max_length=255)
    ]
    # 0 is refused by the use case with its own code (empty_file), not as a schema error.
    size_bytes: ByteCount
    sha256: Annotated[str, Matching(r"^[0-9a-fA-F]{64}$")]
    # Captions (WebVTT) of this video item of the same submission, declared under the video's requirement.
    captions_for: UUID | None = None


class RequestParts(RequestModel):
    part_numbers: list[Annotated[Ordinal, Field(le=10_000)]] = Field(min_length=1, max_length=10_000)


class PromptAnswer(RequestModel):
    requirement_key: RequirementKey
    prompt_index: Annotated[Count, Field(le=1000)]
    answer: Annotated[Text, Field(max_length=50_000)]


class AnswerPrompts(RequestModel):
    responses: list[PromptAnswer] = Field(max_length=500)


class WithdrawSubmission(RequestModel):
    reason: Annotated[Text, Field(max_length=2000)] | None = None


NOTE_TO_REVIEWER_MAX = 2000


class SubmitAttempt(RequestModel):
    note_to_reviewer: Annotated[Text, Field(
        max_length=NOTE_TO_REVIEWER_MAX,
        description="Plain text for the reviewer of this attempt (what changed since the feedback). Reviews "
                    "are blind: the reviewer sees it as written, so it should not name the teacher.",
    )] | None = None


@dataclass(frozen=True)
class UploadTicket:
    evidence_id: UUID
    object_key: str
    expires_at: datetime
    mode: UploadMode
    url: str | None = None
    upload_id: str | None = None
    part_size: int | None = None
    part_count: int | None = None
    parts: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PartsProgress:
    uploaded: Sequence[StoredPart]
    missing: list[int]



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


async def _owned(
    uow: SubmissionUnitOfWork, submission_id: UUID, principal: Principal, *, for_update: bool = True
) -> Submission:
    submission, viewer = await _visible(uow, submission_id, principal, for_update=for_update)
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
            teacher_district=principal.district,
            teacher_school=principal.school,
        )
        await uow.submissions.add(submission)
        await uow.commit()
    return submission


async def get_submission(
    submission_id: UUID, principal: Principal, uow: SubmissionUnitOfWork
) -> tuple[Submission, Viewer]:
    async with uow:
        await uow.without_transaction()  # one statement: the aggregate with its attempts and evidence
        return await _visible(uow, submission_id, principal, for_update=False)


async def list_submissions(
    principal: Principal, uow: SubmissionUnitOfWork, *, limit: int, offset: int
) -> list[Submission]:
    teacher_id = None if principal.has(Role.OPERATOR) else principal.subject
    async with uow:
        await uow.without_transaction()  # one statement, and no total to agree with it
        return await uow.submissions.list_recent(teacher_id=teacher_id, limit=limit, offset=offset)


async def _credential_of(uow: SubmissionUnitOfWork, submission: Submission) -> PublishedCredential:
    # The bound version's content, not its retirement: a submission carries on once its version is retired.
    credential = await uow.credentials.bound_version(submission.credential_id, submission.credential_version)
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
    """Register an item and hand out where to upload it: one presigned PUT, or the parts of a multipart upload.

    The multipart upload is created before the row commits; if the commit fails, the orphan sweep
    aborts the upload nobody knows (it asks the store, not the database).
    """
    if command.size_bytes == 0:
        raise Invalid("an empty file is not evidence", code="empty_file")
    if command.size_bytes > policy.max_bytes:
        raise Invalid(
            f"evidence may be at most {policy.max_bytes} bytes, {command.size_bytes} were declared",
            code="evidence_too_large",
            details={"max_bytes": policy.max_bytes},
        )
    if command.captions_for is not None:
        ensure_captions_fit(command.content_type, command.size_bytes)
    plan = plan_upload(
        command.size_bytes, single_max_bytes=policy.single_upload_max_bytes, part_size_bytes=policy.part_size_bytes
    )
    async with uow:
        submission = await _owned(uow, submission_id, principal)
        submission.ensure_evidence_editable()
        credential = await _credential_of(uow, submission)
        requirement = credential.requirement(command.requirement_key)
        if command.captions_for is None:
            ensure_evidence_fits(requirement, command.content_type, command.size_bytes)
        evidence_id = uuid4()
        now = utc_now()
        evidence = Evidence(
            evidence_id=evidence_id,
            requirement_key=command.requirement_key,
            filename=command.filename,
            content_type=command.content_type,
            size_bytes=command.size_bytes,
            sha256=command.sha256.lower(),
            object_key=evidence_object_key(submission_id, evidence_id, command.filename),
            registered_at=now,
            upload_mode=plan.mode,
            part_size=plan.part_size,
            part_count=plan.part_count,
            captions_for=command.captions_for,
        )
        if evidence.is_captions:
            submission.add_captions(evidence)
        else:
            submission.add_evidence(evidence, requirement)
        expires_at = now + timedelta(seconds=policy.upload_url_ttl_seconds)
        if plan.mode is UploadMode.SINGLE:
            url = await store.upload_url(evidence.object_key, policy.upload_url_ttl_seconds)
            ticket = UploadTicket(evidence_id, evidence.object_key, expires_at, plan.mode, url=url)
        else:
            assert plan.part_count is not None
            evidence.upload_id = await store.start_multipart(evidence.object_key, command.content_type)
            parts = await store.part_urls(
                evidence.object_key, evidence.upload_id, list(range(1, plan.part_count + 1)),
                policy.upload_url_ttl_seconds,
            )
            ticket = UploadTicket(
                evidence_id, evidence.object_key, expires_at, plan.mode, upload_id=evidence.upload_id,
                part_size=plan.part_size, part_count=plan.part_count, parts=parts,
            )
        await uow.submissions.save(submission)
        await uow.commit()
    return ticket


async def _pending_multipart(
    uow: SubmissionUnitOfWork, submission_id: UUID, evidence_id: UUID, principal: Principal
) -> Evidence:
    async with uow:
        submission = await _owned(uow, submission_id, principal)
        submission.ensure_evidence_editable()
        evidence = _find_evidence(submission, evidence_id)
        evidence.ensure_pending()
        evidence.ensure_multipart()
        return evidence


async def fresh_part_urls(
    submission_id: UUID,
    evidence_id: UUID,
    command: RequestParts,
    principal: Principal,
    uow: SubmissionUnitOfWork,
    store: EvidenceStorage,
    policy: EvidencePolicy,
) -> UploadTicket:
    """New URLs for some parts of an unfinished upload: to resume after a dropped connection or expiry."""
    evidence = await _pending_multipart(uow, submission_id, evidence_id, principal)
    wanted = evidence.check_part_numbers(command.part_numbers)
    assert evidence.upload_id is not None
    urls = await store.part_urls(evidence.object_key, evidence.upload_id, wanted, policy.upload_url_ttl_seconds)
    return UploadTicket(
        evidence_id, evidence.object_key, utc_now() + timedelta(seconds=policy.upload_url_ttl_seconds),
        UploadMode.MULTIPART, upload_id=evidence.upload_id, part_size=evidence.part_size,
        part_count=evidence.part_count, parts=urls,
    )


async def _store_parts(store: EvidenceStorage, evidence: Evidence) -> Sequence[StoredPart]:
    assert evidence.upload_id is not None
    parts = await store.list_parts(evidence.object_key, evidence.upload_id)
    if parts is None:
        raise sealing.upload_gone(evidence)
    return parts


async def uploaded_parts(
    submission_id: UUID, evidence_id: UUID, principal: Principal, uow: SubmissionUnitOfWork, store: EvidenceStorage
) -> PartsProgress:
    """Which parts the store holds and which are still missing: the store's word, not the client's."""
    evidence = await _pending_multipart(uow, submission_id, evidence_id, principal)
    assert evidence.part_count is not None
    parts = [p for p in await _store_parts(store, evidence) if p.part_number <= evidence.part_count]
    return PartsProgress(parts, missing_parts(evidence.part_count, (p.part_number for p in parts)))


async def complete_evidence(
    submission_id: UUID,
    evidence_id: UUID,
    principal: Principal,
    uow: Callable[[], SubmissionUnitOfWork],
    store: EvidenceStorage,
    probe: MediaProbe,
) -> Evidence:
    """Assemble (multipart), seal, and verify the sealed bytes against the declaration and the requirement.

    Three steps so that no transaction (and no row lock) is held while a large file is copied, hashed
    and probed: read the item, seal and measure, then record the verdict after re-reading the item
    under its lock (a concurrent complete or withdrawal in between wins, and a copy this call made is
    deleted). A verified single upload keeps its copy and the upload is deleted; a failed verification
    deletes everything and rejects the item in one step the teacher cannot undo; a missing part
    changes nothing.
    """
    async with uow() as reading:
        # A look before the slow part, not a decision: the verdict re-reads the item under its lock. So no
        # transaction (and no lock, which would end with it before the sealing began anyway).
        await reading.without_transaction()
        submission = await _owned(reading, submission_id, principal, for_update=False)
        submission.ensure_evidence_editable()
        evidence = _find_evidence(submission, evidence_id)
        if evidence.status is EvidenceStatus.UPLOADED:
            return evidence  # completed already: completing is idempotent
        evidence.ensure_pending()
    if evidence.upload_mode is UploadMode.MULTIPART:
        await sealing.assemble(store, evidence)
    facts = await sealing.seal(store, probe, submission_id, evidence)
    recorded = False
    try:
        async with uow() as recording:
            submission = await _owned(recording, submission_id, principal)
            submission.ensure_evidence_editable()
            evidence = _find_evidence(submission, evidence_id)
            if evidence.status is EvidenceStatus.UPLOADED:
                return evidence
            evidence.ensure_pending()
            requirement = (await _credential_of(recording, submission)).requirement(evidence.requirement_key)
            now = utc_now()
            try:
                evidence.verify(requirement, facts, now)
            except Invalid as refusal:
                # Deleted before the verdict commits: a retry after a failed commit deletes again (no-op).
                await sealing.remove_stored(store, submission_id, evidence)
                evidence.reject(refusal, now)
                await recording.submissions.save(submission)
                await recording.commit()
                raise
            await recording.submissions.save(submission)
            await recording.commit()
            recorded = True
    finally:
        if not recorded and facts.sealed_key not in (None, evidence.object_key):
            await store.remove(facts.sealed_key)
    if evidence.verified_key != evidence.object_key:
        sealing.remove_upload(store, evidence)
    return evidence


async def withdraw_evidence(
    submission_id: UUID, evidence_id: UUID, principal: Principal, uow: SubmissionUnitOfWork, store: EvidenceStorage
) -> Evidence:
    """Take an item out of the next attempt and delete its bytes (or abort its upload).

    Bytes an earlier attempt submitted stay: they are what that attempt's reviewer assessed, and the
    retention policy deletes them with the rest once the decision is final. The store is emptied
    before the row commits, so a retry after a failed commit simply deletes again.
    """
    async with uow:
        submission = await _owned(uow, submission_id, principal)
        evidence = submission.withdraw_evidence(evidence_id, utc_now())
        if evidence.removed_at is not None:
            await sealing.remove_stored(store, submission_id, evidence)
        await uow.submissions.save(submission)
        await uow.commit()
    return evidence


async def answer_prompts(
    submission_id: UUID, command: AnswerPrompts, principal: Principal, uow: SubmissionUnitOfWork
) -> Submission:
    async with uow:
        submission = await _owned(uow, submission_id, principal)
        credential = await _credential_of(uow, submission)
        submission.answer_prompts(
            (Answer(a.requirement_key, a.prompt_index, a.answer) for a in command.responses),
            credential.submission_criteria,
        )
        await uow.submissions.save(submission)
        await uow.commit()
    return submission


async def withdraw_submission(
    submission_id: UUID, command: WithdrawSubmission, principal: Principal, uow: SubmissionUnitOfWork
) -> Submission:
    async with uow:
        submission = await _owned(uow, submission_id, principal)
        submission.withdraw(command.reason, utc_now())
        uow.publish(
            SubmissionWithdrawn(
                correlation_id=current_correlation_id(),
                states=submission.states,
                submission_id=submission.submission_id,
                attempt=submission.attempt,
                teacher_id=submission.teacher_id,
                reason=command.reason,
            )
        )
        await uow.submissions.save(submission)
        await uow.commit()
    return submission


async def evidence_download(
    submission_id: UUID,
    evidence_id: UUID,
    principal: Principal,
    uow: SubmissionUnitOfWork,
    store: EvidenceStorage,
    policy: EvidencePolicy,
) -> DownloadTicket:
    async with uow:
        await uow.without_transaction()  # one statement; the URL is signed after the session is closed
        submission, viewer = await _visible(uow, submission_id, principal, for_update=False)
    if viewer not in (Viewer.OWNER, Viewer.REVIEWER):
        raise Forbidden(
            "only the owner and the reviewer assigned to the current attempt may download evidence",
            code="not_allowed",
        )
    evidence = _find_evidence(submission, evidence_id)
    if viewer is Viewer.REVIEWER and evidence.status is not EvidenceStatus.UPLOADED:
        raise NotFound(f"evidence {evidence_id} is not part of the submitted attempt", code="evidence_not_found")
    if evidence.removed_at is not None or evidence.status is EvidenceStatus.REJECTED:
        raise Conflict(
            f"the file of evidence {evidence_id} was deleted ({evidence.status.value})",
            code="evidence_deleted",
            details={"status": evidence.status.value},
        )
    url = await store.download_url(evidence.stored_key, policy.download_url_ttl_seconds, evidence.filename)
    return DownloadTicket(
        evidence_id=evidence_id,
        download_url=url,
        expires_at=utc_now() + timedelta(seconds=policy.download_url_ttl_seconds),
    )


async def submit(
    submission_id: UUID, principal: Principal, uow: SubmissionUnitOfWork, store: EvidenceStorage,
    command: SubmitAttempt | None = None,
) -> Submission:
    note = command.note_to_reviewer if command else None
    async with uow:
        submission = await _owned(uow, submission_id, principal)
        credential = await _credential_of(uow, submission)
        attempt = submission.submit(credential.submission_criteria, utc_now(), credential.max_attempts, note)
        uploaded = submission.uploaded_evidence()
        # The sealed copy is out of every URL's reach; this catches a store that lost or altered it, and an item
        # verified in place whose bytes changed before the sweep sealed it. All at once: the row is locked
        # meanwhile.
        found = await asyncio.gather(*(store.stat(evidence.stored_key) for evidence in uploaded))
        changed = [
            str(evidence.evidence_id)
            for evidence, stored in zip(uploaded, found, strict=True)
            if stored is None or stored.size != evidence.size_bytes or stored.etag != evidence.etag
        ]
        if changed:
            raise Conflict(
                "the stored files of some evidence are no longer the ones verified; delete those items and "
                "upload them again",
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
                        object_key=e.stored_key,
                        filename=e.filename,
                        content_type=e.recorded_content_type,
                        size_bytes=e.size_bytes,
                        sha256=e.sha256,
                        duration_seconds=e.duration_seconds,
                    )
                    # Captions travel with their video in the submission's own views, not as a file of the
                    # requirement: award counts these refs as the files it describes.
                    for e in uploaded if not e.is_captions
                ),
                responses=submission.prompt_responses(credential.submission_criteria),
                teacher_district=submission.teacher_district,
                teacher_school=submission.teacher_school,
                # From the token at the moment of submitting: the award names the teacher by the
                # identity they hold when they ask for the credential.
                teacher_email=principal.email,
                teacher_did=principal.did,
                note_to_reviewer=attempt.note_to_reviewer,
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
                max_attempts=event.max_attempts,
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
        if submission.assign_reviewer(
            event.attempt, event.reviewer_id, event.due_at, event.reassigned_from, role=event.role
        ):
            await uow.submissions.save(submission)
        await uow.commit()


async def record_reviewer_released(event: ReviewerReleased, uow: SubmissionUnitOfWork) -> None:
    """The reviewer gave the seat back: their access to the attempt and its evidence ends with this commit."""
    async with uow:
        if not await uow.claim(f"{CONSUMER}.record_reviewer_released", event.event_id):
            return
        submission = await _submission_for_event(uow, event.submission_id)
        if submission.release_reviewer(event.attempt, event.reviewer_id, event.role):
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
        if submission.record_award(event.award_id, event.issued_at):
            await uow.submissions.save(submission)
        await uow.commit()


# -- gauges ------------------------------------------------------------------------------------


async def refresh_gauges(uow: SubmissionUnitOfWork) -> None:
    """Re-read the submissions-by-status gauge: one grouped query, without a transaction."""
    async with uow:
        await uow.without_transaction()
        counts = await uow.submissions.count_by_status()
    uow.metrics.set_statuses(counts)
