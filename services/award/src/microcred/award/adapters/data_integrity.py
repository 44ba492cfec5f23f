"""Data Integrity proofs with the ``eddsa-rdfc-2022`` cryptosuite (W3C Data Integrity EdDSA Cryptosuites v1.0).

What is signed is ``sha256(canon(proof config)) || sha256(canon(document without proof))`` where canon
is RDFC-1.0 (URDNA2015) to N-Quads, and the proof config is the proof without ``proofValue`` carrying
the document's ``@context``. The signature is Ed25519 over those 64 bytes; ``proofValue`` is its
base58btc multibase. Keys travel as Multikey: multibase base58btc of a multicodec header (``0xed01``
public, ``0x8026`` secret) and the 32 key bytes.

Speed: canonicalization dominates. The document goes through ``jsonld.canonize`` (cached contexts,
fast RDFC-1.0 path); the proof config, whose shape is fixed, is canonicalized once per (context,
purpose) with sentinel values and then filled in, falling back to the general path whenever the
proof holds anything the template does not cover. Both shortcuts are tested to give byte-identical
N-Quads to pyld.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from microcred.award.adapters.jsonld import (
    DocumentNotAvailable,
    OfflineDocumentLoader,
    RelativeIriError,
    canonize,
    default_loader,
)

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-rdfc-2022"
CID_CONTEXT = "https://www.w3.org/ns/cid/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"

_ED25519_PUB_HEADER = b"\xed\x01"
_ED25519_PRIV_HEADER = b"\x80\x26"

# --- base58btc (Bitcoin alphabet), the multibase "z" encoding ------------------------------------
_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {char: index for index, char in enumerate(_B58_ALPHABET)}


def b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    encoded = ""
    while number:
        number, remainder = divmod(number, 58)
        encoded = _B58_ALPHABET[remainder] + encoded
    # Leading zero bytes carry no numeric value; base58 keeps them as leading "1"s.
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + encoded


def b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        try:
            number = number * 58 + _B58_INDEX[char]
        except KeyError:
            raise ValueError(f"{char!r} is not a base58btc character") from None
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


# --- Multikey -----------------------------------------------------------------------------------------
def public_key_multibase(key: Ed25519PublicKey) -> str:
    return "z" + b58encode(_ED25519_PUB_HEADER + key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def secret_key_multibase(key: Ed25519PrivateKey) -> str:
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return "z" + b58encode(_ED25519_PRIV_HEADER + seed)


def _multikey_bytes(value: str, header: bytes, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("z"):
        raise ValueError(f"{what} must be a base58btc multibase string starting with 'z', got {value!r}")
    try:
        raw = b58decode(value[1:])
    except ValueError as error:
        raise ValueError(f"{what} {value!r} is not valid base58btc: {error}") from None
    if raw[:2] != header:
        raise ValueError(f"{what} {value!r} does not carry the Ed25519 multicodec header 0x{header.hex()}")
    if len(raw) != 34:
        raise ValueError(f"{what} {value!r} holds {len(raw) - 2} key bytes; Ed25519 keys have 32")
    return raw[2:]


def public_key_from_multibase(value: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_multikey_bytes(value, _ED25519_PUB_HEADER, "publicKeyMultibase"))


def secret_key_from_multibase(value: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_multikey_bytes(value, _ED25519_PRIV_HEADER, "secretKeyMultibase"))


# --- proof configuration canonicalization ---------------------------------------------------------------
_SENTINEL_CREATED = "1999-12-31T23:59:58Z"
_SENTINEL_METHOD = "urn:microcred:sentinel-verification-method"
_TEMPLATE_KEYS = frozenset({"@context", "type", "cryptosuite", "created", "verificationMethod", "proofPurpose"})
# Values the template may take verbatim: N-Quads would escape nothing in them and pyld keeps them as-is.
_SAFE_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_SAFE_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|^`\\\x00-\x20]*")


@dataclass(frozen=True)
class _ProofTemplate:
    lines: tuple[str, ...]  # canonical N-Quads lines with the sentinels still in
    created_line: int
    method_line: int


def _context_key(context: Any) -> tuple[str, ...] | None:
    if isinstance(context, str):
        return (context,)
    if isinstance(context, list) and all(isinstance(item, str) for item in context):
        return tuple(context)
    return None


def _proof_template(context: tuple[str, ...], purpose: str, loader: OfflineDocumentLoader) -> _ProofTemplate | None:
    # Kept on the loader: the same context URL may mean another document in another loader.
    templates = loader.memo.setdefault("proof-templates", {})
    key = (purpose, context)
    if key in templates:
        return templates[key]  # type: ignore[no-any-return]
    config = {
        "@context": list(context),
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": _SENTINEL_CREATED,
        "verificationMethod": _SENTINEL_METHOD,
        "proofPurpose": purpose,
    }
    lines = tuple(canonize(config, loader=loader, fast=False).splitlines(keepends=True))
    created = [index for index, line in enumerate(lines) if _SENTINEL_CREATED in line]
    method = [index for index, line in enumerate(lines) if _SENTINEL_METHOD in line]
    # The template is only sound when each value lands in exactly one line, once.
    template = None
    if (
        len(created) == 1
        and len(method) == 1
        and created != method
        and lines[created[0]].count(_SENTINEL_CREATED) == 1
        and lines[method[0]].count(_SENTINEL_METHOD) == 1
    ):
        template = _ProofTemplate(lines, created[0], method[0])
    templates[key] = template
    return template


def canonize_proof_config(config: Mapping[str, Any], *, loader: OfflineDocumentLoader | None = None) -> str:
    """RDFC-1.0 N-Quads of a proof configuration; identical to ``canonize(config)`` but far cheaper."""
    loader = loader or default_loader()
    template = None
    created, method, purpose = config.get("created"), config.get("verificationMethod"), config.get("proofPurpose")
    context = _context_key(config.get("@context"))
    if (
        set(config) == _TEMPLATE_KEYS
        and config.get("type") == PROOF_TYPE
        and config.get("cryptosuite") == CRYPTOSUITE
        and isinstance(created, str)
        and _SAFE_DATETIME.fullmatch(created)
        and isinstance(method, str)
        and _SAFE_ABSOLUTE_IRI.fullmatch(method)
        and isinstance(purpose, str)
        and context is not None
    ):
        template = _proof_template(context, purpose, loader)
    if template is None or not isinstance(created, str) or not isinstance(method, str):
        return canonize(dict(config), loader=loader)
    lines = list(template.lines)
    lines[template.created_line] = lines[template.created_line].replace(_SENTINEL_CREATED, created)
    lines[template.method_line] = lines[template.method_line].replace(_SENTINEL_METHOD, method)
    # Every line has the single blank node as subject and a distinct predicate, so the values never
    # decide the order; sorting anyway keeps the output canonical if a context ever changed that.
    lines.sort()
    return "".join(lines)


# --- sign and verify ----------------------------------------------------------------------------------
def _xsd_datetime(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("created must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hash_data(document: Mapping[str, Any], proof_config: Mapping[str, Any], loader: OfflineDocumentLoader) -> bytes:
    return (
        hashlib.sha256(canonize_proof_config(proof_config, loader=loader).encode()).digest()
        + hashlib.sha256(canonize(dict(document), loader=loader).encode()).digest()
    )


def sign(
    document: dict[str, Any],
    *,
    key: Ed25519PrivateKey,
    verification_method: str,
    created: datetime,
    proof_purpose: str = "assertionMethod",
    loader: OfflineDocumentLoader | None = None,
) -> dict[str, Any]:
    """A new document with an ``eddsa-rdfc-2022`` ``DataIntegrityProof``; the input is not modified."""
    if "proof" in document:
        raise ValueError("the document already has a proof; proof sets and chains are not supported")
    if "@context" not in document:
        raise ValueError("the document has no @context")
    loader = loader or default_loader()
    proof_config: dict[str, Any] = {
        "@context": document["@context"],
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": _xsd_datetime(created),
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    signature = key.sign(_hash_data(document, proof_config, loader))
    proof = {name: value for name, value in proof_config.items() if name != "@context"}
    proof["proofValue"] = "z" + b58encode(signature)
    return {**document, "proof": proof}


@dataclass(frozen=True)
class ProofCheck:
    verified: bool
    verification_method: str | None
    error: str | None


def _issuer_id(document: Mapping[str, Any]) -> str | None:
    issuer = document.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def method_controller(method: str) -> str:
    """The controller a verification method id names, as this service publishes keys.

    ``<controller>/keys/<key id>`` is a key at its own URL, ``<controller>#<key id>`` a method inside
    the controller document (how proofs named keys before). The controller document lists both, so
    a verifier that reads it finds either; this is only the quick refusal of a key of someone else.
    """
    base, separator, key_id = method.rpartition("/keys/")
    if separator and key_id and "/" not in key_id and "#" not in key_id:
        return base
    return method.split("#", 1)[0]


def verify(
    document: Mapping[str, Any],
    *,
    resolve_key: Callable[[str], Ed25519PublicKey | None],
    expected_purpose: str = "assertionMethod",
    require_issuer_controller: bool = True,
    loader: OfflineDocumentLoader | None = None,
) -> ProofCheck:
    """Check the document's single ``eddsa-rdfc-2022`` proof; a bad document is a failed check, never an exception.

    With ``require_issuer_controller`` (the default) the verification method must belong to the
    document's issuer (``<issuer id>/keys/...`` or ``<issuer id>#...``, see ``method_controller``), which is what Digital Bazaar's ``CredentialIssuancePurpose``
    demands through the controller document; ``resolve_key`` decides whether the key is still listed.
    Dates (validFrom/validUntil) and status are the caller's business.
    """
    method: str | None = None
    try:
        if not isinstance(document, Mapping):
            return ProofCheck(False, None, "the document is not a JSON object")
        proof = document.get("proof")
        if isinstance(proof, list) and len(proof) == 1:
            proof = proof[0]
        if not isinstance(proof, dict):
            return ProofCheck(False, None, "the document has no single proof object")
        method = proof.get("verificationMethod")
        if not isinstance(method, str):
            return ProofCheck(False, None, "the proof has no verificationMethod string")
        if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
            return ProofCheck(
                False, method, f"unsupported proof {proof.get('type')!r} / cryptosuite {proof.get('cryptosuite')!r}"
            )
        if proof.get("proofPurpose") != expected_purpose:
            return ProofCheck(False, method, f"proof purpose {proof.get('proofPurpose')!r} is not {expected_purpose!r}")
        context = document.get("@context")
        if context is None:
            return ProofCheck(False, method, "the document has no @context")
        if "@context" in proof and proof["@context"] != context:
            return ProofCheck(False, method, "the proof's @context differs from the document's")
        if require_issuer_controller:
            issuer = _issuer_id(document)
            if issuer is None or method_controller(method) != issuer:
                return ProofCheck(False, method, f"verification method {method!r} is not controlled by issuer {issuer!r}")
        proof_value = proof.get("proofValue")
        if not isinstance(proof_value, str) or not proof_value.startswith("z"):
            return ProofCheck(False, method, "proofValue is not a base58btc multibase string")
        try:
            signature = b58decode(proof_value[1:])
        except ValueError as error:
            return ProofCheck(False, method, f"proofValue is not base58btc: {error}")
        if len(signature) != 64:
            return ProofCheck(False, method, f"proofValue holds {len(signature)} bytes; an Ed25519 signature has 64")
        public_key = resolve_key(method)
        if public_key is None:
            return ProofCheck(False, method, f"verification method {method!r} is unknown")
        proof_config = {name: value for name, value in proof.items() if name != "proofValue"}
        proof_config["@context"] = context
        unsecured = {name: value for name, value in document.items() if name != "proof"}
        loader = loader or default_loader()
        try:
            public_key.verify(signature, _hash_data(unsecured, proof_config, loader))
        except InvalidSignature:
            return ProofCheck(False, method, "the signature does not match the document")
        return ProofCheck(True, method, None)
    except Exception as error:  # a hostile document must yield a reason, not a 500
        return ProofCheck(False, method, _reason(error))


def _reason(error: BaseException) -> str:
    """The most telling message in an exception chain: pyld wraps our loader's errors twice over."""
    chain = [error]
    while chain[-1].__cause__ is not None and len(chain) < 20:
        chain.append(chain[-1].__cause__)
    for cause in chain:
        if isinstance(cause, (DocumentNotAvailable, RelativeIriError)):
            return str(cause)
    return f"{type(chain[-1]).__name__}: {chain[-1]}"


