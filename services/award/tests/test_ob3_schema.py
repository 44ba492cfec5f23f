"""Our credential against the official 1EdTech Open Badges 3.0 schema, and the validator's own behaviour."""

from __future__ import annotations

import copy
import hashlib
import re
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any
from uuid import uuid4

from microcred.award.adapters.ob3_schema import SCHEMA_RESOURCE, load_schema, validate_open_badge
from microcred.award.adapters.status_list import status_entry
from microcred.award.domain.model import PublicUrls, SubmittedAttempt, build_open_badge
from microcred.events import Alignment, IssuerProfile

URLS = PublicUrls("https://awards.example.org/")


def built(build: Any, **published: Any) -> dict[str, Any]:
    return build_open_badge(
        award_id=uuid4(),
        issued_at=datetime(2025, 3, 4, 15, 30, tzinfo=UTC),
        teacher_id="teacher-42",
        identity_salt=build.salt,
        credential=build.credential_of(build.published(**published)),
        results=build.results(),
    )


def test_the_vendored_schema_is_the_published_1edtech_file_recorded_in_sources() -> None:
    package = files("microcred.award.adapters")
    raw = package.joinpath(SCHEMA_RESOURCE).read_bytes()
    sources = package.joinpath("schemas/SOURCES.md").read_text(encoding="utf-8")
    assert hashlib.sha256(raw).hexdigest() in sources
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2019-09/schema#"
    assert schema["$id"].endswith("/spec/ob/v3p0/schema/json-ld/ob_v3p0_achievementcredential_schema.json")


def test_the_schema_is_the_vc_2_0_edition_requiring_valid_from_not_issuance_date() -> None:
    schema = load_schema()
    assert schema["required"] == ["@context", "id", "type", "credentialSubject", "issuer", "validFrom"]
    assert schema["properties"]["@context"]["items"][0] == {"enum": ["https://www.w3.org/ns/credentials/v2"]}


def test_the_schema_needs_nothing_from_the_network() -> None:
    text = files("microcred.award.adapters").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    refs = re.findall(r'"\$ref"\s*:\s*"([^"]*)"', text)
    assert refs and all(ref.startswith("#/$defs/") for ref in refs)


def test_the_credential_we_build_passes_the_official_schema(build: Any) -> None:
    assert validate_open_badge(built(build)) == []


def test_the_credential_we_build_with_every_optional_part_passes_the_official_schema(build: Any) -> None:
    issuer = IssuerProfile(
        issuer_id=uuid4(), name="Teaching Lab", url="https://lab.example.org", email="badges@lab.example.org",
        description="A nonprofit for teachers.", image_url="https://lab.example.org/logo.png",
    )
    alignment = Alignment(
        target_name="Danielson 3b", target_url="https://danielsongroup.org/framework/3b", target_code="3b",
        target_framework="Danielson Framework for Teaching", target_description="Questioning",
        target_type="ext:EvaluationRubricComponent",
    )
    document = built(
        build, issuer=issuer, alignments=(alignment,), image_url="https://lab.example.org/cfu.png", expiry_months=36
    )
    assert validate_open_badge(document) == []


def test_the_full_credential_with_service_urls_evidence_and_a_hashed_email_passes(build: Any) -> None:
    credential = build.credential_of(build.published(expiry_months=24))
    attempt = SubmittedAttempt(
        submission_id=uuid4(), attempt=1, teacher_id="teacher-42", teacher_email="Teacher@School.org",
        teacher_did=None, evidence=(("video", 1, 312.0),), responses=(),
    )
    document = build_open_badge(
        award_id=uuid4(), issued_at=datetime(2025, 3, 4, 15, 30, tzinfo=UTC), teacher_id="teacher-42",
        identity_salt=build.salt, credential=credential, results=build.results(), identity=attempt,
        evidence=attempt.describe(credential.submission_criteria), urls=URLS,
    )
    assert validate_open_badge(document) == []


