"""Captions of a video through the submission service's API on the real stack (PostgreSQL, the object store): the
WebVTT item names its video in ``captions_for`` (stored by migration 0008's column), is verified as WebVTT, counts
as no file of the requirement, and a target that is no video of the submission is refused."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from microcred.devstack.client import Actor, ApiError, PlatformClient

CRITERIA: dict[str, Any] = {"items": [
    {"key": "classroom-video", "kind": "video", "title": "Video of the lesson", "max_count": 1,
     "max_duration_seconds": 60},
    {"key": "lesson-plan", "kind": "document", "title": "Lesson plan", "required": False},
]}
CAPTIONS = b"WEBVTT\n\n00:00.000 --> 00:01.000\nThumbs up if you agree.\n"


@pytest.fixture(scope="module")
def credential(module_world: Any) -> str:
    return str(module_world.publish("Captioned lesson", submission_criteria=CRITERIA))


@pytest.fixture
def teacher(module_world: Any) -> Actor:
    teacher: Actor = module_world.teacher(licensed=False)
    return teacher


def declare_captions(client: PlatformClient, teacher: Actor, submission_id: str, content: bytes, target: str,
                     requirement: str = "classroom-video") -> dict[str, Any]:
    declared: dict[str, Any] = client.call(
        "POST", "submission", f"/submissions/{submission_id}/evidence", teacher, expect=201, json={
            "requirement_key": requirement, "filename": "lesson.vtt", "content_type": "text/vtt",
            "size_bytes": len(content), "sha256": hashlib.sha256(content).hexdigest(), "captions_for": target})
    return declared


def refused_code(call: Any) -> tuple[int, str]:
    with pytest.raises(ApiError) as error:
        call()
    return error.value.status_code, str(error.value.body.get("error"))


def test_captions_name_their_video_are_verified_as_webvtt_and_fill_no_place_of_the_requirement(
        client: PlatformClient, teacher: Actor, credential: str, videos: Any) -> None:
    submission_id = str(client.start_submission(teacher, credential)["submission_id"])
    video = client.upload(teacher, submission_id, "classroom-video", videos[1](), "video/mp4", "lesson.mp4")
    plan = client.upload(teacher, submission_id, "lesson-plan", b"Warm-up, then whiteboards.\n", "text/plain")

    declared = declare_captions(client, teacher, submission_id, CAPTIONS, video)
    assert declared["upload"]["mode"] == "single"
    httpx.put(declared["upload"]["url"], content=CAPTIONS).raise_for_status()
    completed = client.complete_evidence(teacher, submission_id, declared["evidence_id"])
    assert (completed["status"], completed["content_type"], completed["captions_for"]) == ("uploaded", "text/vtt",
                                                                                           video)
    found = {e["evidence_id"]: e["captions_for"] for e in client.submission(teacher, submission_id)["evidence"]}
    assert found == {video: None, plan: None, declared["evidence_id"]: video}

    # Not WebVTT inside: refused for good when completed.
    srt = b"1\n00:00:00,000 --> 00:00:01,000\nThumbs up.\n"
    wrong = declare_captions(client, teacher, submission_id, srt, video)
    httpx.put(wrong["upload"]["url"], content=srt).raise_for_status()
    assert refused_code(lambda: client.complete_evidence(teacher, submission_id, wrong["evidence_id"])) == (
        422, "captions_not_webvtt")
    # A target that is no video of this submission, or another requirement than the video's.
    for target, requirement in [(plan, "classroom-video"), ("00000000-0000-4000-8000-000000000000", "classroom-video"),
                                (video, "lesson-plan")]:
        with pytest.raises(ApiError) as error:
            declare_captions(client, teacher, submission_id, CAPTIONS, target, requirement)
        assert (error.value.status_code, error.value.body.get("error")) == (422, "captions_target_invalid"), target
