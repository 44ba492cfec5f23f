"""Evidence uploads against the real object store: presigned single and multipart uploads, resume,
verification of what landed (size, sha256, sniffed type, video duration read with PyAV), sealing (what
was verified stays what reviewers download, whatever is PUT to an upload URL afterwards), and every
bad input the issue names, each refused with its own code and nothing half-written.

The platform runs with 5 MiB as both the single-upload limit and the part size (tests/conftest.py),
so multipart needs little data; videos are generated with PyAV.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
import sqlalchemy as sa
from minio import Minio
from minio.error import S3Error
from sqlalchemy.ext.asyncio import create_async_engine

from microcred.devstack.client import Actor, ApiError, PlatformClient, read_events
from microcred.devstack.platform import EVIDENCE_BUCKET, Platform
from microcred.runtime.migrations import upgrade

pytestmark = pytest.mark.stack

MiB = 1024**2
PROMPTS = ["What did the formative data tell you?", "What will you change next time?"]
CRITERIA: dict[str, Any] = {"items": [
    {"key": "classroom-video", "kind": "video", "title": "Video of the lesson",
     "accepted_content_types": ["video/mp4", "video/quicktime"], "max_size_bytes": 500 * MiB},
    {"key": "reflection", "kind": "reflection", "title": "Reflection", "prompts": PROMPTS,
     "accepted_content_types": ["text/plain", "text/markdown"]},
    {"key": "student-work", "kind": "student_work", "title": "Student work", "required": False,
     "max_size_bytes": 1 * MiB},
    {"key": "lesson-plan", "kind": "document", "title": "Lesson plan", "required": False},
]}
TIMED: dict[str, Any] = {"items": [
    {"key": "classroom-video", "kind": "video", "title": "Five to ten seconds of teaching",
     "min_duration_seconds": 5, "max_duration_seconds": 10},
]}
REFLECTION = b"# Reflection\n\nThe exit tickets showed that most students had it.\n"
ANSWERS = {("reflection", 0): "Most had it; three did not.", ("reflection", 1): "Regroup after the hinge question."}


@pytest.fixture(scope="module")
def uploads_world(module_world: Any) -> Any:
    return module_world


@pytest.fixture(scope="module")
def credential(uploads_world: Any) -> str:
    return str(uploads_world.publish("Evidence uploads", submission_criteria=CRITERIA))


@pytest.fixture(scope="module")
def timed_credential(uploads_world: Any) -> str:
    return str(uploads_world.publish("Timed video", submission_criteria=TIMED))


@pytest.fixture
def teacher(uploads_world: Any) -> Actor:
    teacher: Actor = uploads_world.teacher(licensed=False)
    return teacher


@pytest.fixture(scope="module")
def make_video(videos: Any) -> Any:
    return videos[0]


@pytest.fixture(scope="module")
def tiny(videos: Any) -> bytes:
    content: bytes = videos[1]()
    return content


def draft(client: PlatformClient, teacher: Actor, credential_id: str) -> str:
    return str(client.start_submission(teacher, credential_id)["submission_id"])


def refused(call: Any, status: int, code: str) -> Any:
    """Runs ``call``, which must fail with ``status`` and error ``code``; returns the error body."""
    with pytest.raises(ApiError) as error:
        call()
    assert (error.value.status_code, error.value.body.get("error")) == (status, code), error.value.body
    return error.value.body


def evidence_of(client: PlatformClient, teacher: Actor, submission_id: str, evidence_id: str) -> dict[str, Any]:
    found = client.submission(teacher, submission_id)["evidence"]
    return next(e for e in found if e["evidence_id"] == evidence_id)


def declare(client: PlatformClient, teacher: Actor, submission_id: str, requirement: str, content: bytes,
            content_type: str, filename: str, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"size": len(content), "sha256": hashlib.sha256(content).hexdigest(),
                              "content_type": content_type, "filename": filename} | overrides
    return client.declare_evidence(teacher, submission_id, requirement, **fields)


def parts_of(content: bytes, part_size: int) -> Any:
    return lambda n: content[(n - 1) * part_size : n * part_size]


def complete_draft(client: PlatformClient, teacher: Actor, credential_id: str, tiny: bytes) -> str:
    submission_id = draft(client, teacher, credential_id)
    client.upload(teacher, submission_id, "classroom-video", tiny, "video/mp4", "lesson.mp4")
    client.upload(teacher, submission_id, "reflection", REFLECTION, "text/markdown", "reflection.md")
    client.answer_prompts(teacher, submission_id, ANSWERS)
    return submission_id


def object_is_gone(client: PlatformClient, teacher: Actor, submission_id: str, evidence_id: str) -> None:
    refused(lambda: client.call("GET", "submission", f"/submissions/{submission_id}/evidence/{evidence_id}/download",
                                teacher), 409, "evidence_deleted")


# -- videos --------------------------------------------------------------------------------------


def test_a_classroom_video_of_realistic_size_goes_up_in_parts_and_its_duration_is_recorded(
    client: PlatformClient, teacher: Actor, credential: str, tmp_path: Path, make_video: Any
) -> None:
    video = make_video(tmp_path / "lesson.mp4", 3.0, width=1280, height=720, fps=8, noise=True)
    size = video.stat().st_size
    assert size >= 50 * MiB, f"the generated video has only {size} bytes"
    submission_id = draft(client, teacher, credential)

    started = time.perf_counter()
    evidence_id = client.upload_file(teacher, submission_id, "classroom-video", video, "video/mp4")
    seconds = time.perf_counter() - started
    print(f"\n{size / MiB:.1f} MiB uploaded in parts, assembled and verified in {seconds:.2f} s "
          f"({size / MiB / seconds:.1f} MiB/s end to end)")

    item = evidence_of(client, teacher, submission_id, evidence_id)
    assert item["status"] == "uploaded" and item["upload_mode"] == "multipart"
    assert item["part_count"] == -(-size // (5 * MiB))
    assert item["sniffed_content_type"] == "video/mp4" and item["content_type"] == "video/mp4"
    assert item["duration_seconds"] == pytest.approx(3.0, abs=0.2)
    assert (item["media"]["width"], item["media"]["height"], item["media"]["video_codec"]) == (1280, 720, "mpeg4")
    download = client.call("GET", "submission", f"/submissions/{submission_id}/evidence/{evidence_id}/download",
                           teacher)
    with httpx.stream("GET", download["download_url"]) as response:
        assert response.status_code == 200 and int(response.headers["content-length"]) == size


def test_a_small_video_goes_up_in_one_put_and_is_probed(
    client: PlatformClient, teacher: Actor, credential: str, tiny: bytes
) -> None:
    submission_id = draft(client, teacher, credential)
    slot = declare(client, teacher, submission_id, "classroom-video", tiny, "video/mp4", "short.mp4")
    assert slot["upload"]["mode"] == "single" and slot["upload"]["method"] == "PUT"
    assert httpx.put(slot["upload"]["url"], content=tiny).status_code == 200
    item = client.complete_evidence(teacher, submission_id, slot["evidence_id"])
    assert item["status"] == "uploaded" and item["upload_mode"] == "single"
    assert item["duration_seconds"] == pytest.approx(1.0, abs=0.2) and item["media"]["width"] == 160


def test_a_video_outside_the_required_duration_is_refused_and_one_inside_is_accepted(
    client: PlatformClient, teacher: Actor, timed_credential: str, tmp_path: Path, make_video: Any
) -> None:
    submission_id = draft(client, teacher, timed_credential)
    short = make_video(tmp_path / "short.mp4", 3.0).read_bytes()
    body = refused(lambda: client.upload(teacher, submission_id, "classroom-video", short, "video/mp4", "short.mp4"),
                   422, "duration_out_of_range")
    assert body["details"]["duration_seconds"] == pytest.approx(3.0, abs=0.2)
    assert "between 5 and 10 s" in body["detail"]
    (rejected,) = client.submission(teacher, submission_id)["evidence"]
    assert rejected["status"] == "rejected" and rejected["rejection"]["code"] == "duration_out_of_range"
    object_is_gone(client, teacher, submission_id, rejected["evidence_id"])

    right = make_video(tmp_path / "right.mp4", 6.0).read_bytes()
    evidence_id = client.upload(teacher, submission_id, "classroom-video", right, "video/mp4", "right.mp4")
    assert evidence_of(client, teacher, submission_id, evidence_id)["duration_seconds"] == pytest.approx(6.0, abs=0.2)
    submitted = client.submit(teacher, submission_id)
    assert submitted["status"] == "submitted"


# -- resumable multipart -------------------------------------------------------------------------


def test_an_interrupted_multipart_upload_resumes_from_the_parts_the_store_holds(
    client: PlatformClient, teacher: Actor, credential: str
) -> None:
    submission_id = draft(client, teacher, credential)
    content = os.urandom(12 * MiB)
    slot = declare(client, teacher, submission_id, "lesson-plan", content, "application/octet-stream", "plan.bin")
    upload = slot["upload"]
    assert (upload["mode"], upload["part_count"], upload["part_size"]) == ("multipart", 3, 5 * MiB)
    client.put_parts(upload["parts"][:1], parts_of(content, upload["part_size"]))  # then the connection drops

    base = f"/submissions/{submission_id}/evidence/{slot['evidence_id']}/parts"
    progress = client.call("GET", "submission", base, teacher)
    assert [p["part_number"] for p in progress["uploaded"]] == [1] and progress["missing"] == [2, 3]
    assert progress["uploaded"][0]["size"] == 5 * MiB

    fresh = client.call("POST", "submission", base, teacher, json={"part_numbers": progress["missing"]})
    assert [p["part_number"] for p in fresh["upload"]["parts"]] == [2, 3]
    client.put_parts(fresh["upload"]["parts"], parts_of(content, upload["part_size"]))
    item = client.complete_evidence(teacher, submission_id, slot["evidence_id"])
    assert item["status"] == "uploaded" and item["size_bytes"] == len(content)
    refused(lambda: client.call("GET", "submission", base, teacher), 409, "evidence_not_pending")


def test_completing_with_a_part_missing_names_it_and_changes_nothing(
    client: PlatformClient, teacher: Actor, credential: str
) -> None:
    submission_id = draft(client, teacher, credential)
    content = os.urandom(11 * MiB)
    slot = declare(client, teacher, submission_id, "lesson-plan", content, "application/octet-stream", "plan.bin")
    parts = slot["upload"]["parts"]
    client.put_parts([parts[0], parts[2]], parts_of(content, 5 * MiB))
    body = refused(lambda: client.complete_evidence(teacher, submission_id, slot["evidence_id"]), 409, "part_missing")
    assert body["details"] == [2]
    assert evidence_of(client, teacher, submission_id, slot["evidence_id"])["status"] == "pending"

    client.put_parts([parts[1]], parts_of(content, 5 * MiB))
    assert client.complete_evidence(teacher, submission_id, slot["evidence_id"])["status"] == "uploaded"


# -- bad input -----------------------------------------------------------------------------------


def test_bytes_that_contradict_the_declared_type_are_refused_and_deleted(
    client: PlatformClient, teacher: Actor, credential: str, tiny: bytes
) -> None:
    submission_id = draft(client, teacher, credential)
    body = refused(lambda: client.upload(teacher, submission_id, "classroom-video", b"not a video at all\n" * 50,
                                         "video/mp4", "lesson.mp4"), 422, "content_type_mismatch")
    assert body["detail"] == "declared video/mp4 but the bytes are text/plain"
    (item,) = client.submission(teacher, submission_id)["evidence"]
    assert item["status"] == "rejected"
    object_is_gone(client, teacher, submission_id, item["evidence_id"])
    # A real video declared as text is refused too: the reflection takes text only.
    refused(lambda: client.upload(teacher, submission_id, "reflection", tiny, "text/plain", "r.txt"),
            422, "content_type_mismatch")


def test_an_empty_file_is_refused_at_declaration(client: PlatformClient, teacher: Actor, credential: str) -> None:
    submission_id = draft(client, teacher, credential)
    refused(lambda: declare(client, teacher, submission_id, "reflection", b"", "text/plain", "empty.txt"),
            422, "empty_file")
    assert client.submission(teacher, submission_id)["evidence"] == []


def test_files_over_the_requirements_or_the_services_limit_are_refused_at_declaration(
    client: PlatformClient, teacher: Actor, credential: str
) -> None:
    submission_id = draft(client, teacher, credential)
    body = refused(lambda: declare(client, teacher, submission_id, "student-work", b"x", "application/pdf", "w.pdf",
                                   size=2 * MiB), 422, "evidence_too_large")
    assert body["details"] == {"max_bytes": MiB}
    refused(lambda: declare(client, teacher, submission_id, "lesson-plan", b"x", "application/pdf", "w.pdf",
                            size=3 * 1024**3), 422, "evidence_too_large")
    assert client.submission(teacher, submission_id)["evidence"] == []


def test_a_sha256_that_does_not_match_the_stored_bytes_is_refused(
    client: PlatformClient, teacher: Actor, credential: str
) -> None:
    submission_id = draft(client, teacher, credential)
    slot = declare(client, teacher, submission_id, "reflection", REFLECTION, "text/markdown", "r.md",
                   sha256=hashlib.sha256(b"something else").hexdigest())
    assert httpx.put(slot["upload"]["url"], content=REFLECTION).status_code == 200
    refused(lambda: client.complete_evidence(teacher, submission_id, slot["evidence_id"]), 422, "sha256_mismatch")
    assert evidence_of(client, teacher, submission_id, slot["evidence_id"])["status"] == "rejected"


def test_submitting_lists_missing_evidence_and_unanswered_prompts(
    client: PlatformClient, teacher: Actor, credential: str
) -> None:
    submission_id = draft(client, teacher, credential)
    client.upload(teacher, submission_id, "reflection", REFLECTION, "text/markdown", "reflection.md")
    client.answer_prompts(teacher, submission_id, {("reflection", 0): "Most had it."})
    body = refused(lambda: client.submit(teacher, submission_id), 422, "incomplete")
    assert body["details"] == [
        {"requirement_key": "classroom-video", "min_count": 1, "uploaded": 0},
        {"requirement_key": "reflection", "prompt_index": 1, "prompt": PROMPTS[1]},
    ]
    assert client.submission(teacher, submission_id)["status"] == "draft"


def test_submitting_twice_and_resubmitting_without_a_revision_request_are_conflicts(
    platform: Platform, client: PlatformClient, teacher: Actor, credential: str, tiny: bytes
) -> None:
    submission_id = complete_draft(client, teacher, credential, tiny)
    client.submit(teacher, submission_id)
    body = refused(lambda: client.submit(teacher, submission_id), 409, "not_submittable")
    assert body["details"] == {"status": "submitted"}
    (event,) = read_events(platform.endpoints.kafka_bootstrap, "submission.submitted",
                           lambda e: e.get("submission_id") == submission_id, 1)
    assert [r["prompt"] for r in event.value["responses"]] == PROMPTS
    video = next(e for e in event.value["evidence"] if e["requirement_key"] == "classroom-video")
    assert video["content_type"] == "video/mp4" and video["duration_seconds"] == pytest.approx(1.0, abs=0.2)


def test_someone_elses_draft_cannot_be_submitted_or_even_seen(
    client: PlatformClient, uploads_world: Any, teacher: Actor, credential: str, tiny: bytes
) -> None:
    submission_id = complete_draft(client, teacher, credential, tiny)
    stranger = uploads_world.teacher(licensed=False)
    refused(lambda: client.submit(stranger, submission_id), 404, "submission_not_found")
    refused(lambda: client.submission(stranger, submission_id), 404, "submission_not_found")
    assert client.submission(teacher, submission_id)["status"] == "draft"


def test_evidence_of_a_submitted_attempt_cannot_be_deleted_but_a_drafts_can(
    client: PlatformClient, teacher: Actor, credential: str, tiny: bytes
) -> None:
    submission_id = draft(client, teacher, credential)
    spare = client.upload(teacher, submission_id, "lesson-plan", b"%PDF-1.4\n" + os.urandom(2000), "application/pdf",
                          "plan.pdf")
    removed = client.call("DELETE", "submission", f"/submissions/{submission_id}/evidence/{spare}", teacher)
    assert removed["status"] == "withdrawn" and removed["removed_at"]
    object_is_gone(client, teacher, submission_id, spare)

    client.upload(teacher, submission_id, "classroom-video", tiny, "video/mp4", "lesson.mp4")
    reflection = client.upload(teacher, submission_id, "reflection", REFLECTION, "text/markdown", "reflection.md")
    client.answer_prompts(teacher, submission_id, ANSWERS)
    client.submit(teacher, submission_id)
    refused(lambda: client.call("DELETE", "submission", f"/submissions/{submission_id}/evidence/{reflection}",
                                teacher), 409, "evidence_locked")
    assert evidence_of(client, teacher, submission_id, reflection)["status"] == "uploaded"


def test_a_withdrawn_submission_is_final(
    platform: Platform, client: PlatformClient, teacher: Actor, credential: str, tiny: bytes
) -> None:
    submission_id = complete_draft(client, teacher, credential, tiny)
    withdrawn = client.call("POST", "submission", f"/submissions/{submission_id}/withdraw", teacher,
                            json={"reason": "moving schools"})
    assert withdrawn["status"] == "withdrawn" and withdrawn["finalized_at"]
    refused(lambda: client.submit(teacher, submission_id), 409, "not_submittable")
    refused(lambda: client.call("POST", "submission", f"/submissions/{submission_id}/withdraw", teacher),
            409, "not_withdrawable")
    refused(lambda: declare(client, teacher, submission_id, "reflection", REFLECTION, "text/plain", "r.txt"),
            409, "evidence_locked")
    (event,) = read_events(platform.endpoints.kafka_bootstrap, "submission.withdrawn",
                           lambda e: e.get("submission_id") == submission_id, 1)
    assert event.value["reason"] == "moving schools" and event.value["states"] == ["TN"]
    assert event.value["attempt"] == 1 and event.value["teacher_id"] == teacher.subject


# -- operations ----------------------------------------------------------------------------------


def test_the_operator_can_run_the_sweep_now_and_teachers_cannot(
    client: PlatformClient, uploads_world: Any, teacher: Actor
) -> None:
    refused(lambda: client.call("POST", "submission", "/maintenance/sweep", teacher), 403, "forbidden")
    counts = client.call("POST", "submission", "/maintenance/sweep", uploads_world.operator)
    assert set(counts) == {"purged_items", "abandoned_uploads", "aborted_unknown_uploads", "sealed_items",
                           "changed_items", "removed_stray_uploads"}


def test_a_resubmission_beyond_the_credentials_attempt_limit_is_refused(
    client: PlatformClient, uploads_world: Any, tiny: bytes
) -> None:
    credential_id = str(uploads_world.publish("One attempt", submission_criteria=CRITERIA, max_attempts=1))
    reviewer, teacher = uploads_world.reviewer(credential_id), uploads_world.teacher(licensed=False)
    submission_id = complete_draft(client, teacher, credential_id, tiny)
    client.submit(teacher, submission_id)
    review = client.assigned_review(reviewer, submission_id, attempt=1)
    client.score(reviewer, review["review_id"], {"overview": "not-yet", "adjustment": "not-yet"}, feedback="More.")
    client.wait_status(teacher, submission_id, "revise_requested")
    body = refused(lambda: client.submit(teacher, submission_id), 409, "max_attempts_reached")
    assert body["details"] == {"max_attempts": 1, "attempts": 1}
    assert client.submission(teacher, submission_id)["status"] == "revise_requested"


# -- sealed evidence -----------------------------------------------------------------------------


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def bucket(platform: Platform) -> Minio:
    endpoints = platform.endpoints
    return Minio(urlparse(endpoints.s3_endpoint).netloc, endpoints.s3_access_key, endpoints.s3_secret_key,
                 secure=False)


def stored(platform: Platform, object_key: str) -> bytes | None:
    try:
        response = bucket(platform).get_object(EVIDENCE_BUCKET, object_key)
    except S3Error as error:
        if error.code in ("NoSuchKey", "NoSuchObject"):
            return None
        raise
    try:
        return bytes(response.read())
    finally:
        response.close()
        response.release_conn()


def downloaded(client: PlatformClient, actor: Actor, submission_id: str, evidence_id: str) -> tuple[str, bytes]:
    ticket = client.call("GET", "submission", f"/submissions/{submission_id}/evidence/{evidence_id}/download", actor)
    response = httpx.get(ticket["download_url"])
    assert response.status_code == 200
    return ticket["download_url"], response.content


def test_bytes_put_through_upload_urls_after_verification_never_reach_the_reviewer(
    platform: Platform, client: PlatformClient, uploads_world: Any, tiny: bytes, tmp_path: Path, make_video: Any
) -> None:
    credential_id = str(uploads_world.publish("Sealed evidence", submission_criteria=CRITERIA))
    reviewer, teacher = uploads_world.reviewer(credential_id), uploads_world.teacher(licensed=False)
    submission_id = draft(client, teacher, credential_id)
    video = declare(client, teacher, submission_id, "classroom-video", tiny, "video/mp4", "lesson.mp4")
    assert video["upload"]["mode"] == "single"
    assert httpx.put(video["upload"]["url"], content=tiny).status_code == 200
    verified = client.complete_evidence(teacher, submission_id, video["evidence_id"])
    assert verified["object_key"].startswith(f"verified/{submission_id}/{video['evidence_id']}/")
    plan = os.urandom(11 * MiB)
    multipart = declare(client, teacher, submission_id, "lesson-plan", plan, "application/octet-stream", "plan.bin")
    parts = multipart["upload"]["parts"]
    client.put_parts(parts, parts_of(plan, 5 * MiB))
    client.complete_evidence(teacher, submission_id, multipart["evidence_id"])
    client.upload(teacher, submission_id, "reflection", REFLECTION, "text/markdown", "reflection.md")
    client.answer_prompts(teacher, submission_id, ANSWERS)
    # No fresh part URL is handed out for a verified item.
    refused(lambda: client.call("POST", "submission", f"/submissions/{submission_id}/evidence/"
                                f"{multipart['evidence_id']}/parts", teacher, json={"part_numbers": [1]}),
            409, "evidence_not_pending")

    other_video = make_video(tmp_path / "other.mp4", 2.0).read_bytes()
    assert httpx.put(video["upload"]["url"], content=other_video).status_code == 200, "the URL is still valid"
    assert client.complete_evidence(teacher, submission_id, video["evidence_id"]) == verified, "nothing re-read"
    client.submit(teacher, submission_id)
    # The sealed item's upload, and whatever the URL took meanwhile, goes with the next batch of removals
    # (upload_removal_interval_seconds, 5 by default), whatever was PUT there last.
    deadline = time.monotonic() + 30
    while stored(platform, video["object_key"]) is not None:
        assert time.monotonic() < deadline, "the upload of a sealed item was not removed"
        time.sleep(0.2)
    assert httpx.put(video["upload"]["url"], content=b"replaced after submitting").status_code == 200
    # S3, and SeaweedFS as measured here, refuse a part once its multipart upload was completed.
    late_part = httpx.put(parts[0]["url"], content=os.urandom(5 * MiB))
    assert late_part.status_code == 404 and "NoSuchUpload" in late_part.text
    refused(lambda: client.complete_evidence(teacher, submission_id, video["evidence_id"]), 409, "evidence_locked")

    client.assigned_review(reviewer, submission_id, attempt=1)
    (event,) = read_events(platform.endpoints.kafka_bootstrap, "submission.submitted",
                           lambda e: e.get("submission_id") == submission_id, 1)
    sent = {e["evidence_id"]: e for e in event.value["evidence"]}
    # The single PUT was sealed as a copy; the completed multipart upload, beyond every URL, where it is.
    assert sent[video["evidence_id"]]["object_key"] == verified["object_key"]
    assert sent[multipart["evidence_id"]]["object_key"] == multipart["object_key"]
    for evidence_id, content in [(video["evidence_id"], tiny), (multipart["evidence_id"], plan)]:
        url, body = downloaded(client, reviewer, submission_id, evidence_id)
        assert sha256(body) == sha256(content) == sent[evidence_id]["sha256"]
        assert sent[evidence_id]["object_key"] in url and stored(platform, sent[evidence_id]["object_key"]) == content

    assert stored(platform, video["object_key"]) == b"replaced after submitting"
    client.call("POST", "submission", "/maintenance/sweep", uploads_world.operator)
    assert stored(platform, video["object_key"]) is None, "the sweep removes what landed after sealing"
    assert stored(platform, multipart["object_key"]) == plan, "and keeps what is sealed in place"


async def _sql(platform: Platform, database: str, statement: str, rows: list[dict[str, Any]] | None = None) -> Any:
    engine = create_async_engine(platform.endpoints.database_url(database), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            result = await connection.execute(sa.text(statement), rows)
            return result.all() if result.returns_rows else None
    finally:
        await engine.dispose()


def verified_before_sealing(platform: Platform, submission_id: str, item: dict[str, Any], content: bytes) -> str:
    """Make a sealed item look like one verified before sealing existed, holding ``content`` at its upload
    key (the verified bytes, or others PUT after verification); returns that key."""
    upload_key = f"submissions/{submission_id}/{item['evidence_id']}/{item['filename']}"
    store = bucket(platform)
    store.put_object(EVIDENCE_BUCKET, upload_key, io.BytesIO(content), len(content))
    store.remove_object(EVIDENCE_BUCKET, item["object_key"])
    asyncio.run(_sql(platform, "submission", "UPDATE evidence SET verified_key = NULL WHERE evidence_id = :id",
                     [{"id": item["evidence_id"]}]))
    return upload_key


def test_evidence_verified_before_sealing_is_read_in_place_until_the_sweep_seals_it_or_finds_it_changed(
    platform: Platform, client: PlatformClient, uploads_world: Any, teacher: Actor, credential: str, tiny: bytes
) -> None:
    submission_id = complete_draft(client, teacher, credential, tiny)
    items = {e["requirement_key"]: e for e in client.submission(teacher, submission_id)["evidence"]}
    video, reflection = items["classroom-video"], items["reflection"]
    video_key = verified_before_sealing(platform, submission_id, video, tiny)
    reflection_key = verified_before_sealing(platform, submission_id, reflection, REFLECTION.upper())

    url, body = downloaded(client, teacher, submission_id, video["evidence_id"])
    assert video_key in url and body == tiny, "read where it was verified"
    # The service's own sweep may get there first; either way the end state is the same.
    client.call("POST", "submission", "/maintenance/sweep", uploads_world.operator)

    after = {e["requirement_key"]: e for e in client.submission(teacher, submission_id)["evidence"]}
    assert after["classroom-video"]["status"] == "uploaded" and after["classroom-video"]["object_key"] != video[
        "object_key"]
    url, body = downloaded(client, teacher, submission_id, video["evidence_id"])
    assert "/verified/" in url and sha256(body) == sha256(tiny)
    assert after["reflection"]["status"] == "rejected"
    assert after["reflection"]["rejection"]["code"] == "changed_after_verification"
    assert stored(platform, video_key) is None and stored(platform, reflection_key) is None
    refused(lambda: client.submit(teacher, submission_id), 422, "incomplete")


def test_migration_0006_seals_completed_multipart_uploads_in_place_and_leaves_single_ones_to_the_sweep(
    platform: Platform,
) -> None:
    database = f"submission_0006_{uuid.uuid4().hex[:8]}"
    asyncio.run(_sql(platform, "submission", f"CREATE DATABASE {database}"))
    try:
        url = platform.endpoints.database_url(database)
        upgrade(url, "microcred.submission:migrations", "0005")
        submission_id = uuid.uuid4()
        asyncio.run(_sql(platform, database,
                         "INSERT INTO submissions (submission_id, teacher_id, credential_id, credential_version, "
                         "credential_name, states, status, attempt, created_at) VALUES (:id, 't', :credential, 1, "
                         "'c', '[]', 'draft', 1, now())", [{"id": submission_id, "credential": uuid.uuid4()}]))
        items = {name: uuid.uuid4() for name in ("multipart_verified", "single_verified", "multipart_pending")}
        asyncio.run(_sql(platform, database,
                         "INSERT INTO evidence (evidence_id, submission_id, requirement_key, filename, content_type, "
                         "size_bytes, sha256, object_key, status, upload_mode, uploaded_at) VALUES (:id, :submission, "
                         "'r', 'f', 'video/mp4', 1, 'x', :key, 'uploaded', :mode, "
                         "CASE WHEN :verified THEN now() END)",
                         [{"id": evidence_id, "submission": submission_id, "key": f"submissions/x/{evidence_id}/f",
                           "mode": name.split("_")[0], "verified": name.endswith("_verified")}
                          for name, evidence_id in items.items()]))
        upgrade(url, "microcred.submission:migrations")
        found = asyncio.run(_sql(platform, database, "SELECT evidence_id, object_key, verified_key FROM evidence"))
        sealed_in_place = {row.evidence_id: row.verified_key == row.object_key for row in found}
        assert {name: sealed_in_place[evidence_id] for name, evidence_id in items.items()} == {
            "multipart_verified": True, "single_verified": False, "multipart_pending": False}
    finally:
        asyncio.run(_sql(platform, "submission", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
