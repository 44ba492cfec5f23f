"""The submission use cases driven through fakes: evidence uploads, submitting, consuming review events."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from submission_fakes import CRITERIA, FakeDatabase, FakeProbe, FakeStore, Reading

from microcred.events import (
    CredentialAwarded,
    CredentialPublished,
    CredentialRetired,
    CriterionFeedback,
    CriterionResult,
    IssuerProfile,
    PathwayChanged,
    PathwayStep,
    Resource,
    ReviewerAssigned,
    ReviewerReleased,
    RevisionRequested,
    Rubric,
    SubmissionCriteria,
    SubmissionScored,
    SubmissionSubmitted,
)
from microcred.runtime.auth import Principal
from microcred.runtime.errors import Conflict, Forbidden, Invalid, NotFound
from microcred.submission.domain.model import EvidenceStatus, PublishedCredential, SubmissionStatus, UploadMode
from microcred.submission.service_layer import handlers
from microcred.submission.service_layer.handlers import DeclareEvidence, StartSubmission, Viewer
from microcred.submission.service_layer.storage import EvidencePolicy

VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"v" * 400  # sniffs as video/mp4; the fake probe gives its duration
PROBE = FakeProbe()
REFLECTION = b"The exit tickets showed most students had it."
RUBRIC = Rubric.model_validate(
    {
        "criteria": [
            {"key": "overview", "name": "Overview", "levels": [
                {"key": "not-yet", "name": "Not Yet", "points": 0},
                {"key": "proficient", "name": "Proficient", "points": 1}]},
        ],
        "passing_rule": {"kind": "all_criteria_at_least", "level": "proficient"},
    }
)
FEEDBACK = (
    CriterionFeedback(
        criterion_key="overview", criterion_name="Overview", level_key="not-yet", level_name="Not Yet",
        feedback="Show how the hinge question changed the lesson.",
    ),
)


def declaration(requirement_key: str, content: bytes, filename: str = "file.bin", **overrides: Any) -> DeclareEvidence:
    fields: dict[str, Any] = {
        "requirement_key": requirement_key, "filename": filename, "content_type": "application/octet-stream",
        "size_bytes": len(content), "sha256": hashlib.sha256(content).hexdigest(),
    }
    return DeclareEvidence(**(fields | overrides))


async def start(db: FakeDatabase, credential: PublishedCredential, teacher: Principal) -> UUID:
    command = StartSubmission(credential_id=credential.credential_id)
    return (await handlers.start_submission(command, teacher, db.uow())).submission_id


async def upload(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, teacher: Principal, submission_id: UUID,
    requirement_key: str, content: bytes,
) -> UUID:
    ticket = await handlers.declare_evidence(
        submission_id, declaration(requirement_key, content), teacher, db.uow(), store, policy
    )
    store.put(ticket.object_key, content)
    await handlers.complete_evidence(submission_id, ticket.evidence_id, teacher, db.uow, store, PROBE)
    return ticket.evidence_id


async def submitted(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> UUID:
    submission_id = await start(db, credential, teacher)
    await upload(db, store, policy, teacher, submission_id, "classroom-video", VIDEO)
    await upload(db, store, policy, teacher, submission_id, "reflection", REFLECTION)
    await handlers.submit(submission_id, teacher, db.uow(), store)
    return submission_id


def assigned(submission_id: UUID, attempt: int = 1, reviewer_id: str = "reviewer-1") -> ReviewerAssigned:
    return ReviewerAssigned(
        correlation_id=uuid4(), review_id=uuid4(), submission_id=submission_id, attempt=attempt,
        reviewer_id=reviewer_id, due_at=datetime.now(UTC) + timedelta(days=7),
    )


def released(assignment: ReviewerAssigned, reason: str = "declined") -> ReviewerReleased:
    return ReviewerReleased(
        correlation_id=uuid4(), review_id=assignment.review_id, submission_id=assignment.submission_id,
        attempt=assignment.attempt, reviewer_id=assignment.reviewer_id, role=assignment.role,
        reason=reason,  # type: ignore[arg-type]
        released_at=datetime.now(UTC),
    )


def revision(submission_id: UUID, attempt: int = 1) -> RevisionRequested:
    return RevisionRequested(
        correlation_id=uuid4(), review_id=uuid4(), submission_id=submission_id, attempt=attempt,
        teacher_id="teacher-1", feedback=FEEDBACK,
    )


def scored(submission_id: UUID, credential: PublishedCredential, decision: str = "passed", attempt: int = 1) -> Any:
    return SubmissionScored(
        correlation_id=uuid4(), review_id=uuid4(), submission_id=submission_id, attempt=attempt,
        credential_id=credential.credential_id, credential_version=credential.version, teacher_id="teacher-1",
        decision=decision,  # type: ignore[arg-type]
        results=(CriterionResult(criterion_key="overview", criterion_name="Overview", level_key="proficient",
                                 level_name="Proficient", points=1),),
        total_points=1, scored_at=datetime.now(UTC),
    )


def awarded(submission_id: UUID, credential: PublishedCredential) -> CredentialAwarded:
    return CredentialAwarded(
        correlation_id=uuid4(), award_id=uuid4(), submission_id=submission_id,
        credential_id=credential.credential_id, credential_version=credential.version,
        credential_name=credential.name, issuer_id=uuid4(), teacher_id="teacher-1",
        issued_at=datetime.now(UTC), credential={},
    )


def published(credential_id: UUID, version: int, name: str = "Formative assessment") -> CredentialPublished:
    return CredentialPublished(
        correlation_id=uuid4(), credential_id=credential_id, version=version,
        issuer=IssuerProfile(issuer_id=uuid4(), name="Issuer"), name=name, description="d", competency="c",
        key_method="k", method_components=("m",), research=(Resource(title="r"),), submission_criteria=CRITERIA,
        rubric=RUBRIC,
    )


# -- starting ------------------------------------------------------------------------------------


async def test_a_new_submission_is_a_draft_bound_to_the_latest_published_version(db: FakeDatabase) -> None:
    credential_id = uuid4()
    await handlers.record_credential_published(published(credential_id, 1), db.uow())
    await handlers.record_credential_published(published(credential_id, 2, "Formative assessment v2"), db.uow())
    teacher = Principal(subject="t", roles=frozenset(), states=("TN",))
    submission = await handlers.start_submission(StartSubmission(credential_id=credential_id), teacher, db.uow())
    assert (submission.status, submission.attempt, submission.credential_version) == (SubmissionStatus.DRAFT, 1, 2)
    assert submission.states == ("TN",) and submission.teacher_id == "t"


async def test_an_older_version_published_late_does_not_replace_the_latest(db: FakeDatabase) -> None:
    credential_id = uuid4()
    await handlers.record_credential_published(published(credential_id, 2), db.uow())
    await handlers.record_credential_published(published(credential_id, 1), db.uow())
    teacher = Principal(subject="t", roles=frozenset())
    submission = await handlers.start_submission(StartSubmission(credential_id=credential_id), teacher, db.uow())
    assert submission.credential_version == 2


async def test_starting_a_submission_for_an_unknown_credential_is_refused(
    db: FakeDatabase, teacher: Principal
) -> None:
    with pytest.raises(Invalid) as refused:
        await handlers.start_submission(StartSubmission(credential_id=uuid4()), teacher, db.uow())
    assert refused.value.code == "credential_not_found"


# -- evidence ------------------------------------------------------------------------------------


async def test_declaring_evidence_returns_a_put_url_for_a_key_under_the_submission(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await start(db, credential, teacher)
    ticket = await handlers.declare_evidence(
        submission_id, declaration("reflection", REFLECTION, "../My reflection.txt"), teacher, db.uow(), store, policy
    )
    assert ticket.object_key == f"submissions/{submission_id}/{ticket.evidence_id}/My_reflection.txt"
    assert ticket.mode is UploadMode.SINGLE and ticket.url is not None and ticket.object_key in ticket.url
    assert ticket.expires_at > datetime.now(UTC) + timedelta(seconds=890)
    stored = db.state.submissions[submission_id].evidence[0]
    assert stored.status is EvidenceStatus.PENDING and stored.filename == "../My reflection.txt"


async def test_evidence_for_a_requirement_the_credential_does_not_have_is_refused(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await start(db, credential, teacher)
    with pytest.raises(Invalid) as refused:
        await handlers.declare_evidence(submission_id, declaration("lesson-plan", REFLECTION), teacher, db.uow(),
                                        store, policy)
    assert refused.value.code == "unknown_requirement"
    assert db.state.submissions[submission_id].evidence == []


async def test_evidence_larger_than_the_limit_is_refused(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await start(db, credential, teacher)
    with pytest.raises(Invalid) as refused:
        await handlers.declare_evidence(
            submission_id, declaration("reflection", REFLECTION, size_bytes=policy.max_bytes + 1), teacher,
            db.uow(), store, policy,
        )
    assert refused.value.code == "evidence_too_large"


async def test_only_the_owner_may_add_evidence_and_strangers_learn_nothing(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal,
    operator: Principal,
) -> None:
    submission_id = await start(db, credential, teacher)
    stranger = Principal(subject="teacher-2", roles=teacher.roles)
    with pytest.raises(NotFound):
        await handlers.declare_evidence(submission_id, declaration("reflection", REFLECTION), stranger, db.uow(),
                                        store, policy)
    with pytest.raises(Forbidden):
        await handlers.declare_evidence(submission_id, declaration("reflection", REFLECTION), operator, db.uow(),
                                        store, policy)


async def test_completing_before_the_upload_is_a_conflict(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await start(db, credential, teacher)
    ticket = await handlers.declare_evidence(submission_id, declaration("reflection", REFLECTION), teacher, db.uow(),
                                             store, policy)
    with pytest.raises(Conflict) as refused:
        await handlers.complete_evidence(submission_id, ticket.evidence_id, teacher, db.uow, store, PROBE)
    assert refused.value.code == "upload_missing"


async def test_an_upload_whose_bytes_differ_is_rejected_its_bytes_deleted_and_the_item_never_counts(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await start(db, credential, teacher)
    for stored, code in [(REFLECTION.upper(), "sha256_mismatch"), (REFLECTION + b"!", "size_mismatch")]:
        ticket = await handlers.declare_evidence(submission_id, declaration("reflection", REFLECTION), teacher,
                                                 db.uow(), store, policy)
        store.put(ticket.object_key, stored)
        with pytest.raises(Invalid) as refused:
            await handlers.complete_evidence(submission_id, ticket.evidence_id, teacher, db.uow, store, PROBE)
        assert refused.value.code == code
        item = db.state.submissions[submission_id].find_evidence(ticket.evidence_id)
        assert item is not None and item.status is EvidenceStatus.REJECTED and item.rejection is not None
        assert item.rejection["code"] == code and ticket.object_key not in store.objects
        assert not [key for key in store.objects if key.startswith("verified/")], "no copy of refused bytes stays"
        with pytest.raises(Conflict) as again:
            await handlers.complete_evidence(submission_id, ticket.evidence_id, teacher, db.uow, store, PROBE)
        assert again.value.code == "evidence_not_pending"


# -- submitting ----------------------------------------------------------------------------------


async def test_submitting_emits_the_evidence_by_reference_with_the_teachers_states(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await submitted(db, store, policy, credential, teacher)
    (event,) = db.state.outbox
    assert isinstance(event, SubmissionSubmitted)
    assert (event.submission_id, event.attempt, event.teacher_id) == (submission_id, 1, "teacher-1")
    assert (event.credential_id, event.credential_version) == (credential.credential_id, 1)
    assert event.states == ("TN", "KY")
    assert {e.requirement_key for e in event.evidence} == {"classroom-video", "reflection"}
    video = next(e for e in event.evidence if e.requirement_key == "classroom-video")
    assert video.sha256 == hashlib.sha256(VIDEO).hexdigest() and video.size_bytes == len(VIDEO)
    stored = db.state.submissions[submission_id]
    assert stored.status is SubmissionStatus.SUBMITTED and [a.number for a in stored.attempts] == [1]


async def test_submitting_carries_the_teachers_district_and_school_for_conflict_of_interest_routing(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    affiliated = teacher.model_copy(update={"district": "district-7", "school": "school-42"})
    await submitted(db, store, policy, credential, affiliated)
    (event,) = db.state.outbox
    assert isinstance(event, SubmissionSubmitted)
    assert (event.teacher_district, event.teacher_school) == ("district-7", "school-42")


async def test_submitting_with_missing_evidence_lists_what_is_missing_and_writes_nothing(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await start(db, credential, teacher)
    await upload(db, store, policy, teacher, submission_id, "reflection", REFLECTION)
    with pytest.raises(Invalid) as refused:
        await handlers.submit(submission_id, teacher, db.uow(), store)
    assert refused.value.code == "incomplete"
    assert refused.value.details == [{"requirement_key": "classroom-video", "min_count": 1, "uploaded": 0}]
    assert db.state.outbox == [] and db.state.submissions[submission_id].status is SubmissionStatus.DRAFT


async def test_submitting_twice_is_a_conflict_and_emits_once(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await submitted(db, store, policy, credential, teacher)
    with pytest.raises(Conflict) as refused:
        await handlers.submit(submission_id, teacher, db.uow(), store)
    assert refused.value.code == "not_submittable"
    assert len(db.state.outbox) == 1


async def test_bytes_put_through_an_upload_url_after_verification_reach_neither_the_event_nor_a_download(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal,
    reviewer: Principal,
) -> None:
    submission_id = await start(db, credential, teacher)
    await upload(db, store, policy, teacher, submission_id, "classroom-video", VIDEO)
    await upload(db, store, policy, teacher, submission_id, "reflection", REFLECTION)
    reflection = db.state.submissions[submission_id].evidence[1]
    assert reflection.verified_key is not None and reflection.verified_key.startswith(f"verified/{submission_id}/")
    assert store.queued == [db.state.submissions[submission_id].evidence[0].object_key, reflection.object_key], (
        "the upload is garbage once its copy is verified, deleted with the next batch")
    assert await store.remove_queued() == 2 and reflection.object_key not in store.objects

    store.put(reflection.object_key, REFLECTION.upper())  # same size, other bytes, through the still-valid URL
    again = await handlers.complete_evidence(submission_id, reflection.evidence_id, teacher, db.uow, store, PROBE)
    assert again.verified_key == reflection.verified_key and again.etag == reflection.etag
    await handlers.submit(submission_id, teacher, db.uow(), store)
    (event,) = db.state.outbox
    assert isinstance(event, SubmissionSubmitted)
    sent = next(e for e in event.evidence if e.evidence_id == reflection.evidence_id)
    assert sent.object_key == reflection.verified_key
    assert hashlib.sha256(store.objects[sent.object_key]).hexdigest() == sent.sha256 == hashlib.sha256(
        REFLECTION).hexdigest()

    await handlers.record_reviewer_assigned(assigned(submission_id), db.uow())
    ticket = await handlers.evidence_download(submission_id, reflection.evidence_id, reviewer, db.uow(), store, policy)
    assert reflection.verified_key in ticket.download_url and reflection.object_key not in ticket.download_url


async def test_a_sealed_copy_the_store_lost_or_altered_blocks_the_submit(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await start(db, credential, teacher)
    await upload(db, store, policy, teacher, submission_id, "classroom-video", VIDEO)
    reflection_id = await upload(db, store, policy, teacher, submission_id, "reflection", REFLECTION)
    sealed = db.state.submissions[submission_id].evidence[1].verified_key
    assert sealed is not None
    store.put(sealed, REFLECTION.upper())
    with pytest.raises(Conflict) as refused:
        await handlers.submit(submission_id, teacher, db.uow(), store)
    assert (refused.value.code, refused.value.details) == ("evidence_changed", [str(reflection_id)])
    assert db.state.outbox == []


class InterleavingStore(FakeStore):
    """Runs ``between`` once, right after the first sealed object is made (by a copy or by writing the bytes
    read): another request arriving mid-way."""

    def __init__(self, sealing: str = "rewritten") -> None:
        super().__init__()
        self.between: Any = None
        # "copied": every item takes the copy path, as one larger than what is read whole on the loop does.
        if sealing == "copied":
            self.keep_max_bytes = 0

    async def copy(self, source_key: str, target_key: str, *, if_etag: str | None = None) -> str | None:
        copied = await super().copy(source_key, target_key, if_etag=if_etag)
        await self._interleave()
        return copied

    async def write(self, object_key: str, content: bytes, content_type: str | None) -> str:
        written = await super().write(object_key, content, content_type)
        await self._interleave()
        return written

    async def _interleave(self) -> None:
        between, self.between = self.between, None
        if between is not None:
            await between()


SEALINGS = pytest.mark.parametrize("sealing", ["rewritten", "copied"])


@SEALINGS
async def test_of_two_concurrent_completions_one_copy_is_kept_and_the_other_deleted(
    db: FakeDatabase, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal, sealing: str
) -> None:
    store = InterleavingStore(sealing)
    submission_id = await start(db, credential, teacher)
    ticket = await handlers.declare_evidence(submission_id, declaration("reflection", REFLECTION), teacher, db.uow(),
                                             store, policy)
    store.put(ticket.object_key, REFLECTION)

    async def second_completion() -> None:
        await handlers.complete_evidence(submission_id, ticket.evidence_id, teacher, db.uow, store, PROBE)

    store.between = second_completion
    first = await handlers.complete_evidence(submission_id, ticket.evidence_id, teacher, db.uow, store, PROBE)
    copies = [key for key in store.objects if key.startswith(f"verified/{submission_id}/")]
    assert copies == [first.verified_key], "the copy the first completion made was deleted"
    assert store.objects[copies[0]] == REFLECTION and store.queued == [ticket.object_key]


@SEALINGS
async def test_a_rejection_that_deletes_the_copy_before_it_is_read_makes_the_first_completion_a_conflict(
    db: FakeDatabase, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal, sealing: str
) -> None:
    # A copy is not stat'ed after it is made: reading it is what finds it gone. Bytes written were read before,
    # and the verdict's re-read of the item under its lock finds it rejected.
    store = InterleavingStore(sealing)
    submission_id = await start(db, credential, teacher)
    ticket = await handlers.declare_evidence(submission_id, declaration("reflection", REFLECTION), teacher, db.uow(),
                                             store, policy)
    store.put(ticket.object_key, REFLECTION)

    async def rejecting_completion() -> None:
        store.put(ticket.object_key, REFLECTION + b"!")
        with pytest.raises(Invalid):
            await handlers.complete_evidence(submission_id, ticket.evidence_id, teacher, db.uow, store, PROBE)

    store.between = rejecting_completion
    with pytest.raises(Conflict) as refused:
        await handlers.complete_evidence(submission_id, ticket.evidence_id, teacher, db.uow, store, PROBE)
    assert refused.value.code == "evidence_not_pending"
    assert db.state.submissions[submission_id].evidence[0].status is EvidenceStatus.REJECTED
    assert not [key for key in store.objects if key.startswith("verified/")]


async def test_an_upload_replaced_between_its_size_check_and_its_copy_is_not_copied(
    db: FakeDatabase, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    class ReplacedBeforeCopy(FakeStore):
        async def copy(self, source_key: str, target_key: str, *, if_etag: str | None = None) -> str | None:
            self.put(source_key, REFLECTION * 1000)  # a larger file PUT at just this moment
            return await super().copy(source_key, target_key, if_etag=if_etag)

    store = ReplacedBeforeCopy()
    store.keep_max_bytes = 0  # the copy path: an item larger than what is read whole on the event loop
    submission_id = await start(db, credential, teacher)
    ticket = await handlers.declare_evidence(submission_id, declaration("reflection", REFLECTION), teacher, db.uow(),
                                             store, policy)
    store.put(ticket.object_key, REFLECTION)
    with pytest.raises(Conflict) as refused:
        await handlers.complete_evidence(submission_id, ticket.evidence_id, teacher, db.uow, store, PROBE)
    assert refused.value.code == "upload_changed"
    assert db.state.submissions[submission_id].evidence[0].status is EvidenceStatus.PENDING
    assert not [key for key in store.objects if key.startswith("verified/")]


async def test_an_upload_replaced_just_after_it_was_read_is_sealed_as_read(
    db: FakeDatabase, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    """A small item is sealed by writing the bytes the service read: another file PUT through the still-valid URL
    at that moment (same size, other bytes) is neither sealed nor verified, and goes with the upload."""
    class ReplacedAfterRead(FakeStore):
        async def read_if_size(self, object_key: str, size: int) -> Reading | None:
            reading = await super().read_if_size(object_key, size)
            self.put(object_key, REFLECTION.upper())
            return reading

    store = ReplacedAfterRead()
    submission_id = await start(db, credential, teacher)
    ticket = await handlers.declare_evidence(submission_id, declaration("reflection", REFLECTION), teacher, db.uow(),
                                             store, policy)
    store.put(ticket.object_key, REFLECTION)
    verified = await handlers.complete_evidence(submission_id, ticket.evidence_id, teacher, db.uow, store, PROBE)
    assert verified.status is EvidenceStatus.UPLOADED and verified.verified_key is not None
    assert store.objects[verified.verified_key] == REFLECTION and store.queued == [ticket.object_key]


async def test_evidence_cannot_be_added_while_the_attempt_is_in_review(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await submitted(db, store, policy, credential, teacher)
    with pytest.raises(Conflict) as refused:
        await handlers.declare_evidence(submission_id, declaration("reflection", REFLECTION), teacher, db.uow(),
                                        store, policy)
    assert refused.value.code == "evidence_locked"


# -- review events -------------------------------------------------------------------------------


async def test_the_assigned_reviewer_gets_a_blind_view_and_may_download_until_revision_is_requested(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal,
    reviewer: Principal,
) -> None:
    submission_id = await submitted(db, store, policy, credential, teacher)
    with pytest.raises(NotFound):
        await handlers.get_submission(submission_id, reviewer, db.uow())

    await handlers.record_reviewer_assigned(assigned(submission_id), db.uow())
    submission, viewer = await handlers.get_submission(submission_id, reviewer, db.uow())
    assert viewer is Viewer.REVIEWER and submission.status is SubmissionStatus.UNDER_REVIEW
    evidence_id = submission.evidence[0].evidence_id
    ticket = await handlers.evidence_download(submission_id, evidence_id, reviewer, db.uow(), store, policy)
    assert str(submission.evidence[0].verified_key) in ticket.download_url

    await handlers.record_revision_requested(revision(submission_id), db.uow())
    with pytest.raises(NotFound):
        await handlers.evidence_download(submission_id, evidence_id, reviewer, db.uow(), store, policy)
    owned, viewer = await handlers.get_submission(submission_id, teacher, db.uow())
    assert viewer is Viewer.OWNER and owned.attempts[0].feedback == FEEDBACK


@pytest.mark.parametrize("reason", ["declined", "overdue"])
async def test_a_reviewer_who_gives_the_work_back_loses_the_view_and_the_downloads_before_anyone_else_is_assigned(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal,
    reviewer: Principal, reason: str,
) -> None:
    submission_id = await submitted(db, store, policy, credential, teacher)
    assignment = assigned(submission_id)
    await handlers.record_reviewer_assigned(assignment, db.uow())
    submission, _ = await handlers.get_submission(submission_id, reviewer, db.uow())
    evidence_id = submission.evidence[0].evidence_id
    await handlers.evidence_download(submission_id, evidence_id, reviewer, db.uow(), store, policy)

    await handlers.record_reviewer_released(released(assignment, reason), db.uow())
    with pytest.raises(NotFound):
        await handlers.get_submission(submission_id, reviewer, db.uow())
    with pytest.raises(NotFound):
        await handlers.evidence_download(submission_id, evidence_id, reviewer, db.uow(), store, policy)
    assert db.state.submissions[submission_id].status is SubmissionStatus.UNDER_REVIEW


async def test_a_release_handled_before_its_assignment_still_ends_the_access_and_the_next_reviewer_gets_it(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal,
    reviewer: Principal,
) -> None:
    submission_id = await submitted(db, store, policy, credential, teacher)
    first = assigned(submission_id)
    successor = assigned(submission_id, reviewer_id="reviewer-2").model_copy(
        update={"review_id": first.review_id, "reassigned_from": "reviewer-1"}
    )
    await handlers.record_reviewer_assigned(successor, db.uow())
    await handlers.record_reviewer_released(released(first), db.uow())
    await handlers.record_reviewer_assigned(first, db.uow())
    with pytest.raises(NotFound):
        await handlers.get_submission(submission_id, reviewer, db.uow())
    next_reviewer = reviewer.model_copy(update={"subject": "reviewer-2"})
    _, viewer = await handlers.get_submission(submission_id, next_reviewer, db.uow())
    assert viewer is Viewer.REVIEWER


async def test_an_operator_sees_every_submission_but_may_not_download(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal,
    operator: Principal,
) -> None:
    submission_id = await submitted(db, store, policy, credential, teacher)
    assert [s.submission_id for s in await handlers.list_submissions(operator, db.uow(), limit=10, offset=0)] == [
        submission_id
    ]
    submission, viewer = await handlers.get_submission(submission_id, operator, db.uow())
    assert viewer is Viewer.OPERATOR
    with pytest.raises(Forbidden):
        await handlers.evidence_download(submission_id, submission.evidence[0].evidence_id, operator, db.uow(),
                                         store, policy)


async def test_each_consumer_ignores_a_redelivered_event(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await submitted(db, store, policy, credential, teacher)
    assignment = assigned(submission_id)
    deliveries: list[tuple[Any, Any]] = [
        (handlers.record_reviewer_assigned, assignment),
        (handlers.record_reviewer_released, released(assignment)),
        (handlers.record_revision_requested, revision(submission_id)),
    ]
    def observed() -> tuple[Any, ...]:
        stored = db.state.submissions[submission_id]
        return db.commits, stored.status, stored.attempts[0].assigned_seats, stored.attempts[0].released_seats

    for handle, event in deliveries:
        await handle(event, db.uow())
        before = observed()
        await handle(event, db.uow())
        assert observed() == before
    assert db.state.submissions[submission_id].status is SubmissionStatus.REVISE_REQUESTED

    await handlers.record_credential_published(published(credential.credential_id, 5), db.uow())
    commits = db.commits
    await handlers.record_credential_published(published(credential.credential_id, 5), db.uow())
    assert db.commits == commits + 1  # a different event_id: claimed, the projection is unchanged


async def test_a_redelivered_award_changes_nothing(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await submitted(db, store, policy, credential, teacher)
    await handlers.record_reviewer_assigned(assigned(submission_id), db.uow())
    await handlers.record_submission_scored(scored(submission_id, credential), db.uow())
    award = awarded(submission_id, credential)
    await handlers.record_credential_awarded(award, db.uow())
    commits = db.commits
    await handlers.record_credential_awarded(award, db.uow())
    assert db.commits == commits
    stored = db.state.submissions[submission_id]
    assert stored.status is SubmissionStatus.AWARDED and stored.award_id == award.award_id


async def test_the_full_revise_and_resubmit_cycle_and_stale_events_being_claimed_but_ignored(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await submitted(db, store, policy, credential, teacher)
    await handlers.record_reviewer_assigned(assigned(submission_id), db.uow())
    await handlers.record_submission_scored(scored(submission_id, credential, "revise"), db.uow())
    assert db.state.submissions[submission_id].status is SubmissionStatus.UNDER_REVIEW
    await handlers.record_revision_requested(revision(submission_id), db.uow())

    await upload(db, store, policy, teacher, submission_id, "reflection", b"Revised reflection.")
    await handlers.submit(submission_id, teacher, db.uow(), store)
    second = db.state.outbox[-1]
    assert isinstance(second, SubmissionSubmitted) and second.attempt == 2 and len(second.evidence) == 3

    stale = scored(submission_id, credential, "passed", attempt=1)
    await handlers.record_submission_scored(stale, db.uow())
    assert ("submission.record_submission_scored", stale.event_id) in db.state.inbox
    assert db.state.submissions[submission_id].status is SubmissionStatus.SUBMITTED

    await handlers.record_reviewer_assigned(assigned(submission_id, attempt=2, reviewer_id="reviewer-2"), db.uow())
    await handlers.record_submission_scored(scored(submission_id, credential, "passed", attempt=2), db.uow())
    await handlers.record_credential_awarded(awarded(submission_id, credential), db.uow())
    final = db.state.submissions[submission_id]
    assert (final.status, final.attempt) == (SubmissionStatus.AWARDED, 2)
    assert final.attempts[1].reviewer_id == "reviewer-2" and final.attempts[0].feedback == FEEDBACK


async def test_a_resubmission_carries_the_teachers_note_to_the_reviewer_and_keeps_it_with_the_attempt(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await submitted(db, store, policy, credential, teacher)
    first = db.state.outbox[-1]
    assert isinstance(first, SubmissionSubmitted) and first.note_to_reviewer is None
    await handlers.record_reviewer_assigned(assigned(submission_id), db.uow())
    await handlers.record_revision_requested(revision(submission_id), db.uow())

    note = "  I added the exit tickets and rewrote the reflection on the hinge question.\n"
    await handlers.submit(submission_id, teacher, db.uow(), store, handlers.SubmitAttempt(note_to_reviewer=note))
    second = db.state.outbox[-1]
    assert isinstance(second, SubmissionSubmitted) and second.attempt == 2
    assert second.note_to_reviewer == note.strip(), "the event carries the note, without the edges' white space"
    attempts = db.state.submissions[submission_id].attempts
    assert [a.note_to_reviewer for a in attempts] == [None, note.strip()]


async def test_a_blank_note_to_the_reviewer_is_no_note(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await start(db, credential, teacher)
    await upload(db, store, policy, teacher, submission_id, "classroom-video", VIDEO)
    await upload(db, store, policy, teacher, submission_id, "reflection", REFLECTION)
    await handlers.submit(submission_id, teacher, db.uow(), store, handlers.SubmitAttempt(note_to_reviewer=" \n "))
    event = db.state.outbox[-1]
    assert isinstance(event, SubmissionSubmitted) and event.note_to_reviewer is None
    assert db.state.submissions[submission_id].attempts[0].note_to_reviewer is None


async def test_a_review_event_for_an_unknown_submission_fails_so_it_is_retried_then_dead_lettered(
    db: FakeDatabase,
) -> None:
    with pytest.raises(NotFound):
        await handlers.record_reviewer_assigned(assigned(uuid4()), db.uow())
    assert db.state.inbox == set()


# -- retired versions ------------------------------------------------------------------------------


def retired(credential_id: UUID, version: int) -> CredentialRetired:
    return CredentialRetired(correlation_id=uuid4(), credential_id=credential_id, version=version,
                             reason="superseded by a revised rubric")


async def test_a_retired_version_takes_no_new_drafts_and_they_bind_to_the_latest_open_one(
    db: FakeDatabase, teacher: Principal
) -> None:
    credential_id = uuid4()
    for version in (1, 2):
        await handlers.record_credential_published(published(credential_id, version), db.uow())
    await handlers.record_credential_retired(retired(credential_id, 2), db.uow())
    submission = await handlers.start_submission(StartSubmission(credential_id=credential_id), teacher, db.uow())
    assert submission.credential_version == 1


async def test_starting_a_credential_whose_every_version_is_retired_is_a_conflict_that_writes_nothing(
    db: FakeDatabase, teacher: Principal
) -> None:
    credential_id = uuid4()
    await handlers.record_credential_published(published(credential_id, 1), db.uow())
    await handlers.record_credential_retired(retired(credential_id, 1), db.uow())
    with pytest.raises(Conflict) as refused:
        await handlers.start_submission(StartSubmission(credential_id=credential_id), teacher, db.uow())
    assert refused.value.code == "credential_retired"
    assert db.state.submissions == {}


async def test_a_retirement_that_overtakes_its_publication_still_applies(db: FakeDatabase, teacher: Principal) -> None:
    credential_id = uuid4()
    await handlers.record_credential_retired(retired(credential_id, 1), db.uow())
    await handlers.record_credential_published(published(credential_id, 1), db.uow())
    with pytest.raises(Conflict):
        await handlers.start_submission(StartSubmission(credential_id=credential_id), teacher, db.uow())


async def test_a_submission_on_a_version_retired_later_is_submitted_revised_resubmitted_and_awarded(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await start(db, credential, teacher)
    await handlers.record_credential_retired(retired(credential.credential_id, 1), db.uow())
    await upload(db, store, policy, teacher, submission_id, "classroom-video", VIDEO)
    await upload(db, store, policy, teacher, submission_id, "reflection", REFLECTION)
    await handlers.submit(submission_id, teacher, db.uow(), store)
    await handlers.record_reviewer_assigned(assigned(submission_id), db.uow())
    await handlers.record_revision_requested(revision(submission_id), db.uow())
    await upload(db, store, policy, teacher, submission_id, "reflection", b"Revised reflection.")
    await handlers.submit(submission_id, teacher, db.uow(), store)
    await handlers.record_submission_scored(scored(submission_id, credential, attempt=2), db.uow())
    await handlers.record_credential_awarded(awarded(submission_id, credential), db.uow())
    final = db.state.submissions[submission_id]
    assert (final.status, final.attempt, final.credential_version) == (SubmissionStatus.AWARDED, 2, 1)


async def test_a_redelivered_retirement_is_claimed_once(db: FakeDatabase) -> None:
    event = retired(uuid4(), 1)
    await handlers.record_credential_retired(event, db.uow())
    commits = db.commits
    await handlers.record_credential_retired(event, db.uow())
    assert db.commits == commits and ("submission.record_credential_retired", event.event_id) in db.state.inbox


# -- prerequisites -------------------------------------------------------------------------------


def pathway(
    pathway_id: UUID, revision: int, *steps: tuple[UUID, tuple[UUID, ...]], active: bool = True
) -> PathwayChanged:
    return PathwayChanged(
        correlation_id=uuid4(), pathway_id=pathway_id, revision=revision, issuer_id=uuid4(), name="Mentor teacher",
        description="d", active=active,
        steps=tuple(PathwayStep(credential_id=c, prerequisites=needs) for c, needs in steps),
    )


async def publish_all(db: FakeDatabase, *credential_ids: UUID) -> None:
    for credential_id in credential_ids:
        await handlers.record_credential_published(published(credential_id, 1, f"Credential {credential_id}"),
                                                   db.uow())


async def refusal(db: FakeDatabase, teacher: Principal, credential_id: UUID) -> Invalid | None:
    try:
        await handlers.start_submission(StartSubmission(credential_id=credential_id), teacher, db.uow())
    except Invalid as refused:
        return refused
    return None


async def test_a_credential_with_unearned_prerequisites_cannot_be_started_until_they_are_awarded(
    db: FakeDatabase, teacher: Principal
) -> None:
    basics, coaching, mentoring = uuid4(), uuid4(), uuid4()
    await publish_all(db, basics, coaching, mentoring)
    await handlers.record_pathway_changed(
        pathway(uuid4(), 1, (basics, ()), (coaching, (basics,)), (mentoring, (basics, coaching))), db.uow()
    )
    refused = await refusal(db, teacher, mentoring)
    assert refused is not None and refused.code == "prerequisites_not_met"
    assert refused.details == sorted([str(basics), str(coaching)])
    assert f"Credential {basics}" in refused.message and f"Credential {coaching}" in refused.message
    assert db.state.submissions == {}

    for earned in (basics, coaching):
        await handlers.record_credential_awarded(await awarded_elsewhere(db, teacher, earned), db.uow())
    assert ("teacher-1", basics) in db.state.earned
    assert await refusal(db, teacher, mentoring) is None
    assert await refusal(db, teacher, basics) is None  # the first step needs nothing


async def awarded_elsewhere(db: FakeDatabase, teacher: Principal, credential_id: UUID) -> CredentialAwarded:
    """An award for a submission of ``credential_id`` that has passed, as award.awarded announces it."""
    submission = await handlers.start_submission(StartSubmission(credential_id=credential_id), teacher, db.uow())
    state = db.state.submissions[submission.submission_id]
    state.status, state.attempt = SubmissionStatus.PASSED, 1
    credential = db.state.credentials[(credential_id, 1)]
    return awarded(submission.submission_id, credential)


async def test_prerequisites_are_the_union_over_every_active_pathway_naming_the_credential(
    db: FakeDatabase, teacher: Principal
) -> None:
    first, second, target = uuid4(), uuid4(), uuid4()
    await publish_all(db, first, second, target)
    await handlers.record_pathway_changed(pathway(uuid4(), 1, (target, (first,))), db.uow())
    await handlers.record_pathway_changed(pathway(uuid4(), 1, (second, ()), (target, (second,))), db.uow())
    refused = await refusal(db, teacher, target)
    assert refused is not None and refused.details == sorted([str(first), str(second)])


async def test_only_a_higher_revision_replaces_a_pathway(db: FakeDatabase, teacher: Principal) -> None:
    basics, target, pathway_id = uuid4(), uuid4(), uuid4()
    await publish_all(db, basics, target)
    await handlers.record_pathway_changed(pathway(pathway_id, 2, (target, (basics,))), db.uow())
    await handlers.record_pathway_changed(pathway(pathway_id, 1, (target, ())), db.uow())
    await handlers.record_pathway_changed(pathway(pathway_id, 2, (target, ())), db.uow())
    assert await refusal(db, teacher, target) is not None

    await handlers.record_pathway_changed(pathway(pathway_id, 3, (target, ())), db.uow())
    assert await refusal(db, teacher, target) is None


async def test_a_removed_pathway_imposes_nothing_and_an_older_revision_cannot_bring_it_back(
    db: FakeDatabase, teacher: Principal
) -> None:
    basics, target, pathway_id = uuid4(), uuid4(), uuid4()
    await publish_all(db, basics, target)
    await handlers.record_pathway_changed(pathway(pathway_id, 1, (target, (basics,))), db.uow())
    await handlers.record_pathway_changed(pathway(pathway_id, 2, (target, (basics,)), active=False), db.uow())
    assert await refusal(db, teacher, target) is None
    await handlers.record_pathway_changed(pathway(pathway_id, 1, (target, (basics,))), db.uow())
    assert await refusal(db, teacher, target) is None


async def test_a_redelivered_pathway_change_and_award_change_nothing(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal
) -> None:
    event = pathway(uuid4(), 1, (uuid4(), (credential.credential_id,)))
    await handlers.record_pathway_changed(event, db.uow())
    commits = db.commits
    await handlers.record_pathway_changed(event, db.uow())
    assert db.commits == commits

    submission_id = await submitted(db, store, policy, credential, teacher)
    await handlers.record_submission_scored(scored(submission_id, credential), db.uow())
    award = awarded(submission_id, credential)
    await handlers.record_credential_awarded(award, db.uow())
    await handlers.record_credential_awarded(award, db.uow())
    assert db.state.earned == {("teacher-1", credential.credential_id)}


# -- evidence limits -------------------------------------------------------------------------------

LIMITED = SubmissionCriteria.model_validate(
    {
        "items": [
            {"key": "classroom-video", "kind": "video", "title": "Video of the lesson", "max_count": 1,
             "max_size_bytes": 1000, "accepted_content_types": ["video/mp4"], "min_duration_seconds": 300},
            {"key": "student-work", "kind": "student_work", "title": "Student work", "min_count": 2},
        ]
    }
)


@pytest.fixture
def limited(db: FakeDatabase) -> PublishedCredential:
    credential = PublishedCredential(credential_id=uuid4(), version=1, name="Questioning", submission_criteria=LIMITED)
    db.state.credentials[(credential.credential_id, 1)] = credential
    return credential


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"content_type": "video/webm"}, "content_type_not_accepted"),
        ({"content_type": "video/mp4", "size_bytes": 1001}, "evidence_too_large"),
    ],
)
async def test_evidence_outside_the_requirements_limits_is_refused_and_nothing_is_registered(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, limited: PublishedCredential, teacher: Principal,
    overrides: dict[str, Any], code: str,
) -> None:
    submission_id = await start(db, limited, teacher)
    with pytest.raises(Invalid) as refused:
        await handlers.declare_evidence(submission_id, declaration("classroom-video", VIDEO, **overrides), teacher,
                                        db.uow(), store, policy)
    assert refused.value.code == code
    assert db.state.submissions[submission_id].evidence == []


async def test_a_second_item_where_one_is_allowed_is_refused_until_the_first_is_withdrawn(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, limited: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await start(db, limited, teacher)
    video = declaration("classroom-video", VIDEO, content_type="video/mp4")
    first = await handlers.declare_evidence(submission_id, video, teacher, db.uow(), store, policy)
    with pytest.raises(Invalid) as refused:
        await handlers.declare_evidence(submission_id, video, teacher, db.uow(), store, policy)
    assert refused.value.code == "too_many_items"

    withdrawn = await handlers.withdraw_evidence(submission_id, first.evidence_id, teacher, db.uow(), store)
    assert withdrawn.status is EvidenceStatus.WITHDRAWN
    await handlers.declare_evidence(submission_id, video, teacher, db.uow(), store, policy)
    assert [e.status for e in db.state.submissions[submission_id].evidence] == [
        EvidenceStatus.WITHDRAWN, EvidenceStatus.PENDING,
    ]


async def test_submitting_needs_the_minimum_count_of_uploads_and_sends_no_withdrawn_evidence(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, limited: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await start(db, limited, teacher)
    ticket = await handlers.declare_evidence(
        submission_id, declaration("classroom-video", VIDEO[:900], content_type="video/mp4"), teacher, db.uow(),
        store, policy,
    )
    store.put(ticket.object_key, VIDEO[:900])
    PROBE.durations[ticket.object_key] = 420.0  # within the requirement's 5 to 10 minutes
    await handlers.complete_evidence(submission_id, ticket.evidence_id, teacher, db.uow, store, PROBE)
    await upload(db, store, policy, teacher, submission_id, "student-work", b"exit ticket 1")
    with pytest.raises(Invalid) as refused:
        await handlers.submit(submission_id, teacher, db.uow(), store)
    assert refused.value.details == [{"requirement_key": "student-work", "min_count": 2, "uploaded": 1}]

    extra = await upload(db, store, policy, teacher, submission_id, "student-work", b"exit ticket 2")
    spare = await upload(db, store, policy, teacher, submission_id, "student-work", b"exit ticket 3")
    await handlers.withdraw_evidence(submission_id, spare, teacher, db.uow(), store)
    await handlers.submit(submission_id, teacher, db.uow(), store)
    (event,) = db.state.outbox
    assert isinstance(event, SubmissionSubmitted)
    sent = [e.evidence_id for e in event.evidence]
    assert len(sent) == 3 and extra in sent and spare not in sent


async def test_only_the_owner_may_withdraw_evidence_and_only_while_it_is_editable(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, credential: PublishedCredential, teacher: Principal,
    operator: Principal,
) -> None:
    submission_id = await submitted(db, store, policy, credential, teacher)
    evidence_id = db.state.submissions[submission_id].evidence[0].evidence_id
    with pytest.raises(Forbidden):
        await handlers.withdraw_evidence(submission_id, evidence_id, operator, db.uow(), store)
    with pytest.raises(Conflict) as refused:
        await handlers.withdraw_evidence(submission_id, evidence_id, teacher, db.uow(), store)
    assert refused.value.code == "evidence_locked"
    assert db.state.submissions[submission_id].evidence[0].status is EvidenceStatus.UPLOADED