def test_a_teacher_named_by_did_passes(build: Any) -> None:
    attempt = SubmittedAttempt(
        submission_id=uuid4(), attempt=1, teacher_id="teacher-42", teacher_email=None,
        teacher_did="did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", evidence=(), responses=(),
    )
    document = build_open_badge(
        award_id=uuid4(), issued_at=datetime(2025, 3, 4, tzinfo=UTC), teacher_id="teacher-42",
        identity_salt=build.salt, credential=build.credential_of(build.published()), results=build.results(),
        identity=attempt, urls=URLS,
    )
    assert validate_open_badge(document) == []


def test_an_alignment_the_catalog_holds_without_a_url_is_left_out_and_the_credential_stays_valid(
    build: Any,
) -> None:
    document = built(build, alignments=(Alignment(target_name="TEAM Questioning"),))
    assert validate_open_badge(document) == []


def test_a_credential_aligned_with_a_free_text_target_type_passes_the_official_schema(build: Any) -> None:
    alignment = Alignment(target_name="x", target_url="https://e.org/x", target_type="State standard")
    document = built(build, alignments=(alignment,))
    assert validate_open_badge(document) == []
    assert document["credentialSubject"]["achievement"]["alignment"][0]["targetType"] == "ext:StateStandard"


def test_a_credential_with_its_revocation_status_entry_passes_the_official_schema(build: Any) -> None:
    status = status_entry("https://awards.example.org/status/1/revocation/0", "revocation", 7)
    document = build_open_badge(
        award_id=uuid4(), issued_at=datetime(2025, 3, 4, tzinfo=UTC), teacher_id="teacher-42",
        identity_salt=build.salt, credential=build.credential_of(build.published()), results=build.results(),
        urls=URLS, credential_status=status,
    )
    assert validate_open_badge(document) == []


def test_a_status_list_given_as_an_array_is_reported_plainly(build: Any) -> None:
    document = built(build)
    document["credentialStatus"] = [status_entry("https://awards.example.org/status/1/revocation/0", "revocation", 7)]
    assert validate_open_badge(document) == ["$.credentialStatus: expected object, found list"]


def test_a_credential_missing_required_fields_names_each_one(build: Any) -> None:
    document = built(build)
    del document["validFrom"]
    del document["credentialSubject"]["achievement"]["criteria"]
    problems = validate_open_badge(document)
    assert "$: 'validFrom' is a required property" in problems
    assert "$.credentialSubject.achievement: 'criteria' is a required property" in problems


def test_a_vc_1_1_style_credential_is_refused(build: Any) -> None:
    document = built(build)
    document["@context"][0] = "https://www.w3.org/2018/credentials/v1"
    document["issuanceDate"] = document.pop("validFrom")
    problems = validate_open_badge(document)
    assert any(p.startswith("$.@context[0]:") for p in problems)
    assert "$: 'validFrom' is a required property" in problems


def test_a_date_time_without_a_timezone_is_refused(build: Any) -> None:
    document = built(build)
    document["validFrom"] = "2025-03-04T15:30:00"
    assert validate_open_badge(document) == ["$.validFrom: '2025-03-04T15:30:00' is not a 'date-time'"]


def test_a_credential_that_is_not_an_open_badge_says_which_type_is_missing(build: Any) -> None:
    document = built(build)
    document["type"] = ["VerifiableCredential"]
    assert any(p.startswith("$.type:") for p in validate_open_badge(document))


def test_an_unknown_property_in_a_closed_object_is_refused(build: Any) -> None:
    document = copy.deepcopy(built(build))
    document["credentialSubject"]["identifier"][0]["teacherId"] = "teacher-42"
    problems = validate_open_badge(document)
    assert any("identifier[0]" in p and "teacherId" in p for p in problems)


def test_a_one_of_failure_explains_its_alternatives(build: Any) -> None:
    document = built(build)
    document["credentialSubject"]["achievement"]["achievementType"] = "Microcredential"
    problems = validate_open_badge(document)
    assert problems[0].startswith("$.credentialSubject.achievement.achievementType:")
    assert any(line.startswith("  because") for line in problems[1:])
