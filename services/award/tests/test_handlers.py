"""Award use cases driven through fakes: who gets an award, when, and that redeliveries change nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from microcred.award.domain.model import AwardStatus
from microcred.award.service_layer.handlers import award_passed_submission, record_credential_version
from microcred.events import CredentialAwarded


async def test_a_passed_score_for_a_known_version_issues_an_award_and_emits_it(uow: Any, build: Any) -> None:
    credential = build.published()
    await record_credential_version(credential, uow, build.salt)
    score = build.scored(credential)
    await award_passed_submission(score, uow, build.salt)

    (event,) = uow.published
    assert isinstance(event, CredentialAwarded)
    assert event.causation_id == score.event_id and event.correlation_id == score.correlation_id
    assert event.states == ("TN",) and event.teacher_id == "teacher-42"
    assert event.issued_at == score.scored_at
    assert event.credential["id"] == f"urn:uuid:{event.award_id}"
    assert event.issuer_id == credential.issuer.issuer_id


async def test_a_revise_decision_is_claimed_and_awards_nothing(uow: Any, build: Any) -> None:
    credential = build.published()
    await record_credential_version(credential, uow, build.salt)
    score = build.scored(credential, decision="revise")
    await award_passed_submission(score, uow, build.salt)
    assert uow.awards.rows == {} and uow.published == []
    assert ("award.award_passed_submission", score.event_id) in uow.claimed


async def test_the_same_score_delivered_twice_awards_once(uow: Any, build: Any) -> None:
    credential = build.published()
    await record_credential_version(credential, uow, build.salt)
    score = build.scored(credential)
    await award_passed_submission(score, uow, build.salt)
    await award_passed_submission(score, uow, build.salt)
    assert len(uow.awards.rows) == 1 and len(uow.published) == 1


async def test_a_second_passed_score_for_the_same_submission_does_nothing(uow: Any, build: Any) -> None:
    credential = build.published()
    await record_credential_version(credential, uow, build.salt)
    submission_id = uuid4()
    await award_passed_submission(build.scored(credential, submission_id=submission_id), uow, build.salt)
    await award_passed_submission(build.scored(credential, submission_id=submission_id), uow, build.salt)
    assert len(uow.awards.rows) == 1 and len(uow.published) == 1


async def test_a_score_before_its_credential_version_waits_and_is_issued_when_the_version_arrives(
    uow: Any, build: Any
) -> None:
    credential = build.published()
    score = build.scored(credential)
    await award_passed_submission(score, uow, build.salt)
    (waiting,) = uow.awards.rows.values()
    assert waiting.status is AwardStatus.PENDING and uow.published == []

    await record_credential_version(credential, uow, build.salt)
    (issued,) = uow.awards.rows.values()
    assert issued.status is AwardStatus.ISSUED
    (event,) = uow.published
    assert event.award_id == waiting.award_id and event.causation_id == score.event_id


async def test_the_credential_version_delivered_twice_issues_waiting_awards_once(uow: Any, build: Any) -> None:
    credential = build.published()
    await award_passed_submission(build.scored(credential), uow, build.salt)
    await record_credential_version(credential, uow, build.salt)
    await record_credential_version(credential, uow, build.salt)
    assert len(uow.published) == 1


async def test_a_waiting_award_is_not_issued_by_another_version_of_the_credential(uow: Any, build: Any) -> None:
    first = build.published(version=1)
    await award_passed_submission(build.scored(first), uow, build.salt)
    await record_credential_version(build.published(credential_id=first.credential_id, version=2), uow, build.salt)
    (waiting,) = uow.awards.rows.values()
    assert waiting.status is AwardStatus.PENDING and uow.published == []


async def test_the_award_event_carries_the_expiry_of_a_credential_that_expires(uow: Any, build: Any) -> None:
    credential = build.published(expiry_months=12)
    await record_credential_version(credential, uow, build.salt)
    await award_passed_submission(build.scored(credential), uow, build.salt)
    (event,) = uow.published
    assert event.valid_until == datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
    assert event.credential["validUntil"] == "2026-03-04T15:30:00Z"


async def test_an_award_that_waited_for_its_version_expires_counting_from_when_it_was_earned(
    uow: Any, build: Any
) -> None:
    credential = build.published(expiry_months=1)
    await award_passed_submission(build.scored(credential), uow, build.salt)
    await record_credential_version(credential, uow, build.salt)
    (event,) = uow.published
    assert event.valid_until == datetime(2025, 4, 4, 15, 30, tzinfo=UTC)


async def test_the_award_event_has_no_expiry_when_the_credential_has_none(uow: Any, build: Any) -> None:
    credential = build.published()
    await record_credential_version(credential, uow, build.salt)
    await award_passed_submission(build.scored(credential), uow, build.salt)
    (event,) = uow.published
    assert event.valid_until is None and "validUntil" not in event.credential
