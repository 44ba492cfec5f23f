"""Our signed Open Badges credentials, checked by Digital Bazaar's verifier, and theirs by ours."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from digital_bazaar import DigitalBazaarVerifier
from sample_credentials import Issuer, unsigned_credential

from microcred.award.adapters import data_integrity


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture(scope="module")
def signed(issuer: Issuer) -> dict[str, Any]:
    return issuer.sign(unsigned_credential(issuer, criteria=5))


def string_leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from string_leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from string_leaves(value, (*path, index))
    elif isinstance(node, str):
        yield path, node


def with_leaf(document: dict[str, Any], path: tuple[Any, ...], value: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    target: Any = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


def tampered(value: str) -> str:
    # One character changed, keeping the value well-formed where it is a date or a number.
    last = value[-1]
    replacement = {"Z": "Z", "0": "1"}.get(last, "x" if last != "x" else "y")
    if last == "Z":  # a dateTime: change the seconds' last digit instead
        return value[:-2] + ("1" if value[-2] != "1" else "2") + "Z"
    return value[:-1] + replacement


def test_our_signed_open_badge_verifies_in_digital_bazaar_with_its_revocation_status_clear(
    digital_bazaar: DigitalBazaarVerifier, issuer: Issuer, signed: dict[str, Any]
) -> None:
    result = digital_bazaar.verify(signed, issuer.documents())
    assert result == {"verified": True, "errors": [], "status": {"revocation": False, "suspension": None}}


def test_changing_any_signed_string_by_one_character_fails_in_digital_bazaar(
    digital_bazaar: DigitalBazaarVerifier, issuer: Issuer, signed: dict[str, Any]
) -> None:
    documents = issuer.documents()
    skipped = {("@context", 0), ("@context", 1), ("proof", "proofValue"), ("proof", "type"),
               ("proof", "cryptosuite"), ("proof", "proofPurpose")}
    checked = 0
    survivors = []
    for path, value in string_leaves(signed):
        if path in skipped:
            continue
        if path[0] == "credentialStatus" and path[-1] in ("statusListCredential", "statusPurpose", "type"):
            continue  # these change what is looked up; covered by the status tests, and they fail anyway
        result = digital_bazaar.verify(with_leaf(signed, path, tampered(value)), documents)
        checked += 1
        if result["verified"]:
            survivors.append(path)
    assert checked > 60
    assert survivors == []


def test_a_set_revocation_bit_reads_as_revoked(digital_bazaar: DigitalBazaarVerifier, issuer: Issuer) -> None:
    credential = issuer.sign(unsigned_credential(issuer, status_index=4242))
    result = digital_bazaar.verify(credential, issuer.documents(revoked=(4242,)))
    assert result["status"] == {"revocation": True, "suspension": None}


def test_a_set_suspension_bit_reads_as_suspended(digital_bazaar: DigitalBazaarVerifier, issuer: Issuer) -> None:
    credential = issuer.sign(unsigned_credential(issuer, status_index=9, statuses=("revocation", "suspension")))
    result = digital_bazaar.verify(credential, issuer.documents(suspended=(9, 10)))
    assert result["status"] == {"revocation": False, "suspension": True}


def test_a_status_list_signed_by_another_issuer_is_refused(
    digital_bazaar: DigitalBazaarVerifier, issuer: Issuer, signed: dict[str, Any]
) -> None:
    other = Issuer()
    documents = issuer.documents() | {issuer.list_url("revocation"): other.status_list("revocation")}
    documents[other.controller] = other.controller_document()
    documents[other.verification_method] = other.key_document()
    assert digital_bazaar.verify(signed, documents)["verified"] is False


def test_an_expired_credential_fails(digital_bazaar: DigitalBazaarVerifier, issuer: Issuer) -> None:
    credential = issuer.sign(unsigned_credential(issuer, issued_at=datetime(2020, 1, 1, tzinfo=UTC), expiry_months=12))
    result = digital_bazaar.verify(credential, issuer.documents())
    assert result["verified"] is False
    assert any("expired" in error.lower() or "validuntil" in error.lower() for error in result["errors"])


def test_a_key_missing_from_the_controller_document_fails(
    digital_bazaar: DigitalBazaarVerifier, issuer: Issuer, signed: dict[str, Any]
) -> None:
    documents = issuer.documents()
    # The key document still answers at its URL; the controller no longer lists that key.
    documents[issuer.controller] = Issuer(issuer_id=issuer.issuer_id, key_id="key-other").controller_document()
    result = digital_bazaar.verify(signed, documents)
    assert result["verified"] is False and any("not authorized by controller" in e for e in result["errors"])


def test_a_rotated_out_key_still_listed_keeps_old_credentials_valid(
    digital_bazaar: DigitalBazaarVerifier, issuer: Issuer, signed: dict[str, Any]
) -> None:
    new_key = Issuer(issuer_id=issuer.issuer_id, key_id="key-2")
    documents = issuer.documents()
    documents[issuer.controller] = data_integrity.controller_document(
        issuer.controller,
        [(issuer.verification_method, issuer.key.public_key()), (new_key.verification_method, new_key.key.public_key())],
    )
    assert digital_bazaar.verify(signed, documents)["verified"] is True


def test_a_credential_naming_its_key_as_a_fragment_of_the_controller_document_still_verifies(
    digital_bazaar: DigitalBazaarVerifier, issuer: Issuer
) -> None:
    # Credentials and status lists issued before keys had their own URL; the controller keeps listing
    # the fragment id, so they verify (the fragment resolves inside the controller document).
    legacy = issuer.sign(unsigned_credential(issuer), verification_method=issuer.fragment_method)
    documents = issuer.documents()
    assert digital_bazaar.verify(legacy, documents) == {
        "verified": True, "errors": [], "status": {"revocation": False, "suspension": None}}
    without_fragment = data_integrity.controller_document(
        issuer.controller, [(issuer.verification_method, issuer.key.public_key())])
    assert digital_bazaar.verify(legacy, documents | {issuer.controller: without_fragment})["verified"] is False


def test_a_credential_signed_by_digital_bazaar_verifies_with_ours(
    digital_bazaar: DigitalBazaarVerifier, issuer: Issuer
) -> None:
    theirs = digital_bazaar.sign(
        unsigned_credential(issuer),
        secret_key_multibase=data_integrity.secret_key_multibase(issuer.key),
        public_key_multibase=data_integrity.public_key_multibase(issuer.key.public_key()),
        verification_method=issuer.verification_method,
    )
    keys = {issuer.verification_method: issuer.key.public_key()}
    assert data_integrity.verify(theirs, resolve_key=keys.get).verified is True
    theirs["name"] += "!"
    assert data_integrity.verify(theirs, resolve_key=keys.get).verified is False
