"""eddsa-rdfc-2022 Data Integrity proofs: the W3C test vector, our shortcuts against pyld, failure modes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyld import jsonld  # type: ignore[import-untyped]

from microcred.award.adapters import data_integrity as di
from microcred.award.adapters.jsonld import DocumentNotAvailable, OfflineDocumentLoader, canonize, default_loader
from microcred.award.adapters.status_list import new_list, status_entry, status_list_credential
from microcred.award.domain.model import build_open_badge
from microcred.events import CriterionResult, PassingRule, Rubric, RubricCriterion, RubricLevel

VECTORS = Path(__file__).parent / "data" / "vc-di-eddsa"
EXAMPLES_CONTEXT = "https://www.w3.org/ns/credentials/examples/v2"
CONTROLLER = "https://award.example/issuers/0b5c2f55-3d38-4b8e-9d3a-1f0e6a9e2b11"


def vector(name: str) -> Any:
    text = (VECTORS / name).read_text()
    return json.loads(text) if name.endswith((".json", ".jsonld")) else text


@pytest.fixture(scope="module")
def vector_loader() -> OfflineDocumentLoader:
    return OfflineDocumentLoader({EXAMPLES_CONTEXT: vector("credentials-examples-v2.jsonld")})


def open_badge(build: Any, criteria: int = 6) -> dict[str, Any]:
    levels = (RubricLevel(key="a", name="Not Yet", points=0), RubricLevel(key="b", name="Proficient", points=1),
              RubricLevel(key="c", name="Exemplary", points=2))
    rubric = Rubric(criteria=tuple(RubricCriterion(key=f"c{i}", name=f"Criterion {i}", levels=levels)
                                   for i in range(criteria)),
                    passing_rule=PassingRule(kind="all_criteria_at_least", level="b"))
    event = build.published(rubric=rubric)
    results = tuple(CriterionResult(criterion_key=f"c{i}", criterion_name=f"Criterion {i}", level_key="b",
                                    level_name="Proficient", points=1) for i in range(criteria))
    document = build_open_badge(award_id=uuid4(), issued_at=datetime(2025, 3, 4, tzinfo=UTC), teacher_id="t-1",
                                identity_salt=build.salt, credential=build.credential_of(event), results=results)
    document.pop("credentialSchema", None)
    document["issuer"]["id"] = CONTROLLER
    document["credentialStatus"] = [status_entry(f"{CONTROLLER}/status/revocation", "revocation", 3),
                                    status_entry(f"{CONTROLLER}/status/suspension", "suspension", 3)]
    return document


def test_w3c_vector_keys_round_trip_through_multikey() -> None:
    pair = vector("keyPair.json")
    key = di.secret_key_from_multibase(pair["privateKeyMultibase"])
    assert di.secret_key_multibase(key) == pair["privateKeyMultibase"]
    assert di.public_key_multibase(key.public_key()) == pair["publicKeyMultibase"]
    assert di.public_key_multibase(di.public_key_from_multibase(pair["publicKeyMultibase"])) == pair["publicKeyMultibase"]


def test_w3c_vector_canonical_forms_match_the_spec(vector_loader: OfflineDocumentLoader) -> None:
    assert canonize(vector("unsigned.json"), loader=vector_loader) == vector("canonDocDataInt.txt")
    proof_config = vector("proofConfigDataInt.json")
    assert di.canonize_proof_config(proof_config, loader=vector_loader) == vector("proofCanonDataInt.txt")


def test_signing_the_w3c_vector_gives_the_spec_proof_exactly(vector_loader: OfflineDocumentLoader) -> None:
    key = di.secret_key_from_multibase(vector("keyPair.json")["privateKeyMultibase"])
    unsigned = vector("unsigned.json")
    before = json.dumps(unsigned)
    signed = di.sign(unsigned, key=key, created=datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC),
                     verification_method=vector("proofConfigDataInt.json")["verificationMethod"], loader=vector_loader)
    assert signed == vector("signedDataInt.json")
    assert signed["proof"]["proofValue"] == vector("sigBTC58DataInt.txt").strip()
    assert json.dumps(unsigned) == before


def test_the_w3c_signed_vector_verifies_and_a_changed_one_does_not(vector_loader: OfflineDocumentLoader) -> None:
    public = di.public_key_from_multibase(vector("keyPair.json")["publicKeyMultibase"])
    signed = vector("signedDataInt.json")
    check = di.verify(signed, resolve_key=lambda _: public, require_issuer_controller=False, loader=vector_loader)
    assert check == di.ProofCheck(True, signed["proof"]["verificationMethod"], None)
    signed["credentialSubject"]["alumniOf"] = "The School of Exampl3s"
    check = di.verify(signed, resolve_key=lambda _: public, require_issuer_controller=False, loader=vector_loader)
    assert check.verified is False and "signature" in (check.error or "")


def canonicalization_corpus(build: Any) -> list[dict[str, Any]]:
    badge = open_badge(build)
    twins = open_badge(build, criteria=2)
    # Two blank nodes that look alike from every side: only the n-degree step can order them.
    twins["credentialSubject"]["achievement"]["alignment"] = [
        {"type": ["Alignment"], "targetName": "Same", "targetUrl": "https://example.org/a"},
        {"type": ["Alignment"], "targetName": "Same", "targetUrl": "https://example.org/a"},
        {"type": ["Alignment"], "targetName": "Other", "targetUrl": "https://example.org/b"},
    ]
    status = status_list_credential(list_url=f"{CONTROLLER}/status/revocation", issuer=CONTROLLER,
                                    purpose="revocation", bits=new_list(), valid_from=datetime(2025, 1, 1, tzinfo=UTC))
    escapes = open_badge(build, criteria=1)
    escapes["name"] = 'Quotes " and \\ backslash\nnew line\ttab\r and ünïcode ✓'
    controller = di.controller_document(CONTROLLER, [(f"{CONTROLLER}/keys/k1", Ed25519PrivateKey.generate().public_key())])
    return [badge, twins, status, escapes, open_badge(build, criteria=3), controller]


def test_fast_canonicalization_is_byte_identical_to_pyld(build: Any, vector_loader: OfflineDocumentLoader) -> None:
    for document in canonicalization_corpus(build):
        assert canonize(document) == canonize(document, fast=False)
        if document["@context"][0] != "https://www.w3.org/ns/credentials/v2":
            continue  # a controller document is published, not signed
        signed = di.sign(document, key=Ed25519PrivateKey.generate(), verification_method=f"{CONTROLLER}#k1",
                         created=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
        config = {"@context": document["@context"]} | {k: v for k, v in signed["proof"].items() if k != "proofValue"}
        assert di.canonize_proof_config(config) == canonize(config, fast=False)
    unsigned = vector("unsigned.json")
    assert canonize(unsigned, loader=vector_loader) == canonize(unsigned, loader=vector_loader, fast=False)


def test_proof_configs_outside_the_template_still_canonicalize_like_pyld() -> None:
    config = {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": "DataIntegrityProof",
              "cryptosuite": "eddsa-rdfc-2022", "created": "2025-01-02T03:04:05Z", "proofPurpose": "authentication",
              "verificationMethod": f"{CONTROLLER}#k1", "challenge": "abc", "domain": "https://example.org"}
    assert di.canonize_proof_config(config) == canonize(config, fast=False)


def test_signed_open_badge_verifies_and_every_tampered_field_fails(build: Any) -> None:
    key = Ed25519PrivateKey.generate()
    document = open_badge(build)
    signed = di.sign(document, key=key, verification_method=f"{CONTROLLER}#k1", created=datetime.now(UTC))
    assert "proof" not in document
    keys = {f"{CONTROLLER}#k1": key.public_key()}
    assert di.verify(signed, resolve_key=keys.get).verified is True
    for change in (
        lambda d: d["credentialSubject"]["result"][2].update(achievedLevel="urn:uuid:" + str(uuid4())),
        lambda d: d["issuer"].update(name="Someone else"),
        lambda d: d["proof"].update(created="2001-01-01T00:00:00Z"),
        lambda d: d.update(validFrom="2024-03-04T00:00:00Z"),
    ):
        altered = json.loads(json.dumps(signed))
        change(altered)
        assert di.verify(altered, resolve_key=keys.get).verified is False


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.pop("proof"), "no single proof"),
        (lambda d: d["proof"].update(cryptosuite="ecdsa-rdfc-2019"), "unsupported proof"),
        (lambda d: d["proof"].update(proofPurpose="authentication"), "proof purpose"),
        (lambda d: d["proof"].update(proofValue="u123"), "multibase"),
        (lambda d: d["proof"].update(proofValue="z0OIl"), "base58"),
        (lambda d: d["proof"].update(proofValue="z3mJ"), "bytes"),
        (lambda d: d["proof"].update(verificationMethod="https://evil.example/issuers/x#k1"), "not controlled"),
        (lambda d: d["proof"].update(verificationMethod=f"{CONTROLLER}#unknown"), "unknown"),
        (lambda d: d.update({"@context": ["https://evil.example/context"]}), "not available offline"),
        (lambda d: d["credentialSubject"].update(type=["UndefinedThing", "AchievementSubject"]), "not define"),
    ],
)
def test_bad_documents_fail_with_a_reason_instead_of_raising(build: Any, mutate: Any, reason: str) -> None:
    key = Ed25519PrivateKey.generate()
    signed = di.sign(open_badge(build, criteria=2), key=key, verification_method=f"{CONTROLLER}#k1",
                     created=datetime.now(UTC))
    mutate(signed)
    check = di.verify(signed, resolve_key={f"{CONTROLLER}#k1": key.public_key()}.get)
    assert check.verified is False
    assert reason in (check.error or ""), check.error


def test_undefined_terms_make_signing_fail_rather_than_produce_an_unverifiable_credential(build: Any) -> None:
    document = open_badge(build, criteria=1)
    document["credentialSchema"] = [{"id": "https://example.org/s.json", "type": "1EdTechJsonSchemaValidator2019"}]
    with pytest.raises(ValueError, match=r"does not define|do not define"):
        di.sign(document, key=Ed25519PrivateKey.generate(), verification_method=f"{CONTROLLER}#k1",
                created=datetime.now(UTC))


def test_public_key_from_multibase_names_what_is_wrong() -> None:
    secret = di.secret_key_multibase(Ed25519PrivateKey.generate())
    for value, message in [("abc", "starting with 'z'"), ("z0", "base58"), (secret, "multicodec header"),
                           ("z6Mk", "header")]:
        with pytest.raises(ValueError, match=message):
            di.public_key_from_multibase(value)


def test_the_loader_serves_shipped_contexts_and_names_any_other_url() -> None:
    loader = default_loader()
    assert loader("https://w3id.org/security/multikey/v1")["document"]["@context"]
    with pytest.raises(DocumentNotAvailable, match=r"https://example\.org/ctx"):
        loader("https://example.org/ctx")


def test_controller_document_is_a_cid_document_listing_every_key_under_assertion_method() -> None:
    old, new = Ed25519PrivateKey.generate().public_key(), Ed25519PrivateKey.generate().public_key()
    document = di.controller_document(CONTROLLER, [(f"{CONTROLLER}/keys/k1", old), (f"{CONTROLLER}#k1", old),
                                                   (f"{CONTROLLER}/keys/k2", new)])
    assert document["@context"] == "https://www.w3.org/ns/cid/v1"
    assert document["assertionMethod"] == [f"{CONTROLLER}/keys/k1", f"{CONTROLLER}#k1", f"{CONTROLLER}/keys/k2"]
    assert document["verificationMethod"][0] == {"id": f"{CONTROLLER}/keys/k1", "type": "Multikey",
                                                 "controller": CONTROLLER, "publicKeyMultibase": di.public_key_multibase(old)}
    assert di.verification_method(document, f"{CONTROLLER}#k1")["@context"] == "https://w3id.org/security/multikey/v1"
    # Expanded with the shipped CID context, the methods are Multikeys under the security vocabulary's
    # assertionMethod: the IRI a verifier framing with the security v2 context looks for.
    expanded = jsonld.expand(document, {"documentLoader": default_loader()})[0]
    assert expanded["https://w3id.org/security#assertionMethod"][0]["@id"] == f"{CONTROLLER}/keys/k1"


def test_a_key_document_is_the_multikey_itself_with_the_context_multikey_libraries_require() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    document = di.key_document(f"{CONTROLLER}/keys/k1", CONTROLLER, key)
    assert document == {"@context": "https://w3id.org/security/multikey/v1", "id": f"{CONTROLLER}/keys/k1",
                        "type": "Multikey", "controller": CONTROLLER,
                        "publicKeyMultibase": di.public_key_multibase(key)}
    assert di.public_key_from_multibase(document["publicKeyMultibase"]) == key


