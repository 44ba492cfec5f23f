"""Captions of a video (issue 20, point 8): a WebVTT item beside the video it captions, checked as captions,
never counted towards the requirement's files, and named by ``captions_for`` in the evidence JSON."""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID, uuid4

import pytest
from submission_fakes import FakeDatabase, FakeProbe, FakeStore

from microcred.events import SubmissionCriteria, SubmissionSubmitted
from microcred.runtime.auth import Principal
from microcred.runtime.errors import Invalid
from microcred.submission.adapters.content_sniffing import sniff_content_type
from microcred.submission.domain.model import (
    CAPTIONS_MAX_BYTES,
    EvidenceStatus,
    PublishedCredential,
    missing_requirements,
)
from microcred.submission.entrypoints.api import evidence_view, submission_view
from microcred.submission.service_layer import handlers
from microcred.submission.service_layer.handlers import DeclareEvidence, StartSubmission
from microcred.submission.service_layer.storage import EvidencePolicy

VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"v" * 400
CAPTIONS = b"WEBVTT\n\n00:00.000 --> 00:01.000\nThumbs up if you agree.\n"
CRITERIA = SubmissionCriteria.model_validate({"items": [
    {"key": "classroom-video", "kind": "video", "title": "Classroom video", "max_count": 1,
     "accepted_content_types": ["video/*"], "max_duration_seconds": 120},
    {"key": "lesson-plan", "kind": "document", "title": "Lesson plan", "accepted_content_types": ["text/plain"]},
]})


@pytest.fixture
def published(db: FakeDatabase) -> PublishedCredential:
    credential = PublishedCredential(credential_id=uuid4(), version=1, name="Captioned", submission_criteria=CRITERIA)
    db.state.credentials[(credential.credential_id, 1)] = credential
    return credential