def key_document(method_id: str, controller: str, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """One verification method on its own: what its id dereferences to, for any document loader.

    The multikey context (a string, not an array) is what Ed25519 Multikey libraries check for
    before they take a document as a key; the CID context describes the same terms.
    """
    return {
        "@context": MULTIKEY_CONTEXT,
        "id": method_id,
        "type": "Multikey",
        "controller": controller,
        "publicKeyMultibase": public_key_multibase(public_key),
    }


def controller_document(controller: str, methods: Sequence[tuple[str, Ed25519PublicKey]]) -> dict[str, Any]:
    """The controlled identifier document published at ``controller``: every method that may sign for it.

    ``methods`` holds ``(method id, public key)``, retired keys included, since rotation must never
    stop the verification of what a key signed. The document is a controlled identifier document
    (W3C CID 1.0), so it names that context and not the DID one: a verifier that does not special-case
    DID documents frames it against its own security context, which reads the same
    ``assertionMethod`` IRI.
    """
    verification_methods = [
        {key: value for key, value in key_document(method_id, controller, public_key).items() if key != "@context"}
        for method_id, public_key in methods
    ]
    return {
        "@context": CID_CONTEXT,
        "id": controller,
        "verificationMethod": verification_methods,
        "assertionMethod": [method["id"] for method in verification_methods],
    }


def verification_method(controller_doc: Mapping[str, Any], method_id: str) -> dict[str, Any] | None:
    """The method ``method_id`` of a controller document as a stand-alone Multikey document, as DB's verifier loads it."""
    for method in controller_doc.get("verificationMethod", []):
        if isinstance(method, dict) and method.get("id") == method_id:
            return {"@context": MULTIKEY_CONTEXT, **method}
    return None
