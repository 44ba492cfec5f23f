"""Signed Open Badges 3.0 credentials, checked by implementations we did not write.

Credentials come out of the real flow (teacher, reviewer, five services, Kafka); Digital Bazaar's
``@digitalbazaar/vc`` with the ``eddsa-rdfc-2022`` cryptosuite verifies them, dereferencing our issuer
controller documents and status lists over HTTP itself, and so does the Digital Credentials
Consortium's ``@digitalcredentials/verifier-core`` called as a wallet calls it (its own document
loader, nothing of ours); panva's ``jose`` checks the VC-JWT form with the keys the issuer publishes;
1EdTech's OB 3.0 JSON Schema validates them. Then the same credentials are tampered with, revoked,
suspended and reinstated, and the keys rotated, and each change must read the same way there as here.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from datetime import datetime
from typing import Any

import jwt
import pytest
from wallet import REQUIRED_STEPS, passed_steps

from microcred.award.adapters.baking import unbake_png, unbake_svg
from microcred.award.adapters.data_integrity import public_key_from_multibase, public_key_multibase
from microcred.award.adapters.ob3_schema import validate_open_badge
from microcred.devstack.client import PlatformClient, read_events, wait_for
from microcred.devstack.platform import Platform
from microcred.runtime.auth import Role

pytestmark = pytest.mark.stack

@pytest.fixture(scope="module")
def earned(client: PlatformClient, module_world: Any) -> dict[str, Any]:
    credential_id = module_world.publish("Checking for Understanding Mid-Lesson")
    teacher = module_world.teacher()
    return {"award": module_world.earn(teacher, credential_id), "teacher": teacher,
            "credential_id": credential_id}


def mutate(value: str) -> str:
    """A one-character change that keeps the value the same kind of thing (a date stays a date)."""
    for index in range(len(value) - 1, -1, -1):
        char = value[index]
        if char.isdigit():
            return value[:index] + str((int(char) + 1) % 10) + value[index + 1:]
        if char.isalpha():
            swapped = "b" if char.lower() == "a" else "a"
            return value[:index] + swapped + value[index + 1:]
    return value + "x"


def string_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for key, child in node.items() for p in string_paths(child, (*path, key))]
    if isinstance(node, list):
        return [p for index, child in enumerate(node) for p in string_paths(child, (*path, index))]
    return [path] if isinstance(node, str) else []


def test_an_awarded_credential_is_signed_and_verifies_in_digital_bazaars_verifier(
    earned: dict[str, Any], digital_bazaar: Any
) -> None:
    document = earned["award"]["credential"]
    (proof,) = document["proof"]
    assert proof["type"] == "DataIntegrityProof" and proof["cryptosuite"] == "eddsa-rdfc-2022"
    assert proof["verificationMethod"].startswith(document["issuer"]["id"] + "/keys/")
    result = digital_bazaar.verify(document, fetch=True)
    assert result["verified"], result["errors"]
    assert result["status"]["revocation"] is False


def test_a_wallet_using_the_dcc_verifier_accepts_it_fetching_our_key_and_documents_itself(
    earned: dict[str, Any], wallet: Any
) -> None:
    document = earned["award"]["credential"]
    result = wallet.verify_dcc(document)
    assert "errors" not in result, result["errors"]
    steps = passed_steps(result)
    assert all(steps[step] for step in REQUIRED_STEPS), steps
    # Known to no issuer registry (none is passed, and ours would be in none): a wallet shows a
    # warning for that, not a failure; the signature, status and dates are what it verified.
    assert steps["registered_issuer"] is False
    network = [f["url"] for f in result["fetched"] if f["from"] == "network"]
    assert document["proof"][0]["verificationMethod"] in network, "the key is fetched from its own URL"
    assert document["issuer"]["id"] in network and document["credentialStatus"]["statusListCredential"] in network
    # Only the CID context, which this machine cannot fetch from w3.org, came from wallet.mjs's mirror.
    assert {f["url"] for f in result["fetched"] if f["from"] == "mirror"} == {"https://www.w3.org/ns/cid/v1"}


def test_a_one_character_change_to_a_signed_field_fails_in_the_dcc_verifier(
    earned: dict[str, Any], wallet: Any
) -> None:
    document = earned["award"]["credential"]
    paths = [p for p in string_paths(document) if p[0] != "@context"]
    reasons: dict[tuple[Any, ...], str] = {}
    for path in paths:
        tampered = copy.deepcopy(document)
        parent = tampered
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = mutate(parent[path[-1]])
        result = wallet.verify_dcc(tampered)
        if "errors" in result:
            reasons[path] = result["errors"][0]["name"]
        elif not passed_steps(result).get("valid_signature"):
            reasons[path] = "valid_signature false"
    assert len(paths) > 30 and [p for p in paths if p not in reasons] == [], "the DCC verifier accepted a change"
    # Refused for what was changed (a changed type is a term no context defines: jsonld.ValidationError),
    # not because the harness or the library broke ("unknown_error").
    assert set(reasons.values()) <= {"invalid_signature", "http_error_with_signature_check", "invalid_credential_id",
                                     "jsonld.ValidationError", "valid_signature false"}, reasons
    assert list(reasons.values()).count("invalid_signature") > len(paths) // 2, reasons


def test_the_vc_jwt_verifies_in_jose_with_the_published_keys_and_its_claims_are_the_credentials(
    client: PlatformClient, earned: dict[str, Any], wallet: Any
) -> None:
    award = earned["award"]
    document = award["credential"]
    download = client.http.get(f"{award['page_url']}/credential.jwt")
    assert download.headers["content-type"] == "application/jwt"
    token = download.text
    jwks_url = f"{document['issuer']['id']}/jwks.json"
    result = wallet.verify_jwt(token, jwks_url)
    assert result["jwks"]["verified"] and result["kid"]["verified"], result
    header, claims = result["jwks"]["header"], result["jwks"]["payload"]
    assert header == {"alg": "EdDSA", "typ": "JWT",
                      "kid": document["proof"][0]["verificationMethod"] + "/jwk"}
    # Open Badges 3.0's checks of a VC-JWT (ob_v3p0/integrity.md, "Verify a Credential VC-JWT Signature").
    assert claims["vc"] == document
    assert claims["iss"] == document["issuer"]["id"] and claims["jti"] == document["id"]
    assert claims["nbf"] == datetime.fromisoformat(document["validFrom"]).timestamp()
    assert ("sub" in claims) == ("id" in document["credentialSubject"])
    assert ("exp" in claims) == ("validUntil" in document)
    if "exp" in claims:
        assert claims["exp"] == datetime.fromisoformat(document["validUntil"]).timestamp()
    # The kid is a JWK of the same key the Data Integrity proof names, and the JWKS lists it.
    jwk = client.http.get(header["kid"]).json()
    multikey = client.http.get(document["proof"][0]["verificationMethod"]).json()
    assert public_key_multibase(jwt.PyJWK(jwk).key) == multikey["publicKeyMultibase"]
    assert jwk in client.http.get(jwks_url).json()["keys"] and "d" not in jwk


def test_a_tampered_vc_jwt_fails_in_jose(client: PlatformClient, earned: dict[str, Any], wallet: Any) -> None:
    award = earned["award"]
    token = client.http.get(f"{award['page_url']}/credential.jwt").text
    jwks_url = f"{award['credential']['issuer']['id']}/jwks.json"
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["vc"]["credentialSubject"]["achievement"]["name"] += " (Advanced)"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for forged in (f"{head}.{forged_payload}.{signature}", f"{head}.{payload}.{flipped}"):
        result = wallet.verify_jwt(forged, jwks_url)
        assert not result["jwks"]["verified"] and not result["kid"]["verified"], result
        assert "signature verification failed" in result["jwks"]["error"]


def test_the_credential_conforms_to_1edtechs_open_badges_schema(earned: dict[str, Any]) -> None:
    document = earned["award"]["credential"]
    assert validate_open_badge(document) == []
    subject = document["credentialSubject"]
    assert subject["achievement"]["achievementType"] == "MicroCredential"
    assert len(subject["result"]) == len(subject["achievement"]["resultDescription"]) == 2
    (identity,) = subject["identifier"]
    assert identity["identityType"] == "emailAddress" and identity["hashed"] is True
    assert earned["teacher"].subject not in json.dumps(document), "the teacher is named by a salted hash only"
    evidence = {item["name"]: item for item in document["evidence"]}
    assert evidence, "the evidence is described"
    assert all("lesson.mp4" not in item["description"] and "s3" not in json.dumps(item) for item in evidence.values())


def test_a_one_character_change_to_any_signed_field_fails_verification_there_and_here(
    client: PlatformClient, earned: dict[str, Any], digital_bazaar: Any
) -> None:
    document = earned["award"]["credential"]
    # Every string of the credential and its proof, except the context URLs (a changed context
    # cannot even be loaded, so it proves nothing about the signature).
    paths = [p for p in string_paths(document) if p[0] != "@context"]
    assert len(paths) > 30
    for path in paths:
        tampered = copy.deepcopy(document)
        parent = tampered
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = mutate(parent[path[-1]])
        there = digital_bazaar.verify(tampered, fetch=True)
        assert not there["verified"], f"Digital Bazaar accepted a change at {path}"
        here = client.call("POST", "award", "/verify", json=tampered)
        assert not here["verified"], f"our verifier accepted a change at {path}"


def test_the_page_downloads_and_baked_images_carry_the_same_signed_credential(
    client: PlatformClient, earned: dict[str, Any]
) -> None:
    award = earned["award"]
    document = award["credential"]
    page = client.http.get(award["page_url"])
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert award["credential_name"] in page.text and "linkedin.com/profile/add" in page.text
    verified = client.http.get(award["page_url"], params={"verify": "1"})
    assert verified.status_code == 200
    assert "Verified: all checks passed" in verified.text, verified.text[verified.text.find("<ul class=\"checks"):][:3000]
    downloaded = client.http.get(award["credential_url"])
    assert downloaded.status_code == 200 and downloaded.json() == document
    png = client.http.get(f"{award['page_url']}/badge.png")
    assert png.headers["content-type"] == "image/png" and unbake_png(png.content) == document
    svg = client.http.get(f"{award['page_url']}/badge.svg")
    assert unbake_svg(svg.text) == document
    report = client.call("GET", "award", f"/credentials/{award['award_id']}/verification")
    assert report["verified"] and {c["name"] for c in report["checks"]} >= {"Signature", "Status", "Validity"}


def test_an_achievement_and_its_image_are_public_where_the_credential_points(
    client: PlatformClient, earned: dict[str, Any]
) -> None:
    achievement = earned["award"]["credential"]["credentialSubject"]["achievement"]
    assert client.http.get(achievement["criteria"]["id"]).json()["name"] == achievement["name"]
    image = client.http.get(achievement["image"]["id"])
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")


def test_revoking_reads_as_revoked_in_digital_bazaar_and_emits_an_event(
    platform: Platform, client: PlatformClient, module_world: Any, digital_bazaar: Any, wallet: Any
) -> None:
    credential_id = module_world.publish("Revocable Practice")
    teacher = module_world.teacher()
    award = module_world.earn(teacher, credential_id)
    path = f"/credentials/{award['award_id']}"
    refused = client.attempt("POST", "award", f"{path}/revoke", teacher, json={"reason": "mine"})
    assert refused.status_code == 403 and refused.json()["error"] == "not_issuer_admin"
    assert client.attempt("POST", "award", f"{path}/revoke", module_world.admin, json={"reason": ""}).status_code == 422

    revoked = client.call("POST", "award", f"{path}/revoke", module_world.admin,
                          json={"reason": "Evidence found to be plagiarised"})
    assert revoked["standing"] == "revoked"
    result = digital_bazaar.verify(award["credential"], fetch=True)
    # Digital Bazaar keeps "verified" for the proof and reports the status bit beside it.
    assert result["status"]["revocation"] is True
    steps = passed_steps(wallet.verify_dcc(award["credential"]))
    assert steps["valid_signature"] and steps["revocation_status"] is False, "the DCC verifier reads it revoked"
    report = client.call("GET", "award", f"{path}/verification")
    assert report["revoked"] is True and not report["verified"]
    page = client.http.get(award["page_url"])
    assert "revoked" in page.text.lower() and "Evidence found to be plagiarised" in page.text
    again = client.attempt("POST", "award", f"{path}/reinstate", module_world.admin, json={"reason": "oops"})
    assert again.status_code == 409, "revocation is final"
    (event,) = read_events(platform.endpoints.kafka_bootstrap, "award.revoked",
                           lambda e: e.get("award_id") == award["award_id"], 1)
    assert event.value["reason"] == "Evidence found to be plagiarised" and event.value["states"] == ["TN"]

    status_url = award["credential"]["credentialStatus"]["statusListCredential"]
    listed = client.http.get(status_url)
    assert "max-age" in listed.headers["cache-control"] and listed.headers["etag"]
    cached = client.http.get(status_url, headers={"If-None-Match": listed.headers["etag"]})
    assert cached.status_code == 304


def test_suspension_is_reversible_and_each_change_is_an_event(
    platform: Platform, client: PlatformClient, module_world: Any
) -> None:
    credential_id = module_world.publish("Suspendable Practice")
    award = module_world.earn(module_world.teacher(), credential_id)
    path = f"/credentials/{award['award_id']}"
    client.call("POST", "award", f"{path}/suspend", module_world.admin, json={"reason": "Under investigation"})
    suspended = client.call("GET", "award", f"{path}/verification")
    assert suspended["suspended"] is True and suspended["revoked"] is False and not suspended["verified"]
    assert client.attempt("POST", "award", f"{path}/suspend", module_world.operator,
                          json={"reason": "twice"}).status_code == 409
    client.call("POST", "award", f"{path}/reinstate", module_world.operator, json={"reason": "Cleared"})
    assert client.call("GET", "award", f"{path}/verification")["verified"]
    mine = lambda e: e.get("award_id") == award["award_id"]  # noqa: E731
    read_events(platform.endpoints.kafka_bootstrap, "award.suspended", mine, 1)
    (reinstated,) = read_events(platform.endpoints.kafka_bootstrap, "award.reinstated", mine, 1)
    assert reinstated.value["changed_by"] == module_world.operator.subject


def test_rotating_the_issuers_key_keeps_earlier_credentials_verifying(
    client: PlatformClient, module_world: Any, earned: dict[str, Any], digital_bazaar: Any, wallet: Any
) -> None:
    before = earned["award"]["credential"]
    rotated = client.call("POST", "award", f"/issuers/{module_world.issuer_id}/keys/rotate", module_world.admin)
    assert rotated["verification_method"] != before["proof"][0]["verificationMethod"]
    assert digital_bazaar.verify(before, fetch=True)["verified"], "the old key is still published"
    assert passed_steps(wallet.verify_dcc(before)).get("valid_signature"), "and still at its own URL"
    credential_id = module_world.publish("Practice After Rotation")
    after = module_world.earn(module_world.teacher(), credential_id)["credential"]
    assert after["proof"][0]["verificationMethod"] == rotated["verification_method"]
    assert digital_bazaar.verify(after, fetch=True)["verified"]
    other = client.actor(f"admin-{uuid.uuid4().hex[:6]}", Role.ISSUER_ADMIN, organization=str(uuid.uuid4()))
    assert client.attempt("POST", "award", f"/issuers/{module_world.issuer_id}/keys/rotate",
                          other).status_code == 403


def test_holding_every_credential_of_a_stack_issues_the_stack_credential_once(
    platform: Platform, client: PlatformClient, world: Any, digital_bazaar: Any
) -> None:
    first, second = world.publish("Stack Part One"), world.publish("Stack Part Two")
    stack = client.call("POST", "catalog", "/stacks", world.admin, expect=201, json={
        "issuer_id": world.issuer_id, "name": f"Formative Assessment Stack {world.unique}",
        "description": "Both halves of formative assessment.", "credential_ids": [first, second]})
    teacher = world.teacher()
    world.earn(teacher, first)
    world.earn(teacher, second)
    (event,) = read_events(platform.endpoints.kafka_bootstrap, "award.collection-awarded",
                           lambda e: e.get("collection_id") == stack["stack_id"], 1)
    assert event.value["kind"] == "stack" and event.value["teacher_id"] == teacher.subject
    collection = wait_for(lambda: client.call("GET", "award", f"/awards/{event.value['award_id']}"), "stack award")
    document = collection["credential"]
    assert document["credentialSubject"]["achievement"]["name"] == f"Formative Assessment Stack {world.unique}"
    assert len(document["evidence"]) == 2 and validate_open_badge(document) == []
    assert digital_bazaar.verify(document, fetch=True)["verified"]
    mine = client.call("GET", "award", "/awards", teacher)
    assert sorted(a["kind"] for a in mine) == ["micro_credential", "micro_credential", "stack"]
    # An operator finds the same awards by the teacher; a teacher naming someone else still lists only their own.
    found = client.call("GET", "award", "/awards", world.operator, params={"teacher": teacher.subject})
    assert sorted(a["award_id"] for a in found) == sorted(a["award_id"] for a in mine)
    other = world.teacher()
    assert client.call("GET", "award", "/awards", other, params={"teacher": teacher.subject}) == []


def test_the_issuer_controller_document_lists_multikey_methods(client: PlatformClient, earned: dict[str, Any]) -> None:
    issuer_url = earned["award"]["credential"]["issuer"]["id"]
    controller = client.http.get(issuer_url).json()
    assert controller["id"] == issuer_url and controller["@context"] == "https://www.w3.org/ns/cid/v1"
    method = earned["award"]["credential"]["proof"][0]["verificationMethod"]
    key = client.http.get(method).json()
    assert key["@context"] == "https://w3id.org/security/multikey/v1" and key["controller"] == issuer_url
    assert {k: v for k, v in key.items() if k != "@context"} in controller["verificationMethod"]
    missing = client.http.get(f"{issuer_url}/keys/key-00000000-00000000")
    assert missing.status_code == 404 and missing.json()["error"] == "key_not_found"
    assert all(m["type"] == "Multikey" and m["publicKeyMultibase"].startswith("z6Mk")
               for m in controller["verificationMethod"])
    assert set(controller["assertionMethod"]) == {m["id"] for m in controller["verificationMethod"]}
    key = public_key_from_multibase(controller["verificationMethod"][0]["publicKeyMultibase"])
    assert len(key.public_bytes_raw()) == 32


def test_posting_something_that_is_not_a_signed_credential_is_a_clear_error(client: PlatformClient) -> None:
    response = client.attempt("POST", "award", "/verify", json={"@context": [], "type": ["VerifiableCredential"]})
    assert response.status_code == 422 and response.json()["error"] == "unsigned_credential"
    bogus = client.call("POST", "award", "/verify", json={"proof": {"type": "DataIntegrityProof"}, "issuer": "x"})
    assert bogus["verified"] is False
