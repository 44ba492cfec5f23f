"""The issued credential document: Open Badges 3.0 shape, hashed identity, one result per criterion."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest

from microcred.award.domain.model import (
    CREDENTIALS_CONTEXT,
    OPEN_BADGES_CONTEXT,
    Award,
    AwardStatus,
    build_open_badge,
    identity_hash,
)
from microcred.runtime.errors import Conflict, Invalid


def document(build: Any, **overrides: Any) -> dict[str, Any]:
    event = build.published()
    arguments: dict[str, Any] = {
        "award_id": uuid4(),
        "issued_at": datetime(2025, 3, 4, 15, 30, tzinfo=UTC),
        "teacher_id": "teacher-42",
        "identity_salt": build.salt,
        "credential": build.credential_of(event),
        "results": build.results(),
    }
    return build_open_badge(**(arguments | overrides))


def test_contexts_come_first_with_the_credentials_context_before_open_badges(build: Any) -> None:
    doc = document(build)
    assert next(iter(doc)) == "@context"
    assert doc["@context"] == [CREDENTIALS_CONTEXT, OPEN_BADGES_CONTEXT]


def test_document_is_an_open_badge_credential_identified_by_the_award(build: Any) -> None:
    award_id = uuid4()
    doc = document(build, award_id=award_id)
    assert doc["id"] == f"urn:uuid:{award_id}"
    assert doc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert "proof" not in doc


def test_issuer_is_a_profile_with_its_optional_contact_details(build: Any) -> None:
    event = build.published()
    issuer = build_open_badge(
        award_id=uuid4(), issued_at=datetime.now(UTC), teacher_id="t", identity_salt=build.salt,
        credential=build.credential_of(event), results=build.results(),
    )["issuer"]
    assert issuer == {
        "id": f"urn:uuid:{event.issuer.issuer_id}",
        "type": ["Profile"],
        "name": "Teaching Lab",
        "url": "https://lab.example.org/",
    }


def test_valid_from_is_the_issue_time_in_utc_with_a_z(build: Any) -> None:
    eastern = timezone(timedelta(hours=-5))
    doc = document(build, issued_at=datetime(2025, 3, 4, 10, 30, tzinfo=eastern))
    assert doc["validFrom"] == "2025-03-04T15:30:00Z"


def test_hashed_identity_does_not_contain_the_raw_teacher_id(build: Any) -> None:
    doc = document(build, teacher_id="teacher-42")
    (identifier,) = doc["credentialSubject"]["identifier"]
    expected = "sha256$" + hashlib.sha256(("teacher-42" + build.salt).encode()).hexdigest()
    assert identifier == {
        "type": "IdentityObject",
        "identityHash": expected,
        "identityType": "identifier",
        "hashed": True,
        "salt": build.salt,
    }
    assert "teacher-42" not in str(doc)


def test_the_same_teacher_hashes_differently_under_another_salt() -> None:
    assert identity_hash("teacher-42", "salt-one-0123456789") != identity_hash("teacher-42", "salt-two-0123456789")


def test_achievement_is_the_credential_version_with_its_competency_as_criteria(build: Any) -> None:
    event = build.published(version=3)
    doc = document(build, credential=build.credential_of(event))
    achievement = doc["credentialSubject"]["achievement"]
    assert achievement["id"] == f"urn:uuid:{event.credential_id}:v3"
    assert achievement["type"] == ["Achievement"]
    assert achievement["achievementType"] == "MicroCredential"
    assert achievement["criteria"] == {"narrative": event.competency}
    assert doc["credentialSubject"]["type"] == ["AchievementSubject"]


def test_each_rubric_criterion_is_a_result_description_with_its_levels(build: Any) -> None:
    event = build.published()
    doc = document(build, credential=build.credential_of(event))
    planning, feedback = doc["credentialSubject"]["achievement"]["resultDescription"]
    base = f"urn:uuid:{event.credential_id}:v1"
    assert planning["id"] == f"{base}:planning"
    assert feedback["name"] == "Student feedback"
    assert planning["resultType"] == "RubricCriterionLevel"
    assert planning["allowedValue"] == ["Emerging", "Proficient", "Exemplary"]
    assert planning["rubricCriterionLevel"][1] == {
        "id": f"{base}:planning:proficient",
        "type": ["RubricCriterionLevel"],
        "name": "Proficient",
        "points": "2",
        "description": "Consistent use",
    }


def test_one_result_per_rubric_criterion_names_the_achieved_level(build: Any) -> None:
    event = build.published()
    doc = document(build, credential=build.credential_of(event), results=build.results("exemplary", "proficient"))
    base = f"urn:uuid:{event.credential_id}:v1"
    assert doc["credentialSubject"]["result"] == [
        {"type": ["Result"], "resultDescription": f"{base}:planning", "achievedLevel": f"{base}:planning:exemplary"},
        {"type": ["Result"], "resultDescription": f"{base}:feedback", "achievedLevel": f"{base}:feedback:proficient"},
    ]


def test_a_score_missing_a_rubric_criterion_is_refused(build: Any) -> None:
    with pytest.raises(Invalid) as raised:
        document(build, results=build.results()[:1])
    assert raised.value.code == "rubric_mismatch"


def test_a_score_at_a_level_the_rubric_lacks_is_refused(build: Any) -> None:
    bad = (build.results()[0].model_copy(update={"level_key": "legendary"}), build.results()[1])
    with pytest.raises(Invalid):
        document(build, results=bad)


def test_the_document_is_the_same_every_time_it_is_built(build: Any) -> None:
    award_id, credential = uuid4(), build.credential_of(build.published())
    first = document(build, award_id=award_id, credential=credential)
    assert document(build, award_id=award_id, credential=credential) == first


def test_an_issued_award_cannot_be_issued_again(build: Any) -> None:
    event = build.published()
    award = Award(
        award_id=uuid4(), submission_id=uuid4(), teacher_id="t", credential_id=event.credential_id,
        credential_version=1, results=build.results(), issued_at=datetime.now(UTC),
    )
    award.issue(build.credential_of(event), build.salt)
    assert award.status is AwardStatus.ISSUED and award.issuer_id == event.issuer.issuer_id
    with pytest.raises(Conflict):
        award.issue(build.credential_of(event), build.salt)


def test_an_award_is_only_issued_for_its_own_credential_version(build: Any) -> None:
    event = build.published(version=2)
    award = Award(
        award_id=uuid4(), submission_id=uuid4(), teacher_id="t", credential_id=event.credential_id,
        credential_version=1, results=build.results(), issued_at=datetime.now(UTC),
    )
    with pytest.raises(Invalid):
        award.issue(build.credential_of(event), build.salt)
