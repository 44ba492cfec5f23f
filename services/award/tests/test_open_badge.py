"""The issued credential document: Open Badges 3.0 shape, hashed identity, one result per criterion."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4, uuid5

import pytest

from microcred.award.domain.model import (
    CREDENTIALS_CONTEXT,
    OPEN_BADGES_CONTEXT,
    Award,
    AwardStatus,
    PublicUrls,
    SubmittedAttempt,
    add_months,
    build_open_badge,
    identity_hash,
)
from microcred.events import Alignment, IssuerProfile
from microcred.runtime.errors import Conflict, Invalid

URLS = PublicUrls("https://award.example")


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
    assert achievement["id"] == f"urn:uuid:{uuid5(event.credential_id, 'v3')}"
    assert achievement["type"] == ["Achievement"]
    assert achievement["achievementType"] == "MicroCredential"
    assert achievement["criteria"] == {"narrative": event.competency}
    assert doc["credentialSubject"]["type"] == ["AchievementSubject"]


def test_each_rubric_criterion_is_a_result_description_with_its_levels(build: Any) -> None:
    event = build.published()
    doc = document(build, credential=build.credential_of(event))
    planning, feedback = doc["credentialSubject"]["achievement"]["resultDescription"]
    planning_uuid = uuid5(uuid5(event.credential_id, "v1"), "planning")
    assert planning["id"] == f"urn:uuid:{planning_uuid}"
    assert feedback["name"] == "Student feedback"
    assert planning["resultType"] == "RubricCriterionLevel"
    assert planning["allowedValue"] == ["Emerging", "Proficient", "Exemplary"]
    assert planning["rubricCriterionLevel"][1] == {
        "id": f"urn:uuid:{uuid5(planning_uuid, 'proficient')}",
        "type": ["RubricCriterionLevel"],
        "name": "Proficient",
        "points": "2",
        "description": "Consistent use",
    }


def test_one_result_per_rubric_criterion_names_the_achieved_level(build: Any) -> None:
    event = build.published()
    doc = document(build, credential=build.credential_of(event), results=build.results("exemplary", "proficient"))
    descriptions = {d["name"]: d for d in doc["credentialSubject"]["achievement"]["resultDescription"]}
    planning, feedback = descriptions["Planning"], descriptions["Student feedback"]
    assert doc["credentialSubject"]["result"] == [
        {"type": ["Result"], "resultDescription": planning["id"],
         "achievedLevel": planning["rubricCriterionLevel"][2]["id"]},
        {"type": ["Result"], "resultDescription": feedback["id"],
         "achievedLevel": feedback["rubricCriterionLevel"][1]["id"]},
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


def pending_award(build: Any, event: Any, version: int = 1, issued_at: datetime | None = None) -> Award:
    return Award(
        award_id=uuid4(), submission_id=uuid4(), teacher_id="t", credential_id=event.credential_id,
        credential_version=version, results=build.results(), issued_at=issued_at or datetime.now(UTC), attempt=1,
    )


def attempt_of(award: Award) -> SubmittedAttempt:
    assert award.submission_id is not None
    return SubmittedAttempt(submission_id=award.submission_id, attempt=1, teacher_id="t", teacher_email=None,
                            teacher_did=None, evidence=(), responses=())


def test_an_issued_award_cannot_be_issued_again(build: Any) -> None:
    event = build.published()
    award = pending_award(build, event)
    unsigned = award.unsigned_document(build.credential_of(event), attempt_of(award), build.salt, URLS)
    award.issue(unsigned | {"proof": [{"type": "DataIntegrityProof"}]}, event.issuer.issuer_id, event.name, None)
    assert award.status is AwardStatus.ISSUED and award.issuer_id == event.issuer.issuer_id
    with pytest.raises(Conflict):
        award.issue(unsigned | {"proof": []}, event.issuer.issuer_id, event.name, None)
    with pytest.raises(Conflict):
        award.unsigned_document(build.credential_of(event), attempt_of(award), build.salt, URLS)


def test_an_award_is_issued_only_with_a_signed_document(build: Any) -> None:
    event = build.published()
    award = pending_award(build, event)
    unsigned = award.unsigned_document(build.credential_of(event), attempt_of(award), build.salt, URLS)
    with pytest.raises(Invalid):
        award.issue(unsigned, event.issuer.issuer_id, event.name, None)


def test_an_award_is_only_issued_for_its_own_credential_version(build: Any) -> None:
    event = build.published(version=2)
    award = pending_award(build, event, version=1)
    with pytest.raises(Invalid):
        award.unsigned_document(build.credential_of(event), attempt_of(award), build.salt, URLS)


def test_an_award_is_only_issued_for_its_own_attempt(build: Any) -> None:
    event = build.published()
    award = pending_award(build, event)
    other = SubmittedAttempt(submission_id=uuid4(), attempt=1, teacher_id="t", teacher_email=None, teacher_did=None,
                             evidence=(), responses=())
    with pytest.raises(Invalid):
        award.unsigned_document(build.credential_of(event), other, build.salt, URLS)


# -- identifiers -------------------------------------------------------------------------------


def urn_uuids(node: Any) -> list[str]:
    """Every ``id`` in the document that is a urn:uuid."""
    if isinstance(node, dict):
        own = [node["id"]] if isinstance(node.get("id"), str) and node["id"].startswith("urn:uuid:") else []
        return own + [found for value in node.values() for found in urn_uuids(value)]
    if isinstance(node, list):
        return [found for value in node for found in urn_uuids(value)]
    return []


def test_every_urn_uuid_in_the_document_holds_exactly_one_valid_uuid(build: Any) -> None:
    doc = document(build)
    ids = urn_uuids(doc)
    assert len(ids) == 3 + 2 * (1 + 3)  # credential, issuer, achievement; 2 descriptions of 3 levels each
    for urn in ids:
        assert str(UUID(urn.removeprefix("urn:uuid:"))) == urn.removeprefix("urn:uuid:"), urn
    assert len(set(ids)) == len(ids)


def test_achievement_ids_are_stable_per_version_and_differ_between_versions(build: Any) -> None:
    credential_id = uuid4()
    first = document(build, credential=build.credential_of(build.published(credential_id, 1)))
    again = document(build, credential=build.credential_of(build.published(credential_id, 1)))
    second = document(build, credential=build.credential_of(build.published(credential_id, 2)))
    achievement = [d["credentialSubject"]["achievement"] for d in (first, again, second)]
    assert achievement[0]["id"] == achievement[1]["id"] != achievement[2]["id"]
    assert achievement[0]["resultDescription"] == achievement[1]["resultDescription"]
    assert achievement[0]["resultDescription"][0]["id"] != achievement[2]["resultDescription"][0]["id"]


# -- alignments, images, issuer details --------------------------------------------------------


def test_alignments_become_ob3_alignments_without_the_keys_the_catalog_left_out(build: Any) -> None:
    event = build.published(alignments=(
        Alignment(target_name="Danielson 3b: Using Questioning and Discussion Techniques",
                  target_framework="Danielson Framework for Teaching", target_code="3b",
                  target_url="https://danielsongroup.org/framework/3b", target_description="Questioning",
                  target_type="ext:EvaluationRubricComponent"),
        Alignment(target_name="TEAM Questioning"),
    ))
    achievement = document(build, credential=build.credential_of(event))["credentialSubject"]["achievement"]
    assert achievement["alignment"] == [
        {
            "type": ["Alignment"],
            "targetName": "Danielson 3b: Using Questioning and Discussion Techniques",
            "targetUrl": "https://danielsongroup.org/framework/3b",
            "targetDescription": "Questioning",
            "targetFramework": "Danielson Framework for Teaching",
            "targetCode": "3b",
            "targetType": "ext:EvaluationRubricComponent",
        },
    ], "OB 3.0 requires targetUrl: an alignment without one stays in the catalog"


def test_an_achievement_without_alignments_or_image_has_neither_key(build: Any) -> None:
    achievement = document(build)["credentialSubject"]["achievement"]
    assert "alignment" not in achievement and "image" not in achievement


def test_the_credential_image_is_the_achievement_image(build: Any) -> None:
    event = build.published(image_url="https://lab.example.org/badges/cfu.png")
    achievement = document(build, credential=build.credential_of(event))["credentialSubject"]["achievement"]
    assert achievement["image"] == {"id": "https://lab.example.org/badges/cfu.png", "type": "Image"}


def test_the_issuer_profile_carries_its_description_and_image_when_the_catalog_has_them(build: Any) -> None:
    issuer = IssuerProfile(issuer_id=uuid4(), name="Teaching Lab", description="A nonprofit for teachers.",
                           image_url="https://lab.example.org/logo.png")
    doc = document(build, credential=build.credential_of(build.published(issuer=issuer)))
    assert doc["issuer"] == {
        "id": f"urn:uuid:{issuer.issuer_id}",
        "type": ["Profile"],
        "name": "Teaching Lab",
        "description": "A nonprofit for teachers.",
        "image": {"id": "https://lab.example.org/logo.png", "type": "Image"},
    }


# -- expiry ------------------------------------------------------------------------------------


def test_a_credential_without_an_expiry_has_no_valid_until(build: Any) -> None:
    assert "validUntil" not in document(build)


def test_valid_until_is_the_issue_time_plus_the_expiry_in_calendar_months(build: Any) -> None:
    credential = build.credential_of(build.published(expiry_months=36))
    doc = document(build, credential=credential, issued_at=datetime(2025, 3, 4, 15, 30, tzinfo=UTC))
    assert doc["validFrom"] == "2025-03-04T15:30:00Z"
    assert doc["validUntil"] == "2028-03-04T15:30:00Z"


@pytest.mark.parametrize(
    ("issued", "months", "until"),
    [
        (datetime(2025, 1, 31, 9, tzinfo=UTC), 1, datetime(2025, 2, 28, 9, tzinfo=UTC)),
        (datetime(2024, 1, 31, 9, tzinfo=UTC), 1, datetime(2024, 2, 29, 9, tzinfo=UTC)),
        (datetime(2024, 2, 29, 9, tzinfo=UTC), 12, datetime(2025, 2, 28, 9, tzinfo=UTC)),
        (datetime(2025, 8, 31, 9, tzinfo=UTC), 1, datetime(2025, 9, 30, 9, tzinfo=UTC)),
        (datetime(2025, 11, 15, 9, tzinfo=UTC), 2, datetime(2026, 1, 15, 9, tzinfo=UTC)),
        (datetime(2025, 12, 31, 23, 59, tzinfo=UTC), 14, datetime(2027, 2, 28, 23, 59, tzinfo=UTC)),
        (datetime(2025, 6, 30, 22, tzinfo=timezone(timedelta(hours=-5))), 1, datetime(2025, 8, 1, 3, tzinfo=UTC)),
    ],
)
def test_adding_months_keeps_the_day_clamped_to_the_end_of_the_target_month(
    issued: datetime, months: int, until: datetime
) -> None:
    assert add_months(issued, months) == until


def test_an_award_expires_the_credentials_expiry_after_it_was_earned(build: Any) -> None:
    event = build.published(expiry_months=24)
    award = pending_award(build, event, issued_at=datetime(2025, 3, 4, 15, 30, tzinfo=UTC))
    credential = build.credential_of(event)
    assert credential.valid_until(award.issued_at) == datetime(2027, 3, 4, 15, 30, tzinfo=UTC)
    document = award.unsigned_document(credential, attempt_of(award), build.salt, URLS)
    assert document["validUntil"] == "2027-03-04T15:30:00Z"
