"""Request validation through the real composition root, and event delivery through the real subscribers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from faststream.kafka import KafkaBroker, TestKafkaBroker
from submission_fakes import FakeDatabase, FakeStore

from microcred.events import CredentialRetired, PathwayChanged, PathwayStep, ReviewerAssigned, ReviewerReleased
from microcred.runtime.auth import DevTokenIssuer, Role
from microcred.submission.adapters.evidence_store import EvidenceStore
from microcred.submission.bootstrap import build_app
from microcred.submission.domain.model import Attempt, PublishedCredential, Submission, SubmissionStatus
from microcred.submission.entrypoints.consumers import register_consumers
from microcred.submission.settings import SubmissionSettings


@pytest.fixture
def tokens(tmp_path: Path) -> DevTokenIssuer:
    return DevTokenIssuer(tmp_path / "auth")


@pytest.fixture
def client(tokens: DevTokenIssuer) -> Iterator[TestClient]:
    settings = SubmissionSettings(auth_jwks_url=tokens.jwks_url)
    # No lifespan: nothing connects; these requests are refused before any use case runs.
    yield TestClient(build_app(settings, store=FakeStore()))


def bearer(tokens: DevTokenIssuer, *roles: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.mint('teacher-1', roles, states=['TN'])}"}


def test_every_submission_route_needs_a_bearer_token(client: TestClient) -> None:
    submission_id, evidence_id = uuid4(), uuid4()
    for method, path in [
        ("POST", "/submissions"),
        ("GET", "/submissions"),
        ("GET", f"/submissions/{submission_id}"),
        ("POST", f"/submissions/{submission_id}/evidence"),
        ("POST", f"/submissions/{submission_id}/evidence/{evidence_id}/complete"),
        ("DELETE", f"/submissions/{submission_id}/evidence/{evidence_id}"),
        ("GET", f"/submissions/{submission_id}/evidence/{evidence_id}/download"),
        ("POST", f"/submissions/{submission_id}/submit"),
        ("POST", f"/submissions/{submission_id}/evidence/{evidence_id}/parts"),
        ("GET", f"/submissions/{submission_id}/evidence/{evidence_id}/parts"),
        ("PUT", f"/submissions/{submission_id}/responses"),
        ("POST", f"/submissions/{submission_id}/withdraw"),
        ("POST", "/maintenance/sweep"),
    ]:
        assert client.request(method, path).status_code == 401, path


def test_only_teachers_start_submissions(client: TestClient, tokens: DevTokenIssuer) -> None:
    response = client.post(
        "/submissions", json={"credential_id": str(uuid4())}, headers=bearer(tokens, Role.REVIEWER)
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "change",
    [
        {"sha256": "abc"},
        {"sha256": "g" * 64},
        {"size_bytes": -1},
        {"filename": ""},
        {"content_type": "not a type"},
        {"requirement_key": ""},
    ],
)
def test_malformed_evidence_declarations_are_refused(
    client: TestClient, tokens: DevTokenIssuer, change: dict[str, object]
) -> None:
    body = {"requirement_key": "reflection", "filename": "r.txt", "content_type": "text/plain",
            "size_bytes": 10, "sha256": "a" * 64} | change
    response = client.post(f"/submissions/{uuid4()}/evidence", json=body, headers=bearer(tokens, Role.TEACHER))
    assert response.status_code == 422


def test_a_note_to_the_reviewer_past_its_length_is_refused_in_the_one_error_shape(
    client: TestClient, tokens: DevTokenIssuer
) -> None:
    response = client.post(f"/submissions/{uuid4()}/submit", json={"note_to_reviewer": "x" * 2001},
                           headers=bearer(tokens, Role.TEACHER))
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request"
    (detail,) = body["details"]
    assert detail["loc"] == ["body", "note_to_reviewer"] and detail["type"] == "too_long"


def test_settings_refuse_the_local_s3_secret_in_production() -> None:
    with pytest.raises(ValueError, match="s3_secret_key"):
        SubmissionSettings(mode="production", auth_jwks_url="https://idp.example/jwks",
                           database_url="postgresql+asyncpg://u:p@db/submission")


@pytest.mark.parametrize("setting", [{"upload_url_ttl_seconds": 901}, {"download_url_ttl_seconds": 301}])
def test_settings_refuse_url_lifetimes_past_the_policy(setting: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=next(iter(setting))):
        SubmissionSettings(**setting)


def test_presigned_urls_are_signed_for_the_public_endpoint_by_default_the_internal_one() -> None:
    assert SubmissionSettings().s3_public_endpoint == "http://127.0.0.1:15403"
    store = EvidenceStore(SubmissionSettings(s3_endpoint="http://minio:9000",
                                             s3_public_endpoint="https://files.example"))
    url = asyncio.run(store.upload_url("submissions/s/e/a.txt", 900))
    assert url.startswith("https://files.example/evidence/submissions/s/e/a.txt?")
    assert "X-Amz-Expires=900" in url


async def test_a_review_event_on_its_topic_reaches_the_use_case_once_even_when_delivered_twice(
    db: FakeDatabase, credential: PublishedCredential
) -> None:
    submission = Submission(
        submission_id=uuid4(), teacher_id="teacher-1", credential_id=credential.credential_id,
        credential_version=1, credential_name=credential.name, states=(), created_at=datetime.now(UTC),
        status=SubmissionStatus.SUBMITTED, attempts=[Attempt(number=1, submitted_at=datetime.now(UTC))],
    )
    db.state.submissions[submission.submission_id] = submission
    event = ReviewerAssigned(
        correlation_id=uuid4(), review_id=uuid4(), submission_id=submission.submission_id, attempt=1,
        reviewer_id="reviewer-1", due_at=datetime.now(UTC) + timedelta(days=3),
    )
    broker = KafkaBroker()
    register_consumers(broker, db.uow)
    async with TestKafkaBroker(broker) as test_broker:
        # A newer producer's extra field must not bother this (tolerant) reader.
        payload = json.loads(event.to_json()) | {"added_later": True}
        for _ in range(2):
            await test_broker.publish(payload, ReviewerAssigned.topic, key=event.record_key())
    stored = db.state.submissions[submission.submission_id]
    assert stored.status is SubmissionStatus.UNDER_REVIEW and stored.attempts[0].reviewer_id == "reviewer-1"
    assert db.commits == 1


async def test_a_release_on_its_topic_ends_the_reviewers_access_once_even_when_delivered_twice(
    db: FakeDatabase, credential: PublishedCredential
) -> None:
    now = datetime.now(UTC)
    submission = Submission(
        submission_id=uuid4(), teacher_id="teacher-1", credential_id=credential.credential_id,
        credential_version=1, credential_name=credential.name, states=(), created_at=now,
        status=SubmissionStatus.SUBMITTED, attempts=[Attempt(number=1, submitted_at=now)],
    )
    submission.assign_reviewer(1, "reviewer-1", now + timedelta(days=3))
    db.state.submissions[submission.submission_id] = submission
    event = ReviewerReleased(
        correlation_id=uuid4(), review_id=uuid4(), submission_id=submission.submission_id, attempt=1,
        reviewer_id="reviewer-1", role="primary", reason="declined", released_at=now,
    )
    broker = KafkaBroker()
    register_consumers(broker, db.uow)
    async with TestKafkaBroker(broker) as test_broker:
        for _ in range(2):
            await test_broker.publish(json.loads(event.to_json()), ReviewerReleased.topic, key=event.record_key())
    stored = db.state.submissions[submission.submission_id]
    assert not stored.is_reviewed_by("reviewer-1") and stored.status is SubmissionStatus.UNDER_REVIEW
    assert db.commits == 1


async def test_catalog_retirements_and_pathway_changes_reach_their_use_cases_through_the_subscribers(
    db: FakeDatabase, credential: PublishedCredential
) -> None:
    prerequisite = uuid4()
    retirement = CredentialRetired(correlation_id=uuid4(), credential_id=credential.credential_id, version=1,
                                   reason="replaced")
    change = PathwayChanged(
        correlation_id=uuid4(), pathway_id=uuid4(), revision=1, issuer_id=uuid4(), name="p", description="d",
        steps=(PathwayStep(credential_id=credential.credential_id, prerequisites=(prerequisite,)),),
    )
    broker = KafkaBroker()
    register_consumers(broker, db.uow)
    async with TestKafkaBroker(broker) as test_broker:
        for event in (retirement, change):
            await test_broker.publish(json.loads(event.to_json()), event.topic, key=event.record_key())
    assert db.state.retired == {(credential.credential_id, 1)}
    assert db.state.pathways[change.pathway_id].prerequisite_links() == {(credential.credential_id, prerequisite)}


def test_an_empty_file_is_refused_with_its_own_code(client: TestClient, tokens: DevTokenIssuer) -> None:
    body = {"requirement_key": "reflection", "filename": "r.txt", "content_type": "text/plain",
            "size_bytes": 0, "sha256": "a" * 64}
    response = client.post(f"/submissions/{uuid4()}/evidence", json=body, headers=bearer(tokens, Role.TEACHER))
    assert (response.status_code, response.json()["error"]) == (422, "empty_file")


def test_only_operators_run_the_sweep(client: TestClient, tokens: DevTokenIssuer) -> None:
    assert client.post("/maintenance/sweep", headers=bearer(tokens, Role.TEACHER)).status_code == 403
