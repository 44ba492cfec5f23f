"""Uploads, verification, written responses, attempt limits, withdrawal and the evidence sweeps:
pure rules first, then the use cases through fakes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from submission_fakes import CRITERIA, FakeDatabase, FakeProbe, FakeStore

from microcred.events import EvidenceRequirement, SubmissionCriteria, SubmissionSubmitted, SubmissionWithdrawn
from microcred.runtime.auth import Principal
from microcred.runtime.errors import Conflict, Invalid
from microcred.submission.adapters.content_sniffing import sniff_content_type
from microcred.submission.domain.model import (
    Answer,
    Evidence,
    EvidenceStatus,
    MediaInfo,
    PublishedCredential,
    Submission,
    SubmissionStatus,
    UploadFacts,
    UploadMode,
    check_content_type,
    check_duration,
    evidence_object_key,
    plan_upload,
    verified_object_key,
)
from microcred.submission.service_layer import evidence_retention, handlers
from microcred.submission.service_layer.handlers import (
    AnswerPrompts,
    DeclareEvidence,
    RequestParts,
    StartSubmission,
    WithdrawSubmission,
)
from microcred.submission.service_layer.storage import EvidencePolicy, RetentionPolicy

MiB = 1024**2
NOW = datetime(2026, 3, 1, tzinfo=UTC)
VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"v" * 400
TEXT = b"The exit tickets showed most students had it.\n"
PROMPTED = SubmissionCriteria.model_validate({"items": [
    {"key": "classroom-video", "kind": "video", "title": "Video", "min_duration_seconds": 300,
     "max_duration_seconds": 600, "accepted_content_types": ["video/*"]},
    {"key": "reflection", "kind": "reflection", "title": "Reflection", "prompts": ["What happened?", "What next?"]},
    {"key": "extra", "kind": "document", "title": "Extra", "required": False, "prompts": ["Anything else?"]},
]})
VIDEO_REQUIREMENT, REFLECTION_REQUIREMENT = PROMPTED.items[0], PROMPTED.items[1]


def requirement(**fields: Any) -> EvidenceRequirement:
    return EvidenceRequirement.model_validate({"key": "r", "kind": "document", "title": "Document"} | fields)


def item(content: bytes = TEXT, content_type: str = "text/plain", key: str = "reflection") -> Evidence:
    return Evidence(evidence_id=uuid4(), requirement_key=key, filename="f", content_type=content_type,
                    size_bytes=len(content), sha256=hashlib.sha256(content).hexdigest(), object_key="k")


def facts(content: bytes, sniffed: str | None, media: MediaInfo | None = None, probed: bool = False) -> UploadFacts:
    return UploadFacts(size=len(content), sha256=hashlib.sha256(content).hexdigest(), etag="e",
                       sniffed_content_type=sniffed, media=media, media_probed=probed, sealed_key="verified/s/e/c/f")


# -- upload plans ----------------------------------------------------------------------------------


def test_files_up_to_the_single_upload_limit_take_one_put_and_larger_ones_take_parts() -> None:
    assert plan_upload(16 * MiB, single_max_bytes=16 * MiB, part_size_bytes=16 * MiB).mode is UploadMode.SINGLE
    plan = plan_upload(16 * MiB + 1, single_max_bytes=16 * MiB, part_size_bytes=16 * MiB)
    assert (plan.mode, plan.part_size, plan.part_count) == (UploadMode.MULTIPART, 16 * MiB, 2)


def test_parts_grow_when_a_file_would_need_more_parts_than_s3_allows() -> None:
    plan = plan_upload(200 * 1024**3, single_max_bytes=MiB, part_size_bytes=5 * MiB)
    assert plan.part_count is not None and plan.part_count <= 10_000
    assert plan.part_size is not None and plan.part_size * plan.part_count >= 200 * 1024**3


# -- what landed -----------------------------------------------------------------------------------


def test_text_is_recognised_by_decoding_and_keeps_a_declared_text_type() -> None:
    assert sniff_content_type(b"# Notes\n", True, "text/markdown") == "text/markdown"
    assert sniff_content_type(b"a,b\n1,2\n", True, "video/mp4") == "text/plain"
    assert sniff_content_type(VIDEO, False, "text/plain") == "video/mp4"
    assert sniff_content_type(b"\x01\x02\xff\xfe", False, "application/x-thing") is None


def test_bytes_of_another_family_than_declared_are_a_mismatch_that_names_both() -> None:
    with pytest.raises(Invalid) as refused:
        check_content_type(requirement(), "video/mp4", "text/plain")
    assert (refused.value.code, refused.value.message) == (
        "content_type_mismatch", "declared video/mp4 but the bytes are text/plain")


def test_a_video_in_another_container_of_the_same_family_is_accepted_under_its_real_type() -> None:
    assert check_content_type(requirement(), "video/mp4", "video/quicktime") == "video/quicktime"


def test_unrecognisable_bytes_contradict_a_type_a_sniffer_would_know_but_not_an_exotic_one() -> None:
    with pytest.raises(Invalid):
        check_content_type(requirement(), "image/png", None)
    assert check_content_type(requirement(), "application/x-smartboard", None) == "application/x-smartboard"


def test_octet_stream_claims_nothing_so_the_sniffed_type_decides() -> None:
    assert check_content_type(requirement(), "application/octet-stream", "application/pdf") == "application/pdf"
    with pytest.raises(Invalid):
        check_content_type(requirement(accepted_content_types=["application/pdf"]), "application/octet-stream",
                           "image/png")


def test_an_office_document_sniffed_as_its_zip_container_keeps_its_declared_type() -> None:
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert check_content_type(requirement(accepted_content_types=[docx]), docx, "application/zip") == docx


def test_video_evidence_must_be_video_whatever_was_declared() -> None:
    with pytest.raises(Invalid) as refused:
        check_content_type(requirement(kind="video"), "application/octet-stream", "image/png")
    assert "must be a video" in refused.value.message


def test_a_duration_outside_the_range_or_unreadable_is_refused() -> None:
    check_duration(VIDEO_REQUIREMENT, MediaInfo(duration_seconds=420))
    with pytest.raises(Invalid) as short:
        check_duration(VIDEO_REQUIREMENT, MediaInfo(duration_seconds=180))
    assert short.value.code == "duration_out_of_range" and short.value.details["duration_seconds"] == 180
    with pytest.raises(Invalid) as unreadable:
        check_duration(VIDEO_REQUIREMENT, None)
    assert unreadable.value.code == "media_unreadable"
    check_duration(requirement(kind="video"), None)  # no limits: nothing to check


def test_verification_records_the_sniffed_type_and_the_measured_media() -> None:
    video = item(VIDEO, "video/mp4", "classroom-video")
    media = MediaInfo(duration_seconds=400.5, width=1280, height=720, video_codec="h264")
    video.verify(VIDEO_REQUIREMENT, facts(VIDEO, "video/mp4", media, probed=True), NOW)
    assert (video.status, video.duration_seconds, video.sniffed_content_type) == (
        EvidenceStatus.UPLOADED, 400.5, "video/mp4")
    assert video.media is not None and video.media["width"] == 1280


def test_a_video_no_decoder_can_read_is_refused() -> None:
    with pytest.raises(Invalid) as refused:
        item(VIDEO, "video/mp4").verify(requirement(kind="video"), facts(VIDEO, "video/mp4", None, probed=True), NOW)
    assert refused.value.code == "media_unreadable"


def test_sealed_copies_get_a_key_of_their_own_per_verification_outside_every_upload_key() -> None:
    submission_id, evidence_id = uuid4(), uuid4()
    upload_key = evidence_object_key(submission_id, evidence_id, "lesson.mp4")
    first, second = (verified_object_key(submission_id, evidence_id, uuid4(), "lesson.mp4") for _ in range(2))
    assert first != second and first.startswith(f"verified/{submission_id}/{evidence_id}/")
    assert upload_key.startswith("submissions/") and not first.startswith("submissions/")


def test_a_verified_item_is_read_from_its_sealed_copy_and_no_longer_needs_its_upload_key() -> None:
    reflection = item()
    assert reflection.needs_upload_key() and reflection.stored_key == reflection.object_key
    reflection.verify(requirement(), facts(TEXT, "text/plain"), NOW)
    assert reflection.stored_key == reflection.verified_key == "verified/s/e/c/f"
    assert not reflection.needs_upload_key() and not reflection.verified_in_place()


def test_an_item_verified_in_place_is_sealed_only_by_a_copy_of_the_bytes_that_were_verified() -> None:
    legacy = item()
    legacy.status, legacy.uploaded_at, legacy.etag = EvidenceStatus.UPLOADED, NOW, "e"
    assert legacy.verified_in_place() and legacy.needs_upload_key() and legacy.stored_key == "k"
    with pytest.raises(Invalid) as refused:
        legacy.seal(facts(TEXT.upper(), None))
    assert refused.value.code == "changed_after_verification" and legacy.verified_key is None
    legacy.seal(facts(TEXT, None))
    assert legacy.stored_key == "verified/s/e/c/f" and not legacy.verified_in_place()


# -- responses, limits, withdrawal -------------------------------------------------------------------


def submission(*evidence: Evidence, status: SubmissionStatus = SubmissionStatus.DRAFT) -> Submission:
    return Submission(submission_id=uuid4(), teacher_id="teacher-1", credential_id=uuid4(), credential_version=1,
                      credential_name="Formative assessment", states=("TN",), created_at=NOW, status=status,
                      evidence=list(evidence))


def uploaded(key: str) -> Evidence:
    evidence = item(key=key)
    evidence.status = EvidenceStatus.UPLOADED
    return evidence


def test_unanswered_prompts_of_required_requirements_are_listed_beside_missing_evidence() -> None:
    draft = submission(uploaded("reflection"))
    draft.answer_prompts([Answer("reflection", 0, "It went well."), Answer("reflection", 1, "   ")], PROMPTED)
    with pytest.raises(Invalid) as refused:
        draft.submit(PROMPTED, NOW)
    assert refused.value.details == [
        {"requirement_key": "classroom-video", "min_count": 1, "uploaded": 0},
        {"requirement_key": "reflection", "prompt_index": 1, "prompt": "What next?"},
    ]


def test_a_blank_answer_clears_a_prompt_and_other_answers_stay() -> None:
    draft = submission()
    draft.answer_prompts([Answer("reflection", 0, "a"), Answer("reflection", 1, "b")], PROMPTED)
    draft.answer_prompts([Answer("reflection", 1, "")], PROMPTED)
    assert draft.responses == {("reflection", 0): "a"}


def test_an_answer_to_a_prompt_the_requirement_does_not_have_is_refused() -> None:
    with pytest.raises(Invalid) as refused:
        submission().answer_prompts([Answer("reflection", 2, "x")], PROMPTED)
    assert refused.value.code == "unknown_prompt"


def test_answered_prompts_travel_with_their_text_in_the_credentials_order() -> None:
    draft = submission()
    draft.answer_prompts([Answer("extra", 0, "c"), Answer("reflection", 0, "a")], PROMPTED)
    assert [(r.requirement_key, r.prompt, r.answer) for r in draft.prompt_responses(PROMPTED)] == [
        ("reflection", "What happened?", "a"), ("extra", "Anything else?", "c")]


def test_resubmitting_beyond_the_credentials_attempt_limit_is_refused() -> None:
    revising = submission(uploaded("classroom-video"), uploaded("reflection"), status=SubmissionStatus.REVISE_REQUESTED)
    revising.attempt = 2
    with pytest.raises(Conflict) as refused:
        revising.submit(CRITERIA, NOW, max_attempts=2)
    assert refused.value.code == "max_attempts_reached" and revising.status is SubmissionStatus.REVISE_REQUESTED
    assert revising.submit(CRITERIA, NOW, max_attempts=3).number == 3


@pytest.mark.parametrize("status", ["draft", "submitted", "under_review", "revise_requested"])
def test_a_submission_under_way_can_be_withdrawn_and_that_is_final(status: str) -> None:
    under_way = submission(status=SubmissionStatus(status))
    under_way.withdraw("moving schools", NOW)
    assert (under_way.status, under_way.finalized_at) == (SubmissionStatus.WITHDRAWN, NOW)
    with pytest.raises(Conflict) as again:
        under_way.withdraw(None, NOW)
    assert again.value.code == "not_withdrawable"


@pytest.mark.parametrize("status", ["passed", "awarded"])
def test_a_decided_submission_cannot_be_withdrawn(status: str) -> None:
    with pytest.raises(Conflict) as refused:
        submission(status=SubmissionStatus(status)).withdraw(None, NOW)
    assert refused.value.code == "not_withdrawable"


def test_review_outcomes_arriving_after_a_withdrawal_change_nothing() -> None:
    withdrawn = submission(uploaded("classroom-video"), uploaded("reflection"))
    withdrawn.submit(CRITERIA, NOW)
    withdrawn.withdraw(None, NOW)
    assert not withdrawn.assign_reviewer(1, "r")
    assert not withdrawn.request_revision(1, (), NOW)
    assert not withdrawn.record_pass(1)
    assert withdrawn.status is SubmissionStatus.WITHDRAWN


def test_withdrawing_evidence_an_earlier_attempt_submitted_keeps_its_bytes() -> None:
    revising = submission(uploaded("classroom-video"), uploaded("reflection"))
    revising.submit(CRITERIA, NOW)
    revising.status = SubmissionStatus.REVISE_REQUESTED
    sent = revising.withdraw_evidence(revising.evidence[0].evidence_id, NOW)
    assert sent.status is EvidenceStatus.WITHDRAWN and sent.removed_at is None and sent.submitted_in == 1
    fresh = item(key="extra")
    revising.evidence.append(fresh)
    assert revising.withdraw_evidence(fresh.evidence_id, NOW).removed_at == NOW


def test_retention_runs_from_the_final_decision() -> None:
    awarded = submission(uploaded("classroom-video"))
    awarded.status, awarded.finalized_at = SubmissionStatus.AWARDED, NOW
    assert awarded.retention_due(NOW + timedelta(days=364), timedelta(days=365)) == []
    assert awarded.retention_due(NOW + timedelta(days=366), timedelta(days=365)) == awarded.evidence


# -- use cases through fakes ---------------------------------------------------------------------


@pytest.fixture
def prompted(db: FakeDatabase) -> PublishedCredential:
    published = PublishedCredential(credential_id=uuid4(), version=1, name="Prompted", submission_criteria=PROMPTED,
                                    max_attempts=1)
    db.state.credentials[(published.credential_id, 1)] = published
    return published


async def start(db: FakeDatabase, credential: PublishedCredential, teacher: Principal) -> UUID:
    return (await handlers.start_submission(StartSubmission(credential_id=credential.credential_id), teacher,
                                            db.uow())).submission_id


def declaration(key: str, content: bytes, content_type: str, **overrides: Any) -> DeclareEvidence:
    return DeclareEvidence(**({"requirement_key": key, "filename": "f", "content_type": content_type,
                               "size_bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}
                              | overrides))


async def test_an_empty_file_is_refused_before_anything_is_written(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, prompted: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await start(db, prompted, teacher)
    with pytest.raises(Invalid) as refused:
        await handlers.declare_evidence(submission_id, declaration("reflection", b"", "text/plain"), teacher,
                                        db.uow(), store, policy)
    assert refused.value.code == "empty_file" and db.state.submissions[submission_id].evidence == []


async def test_a_large_file_gets_a_multipart_upload_that_completes_only_with_every_part(
    db: FakeDatabase, store: FakeStore, probe: FakeProbe, policy: EvidencePolicy, prompted: PublishedCredential,
    teacher: Principal,
) -> None:
    submission_id = await start(db, prompted, teacher)
    content = VIDEO + b"\x00" * (12 * MiB)
    ticket = await handlers.declare_evidence(submission_id, declaration("classroom-video", content, "video/mp4"),
                                             teacher, db.uow(), store, policy)
    assert (ticket.mode, ticket.part_count, sorted(ticket.parts)) == (UploadMode.MULTIPART, 3, [1, 2, 3])
    assert ticket.upload_id is not None and ticket.part_size == 5 * MiB
    chunks = [content[i : i + 5 * MiB] for i in range(0, len(content), 5 * MiB)]
    store.put_part(ticket.upload_id, 1, chunks[0])
    store.put_part(ticket.upload_id, 3, chunks[2])

    progress = await handlers.uploaded_parts(submission_id, ticket.evidence_id, teacher, db.uow(), store)
    assert [p.part_number for p in progress.uploaded] == [1, 3] and progress.missing == [2]
    with pytest.raises(Conflict) as missing:
        await handlers.complete_evidence(submission_id, ticket.evidence_id, teacher, db.uow, store, probe)
    assert (missing.value.code, missing.value.details) == ("part_missing", [2])
    assert db.state.submissions[submission_id].evidence[0].status is EvidenceStatus.PENDING

    with pytest.raises(Invalid):
        await handlers.fresh_part_urls(submission_id, ticket.evidence_id, RequestParts(part_numbers=[4]), teacher,
                                       db.uow(), store, policy)
    fresh = await handlers.fresh_part_urls(submission_id, ticket.evidence_id, RequestParts(part_numbers=[2]),
                                           teacher, db.uow(), store, policy)
    assert list(fresh.parts) == [2]
    store.put_part(ticket.upload_id, 2, chunks[1])
    probe.durations[ticket.object_key] = 400.0
    verified = await handlers.complete_evidence(submission_id, ticket.evidence_id, teacher, db.uow, store, probe)
    assert verified.status is EvidenceStatus.UPLOADED and verified.duration_seconds == 400.0
    # Nothing can write a completed multipart upload any more: it is sealed where it is, not copied.
    assert verified.verified_key == ticket.object_key and store.objects[ticket.object_key] == content
    assert store.uploads == {} and not sealed_copies(store, submission_id) and probe.probed == [ticket.object_key]


async def test_submitting_sends_the_answers_and_the_measured_duration_and_the_limit_holds(
    db: FakeDatabase, store: FakeStore, probe: FakeProbe, policy: EvidencePolicy, prompted: PublishedCredential,
    teacher: Principal,
) -> None:
    submission_id = await start(db, prompted, teacher)
    for key, content, content_type in [("classroom-video", VIDEO, "video/mp4"), ("reflection", TEXT, "text/plain")]:
        ticket = await handlers.declare_evidence(submission_id, declaration(key, content, content_type), teacher,
                                                 db.uow(), store, policy)
        store.put(ticket.object_key, content)
        probe.durations[ticket.object_key] = 330.0
        await handlers.complete_evidence(submission_id, ticket.evidence_id, teacher, db.uow, store, probe)
    answers = AnswerPrompts.model_validate({"responses": [
        {"requirement_key": "reflection", "prompt_index": 0, "answer": "It went well."},
        {"requirement_key": "reflection", "prompt_index": 1, "answer": "Regroup."}]})
    await handlers.answer_prompts(submission_id, answers, teacher, db.uow())
    await handlers.submit(submission_id, teacher, db.uow(), store)
    (event,) = db.state.outbox
    assert isinstance(event, SubmissionSubmitted)
    assert [r.answer for r in event.responses] == ["It went well.", "Regroup."]
    video = next(e for e in event.evidence if e.requirement_key == "classroom-video")
    assert (video.content_type, video.duration_seconds) == ("video/mp4", 330.0)

    db.state.submissions[submission_id].status = SubmissionStatus.REVISE_REQUESTED
    with pytest.raises(Conflict) as refused:
        await handlers.submit(submission_id, teacher, db.uow(), store)
    assert refused.value.code == "max_attempts_reached"


async def test_withdrawing_a_submission_emits_the_event_with_the_teachers_states(
    db: FakeDatabase, prompted: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await start(db, prompted, teacher)
    await handlers.withdraw_submission(submission_id, WithdrawSubmission(reason="moving"), teacher, db.uow())
    (event,) = db.state.outbox
    assert isinstance(event, SubmissionWithdrawn)
    assert (event.submission_id, event.reason, event.states) == (submission_id, "moving", ("TN", "KY"))


async def test_deleting_a_drafts_evidence_deletes_its_bytes_or_aborts_its_upload(
    db: FakeDatabase, store: FakeStore, policy: EvidencePolicy, prompted: PublishedCredential, teacher: Principal
) -> None:
    submission_id = await start(db, prompted, teacher)
    small = await handlers.declare_evidence(submission_id, declaration("extra", TEXT, "text/plain"), teacher,
                                            db.uow(), store, policy)
    store.put(small.object_key, TEXT)
    large = await handlers.declare_evidence(
        submission_id, declaration("extra", TEXT, "text/plain", size_bytes=7 * MiB), teacher, db.uow(), store, policy)
    for ticket in (small, large):
        removed = await handlers.withdraw_evidence(submission_id, ticket.evidence_id, teacher, db.uow(), store)
        assert removed.status is EvidenceStatus.WITHDRAWN and removed.removed_at is not None
    assert small.object_key not in store.objects and store.aborted == [large.upload_id]


async def test_the_sweep_purges_decided_evidence_after_retention_and_removes_orphaned_uploads(
    db: FakeDatabase, store: FakeStore, probe: FakeProbe, policy: EvidencePolicy, prompted: PublishedCredential,
    teacher: Principal,
) -> None:
    retention = RetentionPolicy(evidence_retention=timedelta(days=365), orphan_upload_age=timedelta(hours=24))
    decided = await start(db, prompted, teacher)
    kept = await handlers.declare_evidence(decided, declaration("reflection", TEXT, "text/plain"), teacher,
                                           db.uow(), store, policy)
    store.put(kept.object_key, TEXT)
    sealed = (await handlers.complete_evidence(decided, kept.evidence_id, teacher, db.uow, store, probe)).verified_key
    assert sealed is not None and sealed in store.objects
    award_id = uuid4()
    state = db.state.submissions[decided]
    state.status, state.award_id, state.finalized_at = SubmissionStatus.AWARDED, award_id, NOW

    open_draft = await start(db, prompted, teacher)
    orphan = await handlers.declare_evidence(
        open_draft, declaration("extra", TEXT, "text/plain", size_bytes=7 * MiB), teacher, db.uow(), store, policy)
    young = await handlers.declare_evidence(open_draft, declaration("extra", TEXT, "text/plain"), teacher,
                                            db.uow(), store, policy)
    for evidence in db.state.submissions[open_draft].evidence:
        if evidence.evidence_id == orphan.evidence_id:
            evidence.registered_at = NOW + timedelta(days=300)
        else:
            evidence.registered_at = NOW + timedelta(days=366)
    unknown = await store.start_multipart("submissions/x/y/lost.bin", "video/mp4")
    store.uploads[unknown] = replace_initiated(store, unknown, NOW)

    report = await evidence_retention.sweep(db.uow, store, retention, now=NOW + timedelta(days=366, hours=1))
    assert (report.purged_items, report.abandoned_uploads, report.aborted_unknown_uploads) == (1, 1, 1)
    purged = db.state.submissions[decided]
    assert purged.evidence[0].status is EvidenceStatus.PURGED and sealed not in store.objects
    assert purged.award_id == award_id and purged.status is SubmissionStatus.AWARDED, "the audit trail stays"
    statuses = {e.evidence_id: e.status for e in db.state.submissions[open_draft].evidence}
    assert statuses == {orphan.evidence_id: EvidenceStatus.ABANDONED, young.evidence_id: EvidenceStatus.PENDING}
    assert orphan.upload_id not in store.uploads and unknown not in store.uploads

    again = await evidence_retention.sweep(db.uow, store, retention, now=NOW + timedelta(days=366, hours=1))
    assert again == evidence_retention.SweepReport()


def replace_initiated(store: FakeStore, upload_id: str, at: datetime) -> Any:
    key, parts, _ = store.uploads[upload_id]
    return (key, parts, at)



def sealed_copies(store: FakeStore, submission_id: UUID) -> list[str]:
    return [key for key in store.objects if key.startswith(f"verified/{submission_id}/")]


async def test_withdrawing_a_verified_item_of_a_draft_deletes_its_sealed_copy_too(
    db: FakeDatabase, store: FakeStore, probe: FakeProbe, policy: EvidencePolicy, prompted: PublishedCredential,
    teacher: Principal,
) -> None:
    submission_id = await start(db, prompted, teacher)
    ticket = await handlers.declare_evidence(submission_id, declaration("extra", TEXT, "text/plain"), teacher,
                                             db.uow(), store, policy)
    store.put(ticket.object_key, TEXT)
    await handlers.complete_evidence(submission_id, ticket.evidence_id, teacher, db.uow, store, probe)
    store.put(ticket.object_key, b"put again through the URL")
    await handlers.withdraw_evidence(submission_id, ticket.evidence_id, teacher, db.uow(), store)
    assert sealed_copies(store, submission_id) == [] and ticket.object_key not in store.objects


async def test_the_sweep_removes_what_lands_at_upload_keys_no_item_needs_and_keeps_uploads_under_way(
    db: FakeDatabase, store: FakeStore, probe: FakeProbe, policy: EvidencePolicy, prompted: PublishedCredential,
    teacher: Principal,
) -> None:
    retention = RetentionPolicy(evidence_retention=timedelta(days=365), orphan_upload_age=timedelta(hours=24))
    submission_id = await start(db, prompted, teacher)
    sealed = await handlers.declare_evidence(submission_id, declaration("extra", TEXT, "text/plain"), teacher,
                                             db.uow(), store, policy)
    store.put(sealed.object_key, TEXT)
    await handlers.complete_evidence(submission_id, sealed.evidence_id, teacher, db.uow, store, probe)
    under_way = await handlers.declare_evidence(submission_id, declaration("reflection", TEXT, "text/plain"),
                                                teacher, db.uow(), store, policy)
    large = b"a" * (7 * MiB)
    in_parts = await handlers.declare_evidence(submission_id, declaration("extra", large, "text/plain"), teacher,
                                               db.uow(), store, policy)
    assert in_parts.upload_id is not None
    store.put_part(in_parts.upload_id, 1, large[: 5 * MiB])
    store.put_part(in_parts.upload_id, 2, large[5 * MiB :])
    await handlers.complete_evidence(submission_id, in_parts.evidence_id, teacher, db.uow, store, probe)
    now = datetime.now(UTC)
    store.put(sealed.object_key, b"after sealing", at=now)  # through the URL, still valid for minutes
    store.put(under_way.object_key, TEXT, at=now)  # uploaded, not completed yet
    store.put(f"submissions/{uuid4()}/{uuid4()}/young.bin", b"?", at=now)
    store.put(f"submissions/{uuid4()}/{uuid4()}/old.bin", b"?", at=now - timedelta(hours=25))

    report = await evidence_retention.sweep(db.uow, store, retention, now=now)
    assert report.removed_stray_uploads == 2
    assert sealed.object_key not in store.objects and under_way.object_key in store.objects
    assert store.objects[in_parts.object_key] == large, "a completed multipart upload is its own sealed copy"
    assert len([key for key in store.objects if key.endswith("young.bin")]) == 1
    assert len(sealed_copies(store, submission_id)) == 1
    await handlers.complete_evidence(submission_id, under_way.evidence_id, teacher, db.uow, store, probe)


def verified_in_place(store: FakeStore, db: FakeDatabase, submission_id: UUID, evidence_id: UUID) -> Evidence:
    """Turn a verified item back into what the service recorded before sealing existed."""
    evidence = db.state.submissions[submission_id].find_evidence(evidence_id)
    assert evidence is not None and evidence.verified_key is not None
    store.put(evidence.object_key, store.objects.pop(evidence.verified_key))
    evidence.verified_key = None
    return evidence


async def test_the_sweep_seals_evidence_verified_in_place_and_rejects_what_changed_since(
    db: FakeDatabase, store: FakeStore, probe: FakeProbe, policy: EvidencePolicy, prompted: PublishedCredential,
    teacher: Principal,
) -> None:
    retention = RetentionPolicy(evidence_retention=timedelta(days=365), orphan_upload_age=timedelta(hours=24))
    submission_id = await start(db, prompted, teacher)
    for key, content, content_type in [("classroom-video", VIDEO, "video/mp4"), ("reflection", TEXT, "text/plain"),
                                       ("extra", TEXT + b"more", "text/plain")]:
        ticket = await handlers.declare_evidence(submission_id, declaration(key, content, content_type), teacher,
                                                 db.uow(), store, policy)
        store.put(ticket.object_key, content)
        probe.durations[ticket.object_key] = 330.0
        await handlers.complete_evidence(submission_id, ticket.evidence_id, teacher, db.uow, store, probe)
    video, reflection, extra = (verified_in_place(store, db, submission_id, e.evidence_id)
                                for e in list(db.state.submissions[submission_id].evidence))
    assert video.stored_key == video.object_key, "read where it was verified until sealed"
    store.put(extra.object_key, b"X" * len(TEXT + b"more"))  # replaced after verification, before the change

    report = await evidence_retention.sweep(db.uow, store, retention)
    assert (report.sealed_items, report.changed_items) == (2, 1)
    items = {e.evidence_id: e for e in db.state.submissions[submission_id].evidence}
    for kept, content in [(video, VIDEO), (reflection, TEXT)]:
        sealed = items[kept.evidence_id]
        assert sealed.verified_key is not None and store.objects[sealed.verified_key] == content
        assert sealed.object_key not in store.objects and sealed.status is EvidenceStatus.UPLOADED
    changed = items[extra.evidence_id]
    assert changed.status is EvidenceStatus.REJECTED and changed.rejection is not None
    assert changed.rejection["code"] == "changed_after_verification" and extra.object_key not in store.objects
    assert len(sealed_copies(store, submission_id)) == 2
    assert await evidence_retention.sweep(db.uow, store, retention) == evidence_retention.SweepReport()