def declaration(key: str, content: bytes, content_type: str, **overrides: Any) -> DeclareEvidence:
    return DeclareEvidence(**({"requirement_key": key, "filename": "f", "content_type": content_type,
                               "size_bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}
                              | overrides))


class Uploads:
    def __init__(self, db: FakeDatabase, store: FakeStore, probe: FakeProbe, policy: EvidencePolicy,
                 teacher: Principal, submission_id: UUID) -> None:
        self.db, self.store, self.probe, self.policy, self.teacher = db, store, probe, policy, teacher
        self.submission_id = submission_id

    async def declare(self, key: str, content: bytes, content_type: str, **overrides: Any) -> handlers.UploadTicket:
        return await handlers.declare_evidence(self.submission_id, declaration(key, content, content_type, **overrides),
                                               self.teacher, self.db.uow(), self.store, self.policy)

    async def upload(self, key: str, content: bytes, content_type: str, **overrides: Any) -> UUID:
        ticket = await self.declare(key, content, content_type, **overrides)
        self.store.put(ticket.object_key, content)
        self.probe.durations[ticket.object_key] = 60.0
        evidence = await handlers.complete_evidence(self.submission_id, ticket.evidence_id, self.teacher, self.db.uow,
                                                    self.store, self.probe)
        return evidence.evidence_id


@pytest.fixture
async def uploads(db: FakeDatabase, store: FakeStore, probe: FakeProbe, policy: EvidencePolicy,
                  published: PublishedCredential, teacher: Principal) -> Uploads:
    started = await handlers.start_submission(StartSubmission(credential_id=published.credential_id), teacher,
                                              db.uow())
    return Uploads(db, store, probe, policy, teacher, started.submission_id)


def test_text_declared_as_webvtt_is_webvtt_only_when_its_first_line_says_so() -> None:
    assert sniff_content_type(CAPTIONS, True, "text/vtt") == "text/vtt"
    assert sniff_content_type(b"\xef\xbb\xbfWEBVTT - lesson\n", True, "text/vtt; charset=utf-8") == "text/vtt"
    assert sniff_content_type(b"WEBVTT", True, "text/vtt") == "text/vtt"
    assert sniff_content_type(b"WEBVTTX\n", True, "text/vtt") == "text/plain"
    assert sniff_content_type(b"1\n00:00:00,000 --> 00:00:01,000\nSRT\n", True, "text/vtt") == "text/plain"
    # Another text type is unchanged by the signature.
    assert sniff_content_type(CAPTIONS, True, "text/plain") == "text/plain"


async def test_captions_for_a_video_are_verified_as_webvtt_and_named_in_the_evidence_json(
    uploads: Uploads, db: FakeDatabase
) -> None:
    video = await uploads.upload("classroom-video", VIDEO, "video/mp4")
    # The requirement takes one video of at most two minutes and accepts only video: captions are neither counted
    # nor typed nor timed against it.
    captions = await uploads.upload("classroom-video", CAPTIONS, "text/vtt", captions_for=video)
    submission = db.state.submissions[uploads.submission_id]
    item = submission.find_evidence(captions)
    assert item is not None and item.status is EvidenceStatus.UPLOADED
    view = evidence_view(item)
    assert (view["captions_for"], view["content_type"], view["sniffed_content_type"]) == (
        str(video), "text/vtt", "text/vtt")
    assert {e["evidence_id"]: e["captions_for"] for e in submission_view(submission)["evidence"]} == {
        str(video): None, str(captions): str(video)}


async def test_captions_alone_do_not_fill_a_requirement(uploads: Uploads, db: FakeDatabase) -> None:
    video = await uploads.upload("classroom-video", VIDEO, "video/mp4")
    await uploads.upload("classroom-video", CAPTIONS, "text/vtt", captions_for=video)
    submission = db.state.submissions[uploads.submission_id]
    video_item = submission.find_evidence(video)
    assert video_item is not None
    video_item.status = EvidenceStatus.WITHDRAWN
    assert [s.requirement_key for s in missing_requirements(CRITERIA, submission.evidence)] == [
        "classroom-video", "lesson-plan"]


async def test_captions_whose_bytes_are_not_webvtt_are_rejected_and_deleted(
    uploads: Uploads, db: FakeDatabase, store: FakeStore
) -> None:
    video = await uploads.upload("classroom-video", VIDEO, "video/mp4")
    srt = b"1\n00:00:00,000 --> 00:00:01,000\nThumbs up.\n"
    ticket = await uploads.declare("classroom-video", srt, "text/vtt", captions_for=video)
    store.put(ticket.object_key, srt)
    with pytest.raises(Invalid) as refused:
        await handlers.complete_evidence(uploads.submission_id, ticket.evidence_id, uploads.teacher, db.uow, store,
                                         uploads.probe)
    assert refused.value.code == "captions_not_webvtt"
    item = db.state.submissions[uploads.submission_id].find_evidence(ticket.evidence_id)
    assert item is not None and item.status is EvidenceStatus.REJECTED and ticket.object_key not in store.objects


@pytest.mark.parametrize(("content_type", "size", "code"), [
    ("text/plain", len(CAPTIONS), "captions_not_webvtt"),
    ("text/vtt", CAPTIONS_MAX_BYTES + 1, "evidence_too_large"),
])
async def test_captions_of_another_type_or_too_large_are_refused_at_declaration(
    uploads: Uploads, db: FakeDatabase, content_type: str, size: int, code: str
) -> None:
    video = await uploads.upload("classroom-video", VIDEO, "video/mp4")
    with pytest.raises(Invalid) as refused:
        await uploads.declare("classroom-video", CAPTIONS, content_type, captions_for=video, size_bytes=size)
    assert refused.value.code == code
    assert len(db.state.submissions[uploads.submission_id].evidence) == 1


async def test_captions_must_name_a_video_of_the_same_submission_under_its_requirement(
    uploads: Uploads, db: FakeDatabase, published: PublishedCredential, teacher: Principal
) -> None:
    plan = await uploads.upload("lesson-plan", b"Warm-up, then mini whiteboards.\n", "text/plain")
    video = await uploads.upload("classroom-video", VIDEO, "video/mp4")
    other = await handlers.start_submission(StartSubmission(credential_id=published.credential_id), teacher, db.uow())
    elsewhere = await Uploads(uploads.db, uploads.store, uploads.probe, uploads.policy, teacher,
                              other.submission_id).upload("classroom-video", VIDEO, "video/mp4")
    for key, target in [("classroom-video", plan), ("classroom-video", uuid4()), ("classroom-video", elsewhere),
                        ("lesson-plan", video)]:
        with pytest.raises(Invalid) as refused:
            await uploads.declare(key, CAPTIONS, "text/vtt", captions_for=target)
        assert refused.value.code == "captions_target_invalid", (key, target)
    captions = await uploads.upload("classroom-video", CAPTIONS, "text/vtt", captions_for=video)
    with pytest.raises(Invalid) as refused:
        await uploads.declare("classroom-video", CAPTIONS, "text/vtt", captions_for=captions)
    assert refused.value.code == "captions_target_invalid"


async def test_submitted_captions_are_kept_for_the_reviewer_but_not_sent_as_a_file_of_the_requirement(
    uploads: Uploads, db: FakeDatabase, store: FakeStore
) -> None:
    video = await uploads.upload("classroom-video", VIDEO, "video/mp4")
    captions = await uploads.upload("classroom-video", CAPTIONS, "text/vtt", captions_for=video)
    await uploads.upload("lesson-plan", b"Warm-up, then mini whiteboards.\n", "text/plain")
    await handlers.submit(uploads.submission_id, uploads.teacher, db.uow(), store)
    (event,) = db.state.outbox
    assert isinstance(event, SubmissionSubmitted)
    assert [(e.requirement_key, e.evidence_id) for e in event.evidence if e.requirement_key == "classroom-video"] == [
        ("classroom-video", video)]
    item = db.state.submissions[uploads.submission_id].find_evidence(captions)
    assert item is not None and item.submitted_in == 1  # the attempt's record: its bytes stay with the video's
