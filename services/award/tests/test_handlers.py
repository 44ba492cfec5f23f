"""Award use cases driven through fakes: who gets an award, when, signed how, and what its standing is."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import jwt
import pytest

from microcred.award.adapters import data_integrity as di
from microcred.award.adapters.status_list import get_bit
from microcred.award.domain.model import AwardStatus, Standing, award_salt
from microcred.award.service_layer.handlers import (
    award_passed_submission,
    change_standing,
    record_credential_version,
    record_pathway,
    record_stack,
    record_submitted_attempt,
    rotate_key,
)
from microcred.award.service_layer.signing import IssuingAuthority, jwt_claims
from microcred.events import (
    CollectionAwarded,
    CredentialAwarded,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
    PathwayChanged,
    PathwayStep,
    StackChanged,
)
from microcred.runtime.auth import Principal, Role
from microcred.runtime.errors import Conflict, Forbidden, NotFound

BASE_URL = "https://award.example"  # as the conftest's authority publishes
SALT = "test-identity-salt-0123456789"


async def issue(uow: Any, build: Any, authority: IssuingAuthority, credential: Any = None, **scored: Any
                ) -> CredentialAwarded:
    """Every fact an award needs, in the usual order; returns the award event."""
    credential = credential or build.published()
    await record_credential_version(credential, uow, authority)
    score = build.scored(credential, **scored)
    await record_submitted_attempt(build.submitted(score), uow, authority)
    before = len(uow.published)
    await award_passed_submission(score, uow, authority)
    event = uow.published[before]
    assert isinstance(event, CredentialAwarded)
    return event


def admin_of(issuer_id: UUID) -> Principal:
    return Principal(subject="admin-1", roles=frozenset({Role.ISSUER_ADMIN}), organization=str(issuer_id))


async def test_a_passed_score_with_its_version_and_attempt_issues_a_signed_credential(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    credential = build.published()
    event = await issue(uow, build, authority, credential)
    assert event.states == ("TN",) and event.teacher_id == "teacher-42"
    assert event.issued_at == datetime(2025, 3, 4, 15, 30, tzinfo=UTC)
    assert event.credential["id"] == f"urn:uuid:{event.award_id}"
    assert event.issuer_id == credential.issuer.issuer_id
    assert event.credential_url == f"{BASE_URL}/credentials/{event.award_id}/credential.json"
    assert event.credential["issuer"]["id"] == f"{BASE_URL}/issuers/{credential.issuer.issuer_id}"
    (proof,) = event.credential["proof"]
    assert proof["cryptosuite"] == "eddsa-rdfc-2022"
    report = await authority.verify(uow, event.credential)
    assert report.verified, report.checks


async def test_the_award_event_is_caused_by_the_score_that_decided_it(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    credential = build.published()
    await record_credential_version(credential, uow, authority)
    score = build.scored(credential)
    await record_submitted_attempt(build.submitted(score), uow, authority)
    await award_passed_submission(score, uow, authority)
    (event,) = uow.published
    assert event.causation_id == score.event_id and event.correlation_id == score.correlation_id


async def test_the_teacher_is_named_by_a_salted_hash_of_their_lower_cased_email(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    event = await issue(uow, build, authority)
    (identity,) = event.credential["credentialSubject"]["identifier"]
    salt = award_salt(SALT, event.award_id)
    assert identity["identityType"] == "emailAddress" and identity["salt"] == salt
    assert identity["identityHash"] == "sha256$" + hashlib.sha256(
        ("teacher.42@schools.example" + salt).encode()).hexdigest()
    assert "teacher.42" not in json.dumps(event.credential).lower()


async def test_two_credentials_of_one_teacher_carry_hashes_that_cannot_be_linked(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    first = await issue(uow, build, authority)
    second = await issue(uow, build, authority)
    hashes = {e.credential["credentialSubject"]["identifier"][0]["identityHash"] for e in (first, second)}
    assert len(hashes) == 2


async def test_a_teacher_with_a_did_is_the_credential_subject_by_that_did(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    credential = build.published()
    await record_credential_version(credential, uow, authority)
    score = build.scored(credential)
    await record_submitted_attempt(build.submitted(score, did="did:web:teacher.example"), uow, authority)
    await award_passed_submission(score, uow, authority)
    (event,) = uow.published
    subject = event.credential["credentialSubject"]
    assert subject["id"] == "did:web:teacher.example" and "identifier" not in subject


async def test_evidence_is_described_without_the_private_file_or_its_location(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    event = await issue(uow, build, authority)
    (evidence,) = event.credential["evidence"]
    assert evidence["name"] == "A lesson" and evidence["genre"] == "Classroom video"
    assert "1 classroom video (6 min 12 s)" in evidence["description"]
    text = json.dumps(event.credential)
    assert "lesson.mp4" not in text and "evidence/secret" not in text


async def test_a_revise_decision_is_claimed_and_awards_nothing(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    credential = build.published()
    await record_credential_version(credential, uow, authority)
    score = build.scored(credential, decision="revise")
    await award_passed_submission(score, uow, authority)
    assert uow.awards.rows == {} and uow.published == []
    assert ("award.award_passed_submission", score.event_id) in uow.claimed


async def test_the_same_score_delivered_twice_awards_once(uow: Any, build: Any, authority: IssuingAuthority) -> None:
    credential = build.published()
    await record_credential_version(credential, uow, authority)
    score = build.scored(credential)
    await record_submitted_attempt(build.submitted(score), uow, authority)
    await award_passed_submission(score, uow, authority)
    await award_passed_submission(score, uow, authority)
    assert len(uow.awards.rows) == 1 and len(uow.published) == 1


async def test_a_second_passed_score_for_the_same_submission_does_nothing(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    credential = build.published()
    submission_id = uuid4()
    await issue(uow, build, authority, credential, submission_id=submission_id)
    await award_passed_submission(build.scored(credential, submission_id=submission_id), uow, authority)
    assert len(uow.awards.rows) == 1 and len(uow.published) == 1


async def test_a_score_before_its_credential_version_waits_and_is_issued_when_the_version_arrives(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    credential = build.published()
    score = build.scored(credential)
    await record_submitted_attempt(build.submitted(score), uow, authority)
    await award_passed_submission(score, uow, authority)
    (waiting,) = uow.awards.rows.values()
    assert waiting.status is AwardStatus.PENDING and uow.published == []

    await record_credential_version(credential, uow, authority)
    (issued,) = uow.awards.rows.values()
    assert issued.status is AwardStatus.ISSUED
    (event,) = uow.published
    assert event.award_id == waiting.award_id and event.causation_id == score.event_id


async def test_a_score_before_its_submitted_attempt_waits_and_is_issued_when_the_attempt_arrives(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    credential = build.published()
    await record_credential_version(credential, uow, authority)
    score = build.scored(credential)
    await award_passed_submission(score, uow, authority)
    (waiting,) = uow.awards.rows.values()
    assert waiting.status is AwardStatus.PENDING and uow.published == []

    await record_submitted_attempt(build.submitted(score), uow, authority)
    (event,) = uow.published
    assert event.award_id == waiting.award_id
    assert event.credential["credentialSubject"]["identifier"][0]["identityType"] == "emailAddress"


async def test_the_credential_version_delivered_twice_issues_waiting_awards_once(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    credential = build.published()
    score = build.scored(credential)
    await record_submitted_attempt(build.submitted(score), uow, authority)
    await award_passed_submission(score, uow, authority)
    await record_credential_version(credential, uow, authority)
    await record_credential_version(credential, uow, authority)
    assert len(uow.published) == 1


async def test_a_waiting_award_is_not_issued_by_another_version_of_the_credential(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    first = build.published(version=1)
    score = build.scored(first)
    await record_submitted_attempt(build.submitted(score), uow, authority)
    await award_passed_submission(score, uow, authority)
    await record_credential_version(build.published(credential_id=first.credential_id, version=2), uow, authority)
    (waiting,) = uow.awards.rows.values()
    assert waiting.status is AwardStatus.PENDING and uow.published == []


async def test_the_award_event_carries_the_expiry_of_a_credential_that_expires(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    event = await issue(uow, build, authority, build.published(expiry_months=12))
    assert event.valid_until == datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
    assert event.credential["validUntil"] == "2026-03-04T15:30:00Z"


async def test_an_award_that_waited_for_its_version_expires_counting_from_when_it_was_earned(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    credential = build.published(expiry_months=1)
    score = build.scored(credential)
    await record_submitted_attempt(build.submitted(score), uow, authority)
    await award_passed_submission(score, uow, authority)
    await record_credential_version(credential, uow, authority)
    (event,) = uow.published
    assert event.valid_until == datetime(2025, 4, 4, 15, 30, tzinfo=UTC)
    report = await authority.verify(uow, event.credential)
    assert report.expired is True and not report.verified, "the clock is 2026-11-22"


async def test_the_award_event_has_no_expiry_when_the_credential_has_none(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    event = await issue(uow, build, authority)
    assert event.valid_until is None and "validUntil" not in event.credential


# -- status lists and standing -------------------------------------------------------------------------


async def test_a_credential_points_at_its_position_in_the_issuers_signed_revocation_list(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    event = await issue(uow, build, authority)
    entry = event.credential["credentialStatus"]
    assert entry["type"] == "BitstringStatusListEntry" and entry["statusPurpose"] == "revocation"
    assert entry["statusListCredential"] == f"{BASE_URL}/status/{event.issuer_id}/revocation/0"
    bits, document, _ = uow.status_lists.rows[(event.issuer_id, "revocation", 0)]
    assert not get_bit(bits, int(entry["statusListIndex"]))
    assert document["issuer"] == event.credential["issuer"]["id"] and document["proof"]
    assert (await authority.verify(uow, document)).checks[0].ok, "the list itself is signed by the issuer"


async def test_each_credential_gets_its_own_status_position(uow: Any, build: Any, authority: IssuingAuthority) -> None:
    events = [await issue(uow, build, authority, build.published(issuer=build.published().issuer)) for _ in range(3)]
    indexes = {e.credential["credentialStatus"]["statusListIndex"] for e in events}
    assert len(indexes) == 3


async def test_revoking_sets_the_bit_re_signs_the_list_and_emits_the_event(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    event = await issue(uow, build, authority)
    await change_standing(event.award_id, "revoke", "Plagiarised evidence", admin_of(event.issuer_id), uow, authority)
    award = uow.awards.rows[event.award_id]
    assert award.standing is Standing.REVOKED and award.standing_reason == "Plagiarised evidence"
    bits, _, _ = uow.status_lists.rows[(event.issuer_id, "revocation", 0)]
    assert get_bit(bits, award.status_index)
    revoked = uow.published[-1]
    assert isinstance(revoked, CredentialRevoked)
    assert revoked.award_id == event.award_id and revoked.states == ("TN",) and revoked.changed_by == "admin-1"
    report = await authority.verify(uow, event.credential)
    assert report.revoked is True and not report.verified


async def test_revocation_is_final(uow: Any, build: Any, authority: IssuingAuthority) -> None:
    event = await issue(uow, build, authority)
    admin = admin_of(event.issuer_id)
    await change_standing(event.award_id, "revoke", "Fraud", admin, uow, authority)
    for action in ("revoke", "suspend", "reinstate"):
        with pytest.raises(Conflict):
            await change_standing(event.award_id, action, "again", admin, uow, authority)  # type: ignore[arg-type]


async def test_a_suspension_is_lifted_by_reinstating_and_each_step_is_an_event(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    event = await issue(uow, build, authority)
    admin = admin_of(event.issuer_id)
    await change_standing(event.award_id, "suspend", "Under review", admin, uow, authority)
    assert (await authority.verify(uow, event.credential)).suspended is True
    await change_standing(event.award_id, "reinstate", "Cleared", admin, uow, authority)
    report = await authority.verify(uow, event.credential)
    assert report.verified and report.suspended is False and report.revoked is False
    assert [type(e) for e in uow.published[-2:]] == [CredentialSuspended, CredentialReinstated]


async def test_only_an_operator_or_the_issuers_own_admin_may_change_standing(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    event = await issue(uow, build, authority)
    teacher = Principal(subject="teacher-42", roles=frozenset({Role.TEACHER}))
    with pytest.raises(Forbidden):
        await change_standing(event.award_id, "revoke", "mine", teacher, uow, authority)
    with pytest.raises(Forbidden):
        await change_standing(event.award_id, "revoke", "other org", admin_of(uuid4()), uow, authority)
    operator = Principal(subject="op", roles=frozenset({Role.OPERATOR}))
    await change_standing(event.award_id, "suspend", "Operator hold", operator, uow, authority)


# -- keys ---------------------------------------------------------------------------------------------------


async def test_rotation_signs_new_credentials_with_a_new_key_and_old_ones_keep_verifying(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    issuer = build.published().issuer
    before = await issue(uow, build, authority, build.published(issuer=issuer))
    method = await rotate_key(issuer.issuer_id, admin_of(issuer.issuer_id), uow, authority)
    after = await issue(uow, build, authority, build.published(issuer=issuer))
    assert after.credential["proof"][0]["verificationMethod"] == method
    assert before.credential["proof"][0]["verificationMethod"] != method
    assert (await authority.verify(uow, before.credential)).verified
    controller = await authority.controller_document(uow, issuer.issuer_id)
    listed = {m["id"] for m in controller["verificationMethod"]}
    assert {method, before.credential["proof"][0]["verificationMethod"]} <= listed
    assert len(listed) == 4 and set(controller["assertionMethod"]) == listed  # two keys, each under both ids
    jwks = await authority.jwks(uow, issuer.issuer_id)
    assert len(jwks["keys"]) == 2, "the retired key stays in the JWKS: JWTs it signed must keep verifying"


async def test_each_key_has_its_own_url_answering_the_multikey_and_a_jwk_of_the_same_key(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    event = await issue(uow, build, authority)
    method = event.credential["proof"][0]["verificationMethod"]
    key_id = method.rsplit("/keys/", 1)[1]
    assert method == f"{BASE_URL}/issuers/{event.issuer_id}/keys/{key_id}"
    document = await authority.key_document(uow, event.issuer_id, key_id)
    assert document["id"] == method and document["type"] == "Multikey"
    assert document["controller"] == event.credential["issuer"]["id"]
    jwk = await authority.key_jwk(uow, event.issuer_id, key_id)
    assert jwk["kid"] == f"{method}/jwk" and jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and "d" not in jwk
    public = jwt.PyJWK(jwk).key
    assert di.public_key_multibase(public) == document["publicKeyMultibase"]
    assert (await authority.jwks(uow, event.issuer_id)) == {"keys": [jwk]}
    with pytest.raises(NotFound):
        await authority.key_document(uow, event.issuer_id, "key-unknown")
    with pytest.raises(NotFound):  # a key exists, but it signs for another issuer
        await authority.key_jwk(uow, uuid4(), key_id)


async def test_a_credential_whose_proof_names_the_key_as_a_fragment_still_verifies(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    # Credentials issued before keys had their own URL name them <issuer>#<key id>; holders keep them.
    event = await issue(uow, build, authority)
    ((key, sealed),) = uow.keys.rows.values()
    legacy = authority.fragment_method_id(event.issuer_id, key.key_id)
    unsigned = {name: value for name, value in event.credential.items() if name != "proof"}
    signed = di.sign(unsigned, key=authority.cipher.open(sealed, key.key_id), verification_method=legacy,
                     created=datetime(2025, 3, 4, tzinfo=UTC))
    report = await authority.verify(uow, signed | {"proof": [signed["proof"]]})
    assert report.verified, report.checks
    controller = await authority.controller_document(uow, event.issuer_id)
    assert legacy in controller["assertionMethod"]
    other = {**signed["proof"], "verificationMethod": f"{BASE_URL}/issuers/{uuid4()}#{key.key_id}"}
    assert not (await authority.verify(uow, signed | {"proof": [other]})).verified


async def test_the_vc_jwt_has_the_open_badges_header_and_claims_and_verifies_with_the_published_jwk(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    event = await issue(uow, build, authority)
    token = await authority.sign_jwt(uow, event.credential, event.issuer_id)
    header = jwt.get_unverified_header(token)
    (jwk,) = (await authority.jwks(uow, event.issuer_id))["keys"]
    assert header == {"alg": "EdDSA", "kid": jwk["kid"], "typ": "JWT"}
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["EdDSA"], issuer=event.credential["issuer"]["id"])
    assert claims["vc"] == event.credential and claims["jti"] == event.credential["id"]
    assert claims["nbf"] == datetime.fromisoformat(event.credential["validFrom"]).timestamp()
    assert set(claims) == {"iss", "jti", "nbf", "vc"}  # no subject id, no validUntil here


def test_jwt_claims_carry_sub_and_exp_when_the_credential_has_them_to_the_microsecond() -> None:
    document = {"id": "urn:uuid:1", "issuer": "https://i.example", "validFrom": "2025-01-02T03:04:05.250000Z",
                "validUntil": "2030-01-01T00:00:00Z", "credentialSubject": {"id": "did:example:teacher"}}
    claims = jwt_claims(document)
    assert claims == {"iss": "https://i.example", "jti": "urn:uuid:1", "nbf": 1735787045.25,
                      "sub": "did:example:teacher", "exp": 1893456000, "vc": document}
    with pytest.raises(ValueError, match="validFrom"):
        jwt_claims({"id": "urn:uuid:1", "issuer": "https://i.example"})


async def test_signing_keys_are_sealed_at_rest(uow: Any, build: Any, authority: IssuingAuthority) -> None:
    await issue(uow, build, authority)
    ((key, sealed),) = uow.keys.rows.values()
    assert key.public_key_multibase.startswith("z6Mk") and len(sealed) == 12 + 32 + 16
    with pytest.raises(ValueError, match="does not open"):
        authority.cipher.open(sealed, "another-key-id")


async def test_one_operator_key_can_sign_for_every_issuer(
    uow: Any, build: Any, operator_authority: IssuingAuthority
) -> None:
    shared = operator_authority
    first = await issue(uow, build, shared)
    second = await issue(uow, build, shared)
    assert len(uow.keys.rows) == 1
    key_ids = {e.credential["proof"][0]["verificationMethod"].rsplit("/keys/", 1)[1] for e in (first, second)}
    assert len(key_ids) == 1
    assert (await shared.verify(uow, second.credential)).verified


# -- stacks and pathways ---------------------------------------------------------------------------------


def stack_event(build: Any, *credentials: Any, revision: int = 1, active: bool = True) -> StackChanged:
    return StackChanged(
        correlation_id=uuid4(), stack_id=UUID(int=7), revision=revision, issuer_id=credentials[0].issuer.issuer_id,
        name="Formative Assessment", description="Both halves.",
        credential_ids=tuple(c.credential_id for c in credentials), active=active,
    )


async def test_holding_every_credential_of_a_stack_issues_its_credential_once(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    issuer = build.published().issuer
    first, second = build.published(issuer=issuer), build.published(issuer=issuer)
    await record_stack(stack_event(build, first, second), uow, authority)
    await issue(uow, build, authority, first)
    assert not any(isinstance(e, CollectionAwarded) for e in uow.published)
    await issue(uow, build, authority, second)
    (stack,) = [e for e in uow.published if isinstance(e, CollectionAwarded)]
    assert stack.kind == "stack" and stack.teacher_id == "teacher-42" and len(stack.component_award_ids) == 2
    assert stack.credential["credentialSubject"]["achievement"]["name"] == "Formative Assessment"
    assert (await authority.verify(uow, stack.credential)).verified
    await issue(uow, build, authority, build.published(issuer=issuer))
    await record_stack(stack_event(build, first, second, revision=2), uow, authority)
    assert len([e for e in uow.published if isinstance(e, CollectionAwarded)]) == 1, "once per teacher"


async def test_a_stack_published_after_the_teacher_earned_it_is_issued_then(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    issuer = build.published().issuer
    first, second = build.published(issuer=issuer), build.published(issuer=issuer)
    await issue(uow, build, authority, first)
    await issue(uow, build, authority, second)
    await record_stack(stack_event(build, first, second), uow, authority)
    (stack,) = [e for e in uow.published if isinstance(e, CollectionAwarded)]
    assert stack.credential["issuer"]["name"] == issuer.name


async def test_an_older_or_inactive_stack_revision_issues_nothing(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    first = build.published()
    await issue(uow, build, authority, first)
    await record_stack(stack_event(build, first, revision=3, active=False), uow, authority)
    await record_stack(stack_event(build, first, revision=2), uow, authority)
    assert not any(isinstance(e, CollectionAwarded) for e in uow.published)


async def test_completing_a_pathway_issues_the_pathway_credential(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    issuer = build.published().issuer
    first, second = build.published(issuer=issuer), build.published(issuer=issuer)
    await record_pathway(PathwayChanged(
        correlation_id=uuid4(), pathway_id=UUID(int=9), revision=1, issuer_id=issuer.issuer_id, name="New Teacher",
        description="Year one.", steps=(PathwayStep(credential_id=first.credential_id),
                                        PathwayStep(credential_id=second.credential_id,
                                                    prerequisites=(first.credential_id,))),
    ), uow, authority)
    await issue(uow, build, authority, first)
    await issue(uow, build, authority, second)
    (pathway,) = [e for e in uow.published if isinstance(e, CollectionAwarded)]
    assert pathway.kind == "pathway" and pathway.collection_id == UUID(int=9)


async def test_a_suspended_credential_does_not_count_toward_a_stack(
    uow: Any, build: Any, authority: IssuingAuthority
) -> None:
    issuer = build.published().issuer
    first, second = build.published(issuer=issuer), build.published(issuer=issuer)
    await record_stack(stack_event(build, first, second), uow, authority)
    earned = await issue(uow, build, authority, first)
    await change_standing(earned.award_id, "suspend", "Hold", admin_of(issuer.issuer_id), uow, authority)
    await issue(uow, build, authority, second)
    assert not any(isinstance(e, CollectionAwarded) for e in uow.published)
