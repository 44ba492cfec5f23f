"""The issuing authority: signs credentials with the issuer's key, keeps status lists, verifies.

Keys live sealed in the database (``adapters.keys``) and are created on first use: per issuing
organization by default, or one for the whole operator (``signing_key_scope="operator"``). Either
way each issuer's controller document, at the URL that is the issuer's id in its credentials, lists
the verification methods that may sign for it, retired ones included: rotation stops a key signing,
never the verification of what it signed.

A proof names its key by the key's own URL (``<issuer>/keys/<key id>``), which answers the Multikey
document itself: a verifier whose loader fetches a URL and takes the answer as the key (the Digital
Credentials Consortium's does) needs nothing else. Proofs made before that named the key as a
fragment of the controller document (``<issuer>#<key id>``); the controller document keeps listing
every key under that id too, and this verifier reads both, so what was signed then still verifies.
VC-JWTs name the key by ``<issuer>/keys/<key id>/jwk``, a JWK, as Open Badges 3.0 asks of ``kid``;
the issuer's JWKS lists the same JWKs under the same ``kid``.

Each credential holds one position, chosen at random, in two Bitstring Status Lists of its issuer,
revocation and suspension, at the same list number and index in both. Random positions in a list
of 131,072 give the herd privacy the spec asks for; when a random probe hits a taken position in a
list more than half full, the issuer's next list is opened.

The credential itself references only the revocation list: Open Badges 3.0 allows one
``credentialStatus`` (1EdTech's schema types it as a single object), and revocation is the status
every verifier must see. The suspension list sits at the same path with ``suspension`` in place of
``revocation`` and the same index; this service's verifier, the credential page and the
award.suspended / award.reinstated events report it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

from microcred.award.adapters import data_integrity, status_list
from microcred.award.adapters.keys import KeyCipher
from microcred.award.adapters.metrics import AwardMetrics
from microcred.award.domain.model import (
    STATUS_PURPOSES,
    Award,
    PublicUrls,
    SigningKey,
    StatusPurpose,
)
from microcred.award.service_layer.unit_of_work import AwardUnitOfWork
from microcred.runtime.errors import NotFound

JWT_ALGORITHM = "EdDSA"

log = logging.getLogger(__name__)

OPERATOR_SCOPE = "operator"
_ALLOCATION_PROBES = 32


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class VerificationReport:
    verified: bool
    checks: tuple[Check, ...]
    revoked: bool | None = None
    suspended: bool | None = None
    expired: bool | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "revoked": self.revoked,
            "suspended": self.suspended,
            "expired": self.expired,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


class IssuingAuthority:
    def __init__(
        self,
        *,
        urls: PublicUrls,
        cipher: KeyCipher,
        key_scope: Literal["issuer", "operator"] = "issuer",
        identity_secret: str,
        clock: Callable[[], datetime] = utc_now,
        metrics: AwardMetrics | None = None,
    ) -> None:
        self.metrics = metrics or AwardMetrics()
        self.urls = urls
        self.cipher = cipher
        self.key_scope = key_scope
        self.identity_secret = identity_secret
        self.clock = clock

    # -- keys ------------------------------------------------------------------------------------

    def scope_of(self, issuer_id: UUID) -> str:
        return OPERATOR_SCOPE if self.key_scope == "operator" else str(issuer_id)

    def method_id(self, issuer_id: UUID, key_id: str) -> str:
        return self.urls.issuer_key(issuer_id, key_id)

    def fragment_method_id(self, issuer_id: UUID, key_id: str) -> str:
        """How proofs named the key before keys had their own URL; still listed and still verified."""
        return f"{self.urls.issuer(issuer_id)}#{key_id}"

    async def _signing_key(self, uow: AwardUnitOfWork, issuer_id: UUID) -> tuple[str, Ed25519PrivateKey]:
        """The key id and private key of the active key of the issuer's scope, created on first use."""
        scope = self.scope_of(issuer_id)
        found = await uow.keys.active(scope)
        if found is None:
            await uow.keys.lock_scope(scope)
            found = await uow.keys.active(scope) or await self._create_key(uow, scope)
        key, sealed = found
        return key.key_id, self.cipher.open(sealed, key.key_id)

    async def _create_key(self, uow: AwardUnitOfWork, scope: str) -> tuple[SigningKey, bytes]:
        now = self.clock()
        private = Ed25519PrivateKey.generate()
        key = SigningKey(
            key_id=f"key-{now:%Y%m%d}-{secrets.token_hex(4)}",
            scope=scope,
            public_key_multibase=data_integrity.public_key_multibase(private.public_key()),
            created_at=now,
        )
        sealed = self.cipher.seal(private, key.key_id)
        await uow.keys.add(key, sealed)
        log.info("created signing key %s for %s", key.key_id, scope)
        return key, sealed

    async def rotate(self, uow: AwardUnitOfWork, issuer_id: UUID) -> SigningKey:
        """Retire the active key of the issuer's scope and start a new one; the old one stays published."""
        scope = self.scope_of(issuer_id)
        await uow.keys.lock_scope(scope)
        current = await uow.keys.active(scope)
        if current is not None:
            await uow.keys.retire(current[0].key_id, self.clock())
        key, _ = await self._create_key(uow, scope)
        return key

    async def _published_keys(self, uow: AwardUnitOfWork, issuer_id: UUID) -> list[SigningKey]:
        keys = await uow.keys.all_for(self.scope_of(issuer_id))
        if not keys:
            raise NotFound(f"issuer {issuer_id} has no signing keys", code="issuer_not_found")
        return keys

    async def _published_key(self, uow: AwardUnitOfWork, issuer_id: UUID, key_id: str) -> SigningKey:
        key = await uow.keys.get(key_id)
        if key is None or key.scope != self.scope_of(issuer_id):
            raise NotFound(f"issuer {issuer_id} has no key {key_id!r}", code="key_not_found")
        return key

    async def controller_document(self, uow: AwardUnitOfWork, issuer_id: UUID) -> dict[str, Any]:
        methods = []
        for key in await self._published_keys(uow, issuer_id):
            public_key = data_integrity.public_key_from_multibase(key.public_key_multibase)
            methods.append((self.method_id(issuer_id, key.key_id), public_key))
            methods.append((self.fragment_method_id(issuer_id, key.key_id), public_key))
        return data_integrity.controller_document(self.urls.issuer(issuer_id), methods)

    async def key_document(self, uow: AwardUnitOfWork, issuer_id: UUID, key_id: str) -> dict[str, Any]:
        key = await self._published_key(uow, issuer_id, key_id)
        return data_integrity.key_document(
            self.method_id(issuer_id, key_id), self.urls.issuer(issuer_id),
            data_integrity.public_key_from_multibase(key.public_key_multibase),
        )

    def _jwk(self, issuer_id: UUID, key: SigningKey) -> dict[str, Any]:
        public_key = data_integrity.public_key_from_multibase(key.public_key_multibase)
        jwk: dict[str, Any] = OKPAlgorithm.to_jwk(public_key, as_dict=True)
        return jwk | {"kid": self.urls.issuer_key_jwk(issuer_id, key.key_id), "alg": JWT_ALGORITHM, "use": "sig"}

    async def key_jwk(self, uow: AwardUnitOfWork, issuer_id: UUID, key_id: str) -> dict[str, Any]:
        return self._jwk(issuer_id, await self._published_key(uow, issuer_id, key_id))

    async def jwks(self, uow: AwardUnitOfWork, issuer_id: UUID) -> dict[str, Any]:
        """Every key of the issuer as a JWK Set, retired ones too (a JWT it signed must keep verifying)."""
        return {"keys": [self._jwk(issuer_id, key) for key in await self._published_keys(uow, issuer_id)]}

    async def sign(self, uow: AwardUnitOfWork, document: dict[str, Any], issuer_id: UUID) -> dict[str, Any]:
        key_id, key = await self._signing_key(uow, issuer_id)
        method = self.method_id(issuer_id, key_id)
        kind = "status_list" if "BitstringStatusListCredential" in document.get("type", ()) else "credential"
        with self.metrics.signing_seconds.labels(kind).time():
            signed = data_integrity.sign(document, key=key, verification_method=method, created=self.clock())
        # A proof set of one: Open Badges 3.0 types ``proof`` as an array (1EdTech's schema insists),
        # and Data Integrity verifiers read a set of one exactly like a single proof.
        return signed | {"proof": [signed["proof"]]}

    async def sign_jwt(self, uow: AwardUnitOfWork, document: dict[str, Any], issuer_id: UUID) -> str:
        """The credential as Open Badges 3.0's JSON Web Token proof format (``ob_v3p0/integrity.md``).

        The credential, Data Integrity proof included (the spec has embedded proofs made first), is
        the ``vc`` claim; ``iss``, ``jti``, ``nbf`` and ``sub``/``exp`` repeat what the credential
        says, as the spec's verifier compares them. No ``iat``: the token is derived on each download,
        and Ed25519 is deterministic, so every download of a credential is the same token. The header
        has only ``alg``, ``kid`` and ``typ``: the spec allows no other.
        """
        key_id, key = await self._signing_key(uow, issuer_id)
        return jwt.encode(
            jwt_claims(document), key, algorithm=JWT_ALGORITHM,
            headers={"kid": self.urls.issuer_key_jwk(issuer_id, key_id), "typ": "JWT"},
        )

    # -- status lists ----------------------------------------------------------------------------

    async def _open_list(self, uow: AwardUnitOfWork, issuer_id: UUID, list_no: int) -> None:
        bits = bytes(status_list.new_list())
        for purpose in STATUS_PURPOSES:
            document = await self._list_document(uow, issuer_id, purpose, list_no, bits)
            await uow.status_lists.add(issuer_id, purpose, list_no, bits, document, self.clock())

    async def _list_document(self, uow: AwardUnitOfWork, issuer_id: UUID, purpose: StatusPurpose, list_no: int,
                             bits: bytes) -> dict[str, Any]:
        # The issuer is named by id only: verifiers compare the list's issuer id with the credential's,
        # and the id stays the same when the issuer's name or image change.
        unsigned = status_list.status_list_credential(
            list_url=self.urls.status_list(issuer_id, purpose, list_no),
            issuer=self.urls.issuer(issuer_id), purpose=purpose, bits=bits, valid_from=self.clock(),
        )
        return await self.sign(uow, unsigned, issuer_id)

    async def allocate_status(self, uow: AwardUnitOfWork, award: Award, issuer_id: UUID) -> dict[str, Any]:
        """Give the award its position in the issuer's lists; returns its ``credentialStatus`` entry."""
        list_no = await uow.status_lists.newest_list(issuer_id)
        if list_no is None:
            list_no = 0
            await self._open_list(uow, issuer_id, list_no)
        for _ in range(_ALLOCATION_PROBES):
            index = secrets.randbelow(status_list.MIN_LIST_LENGTH)
            if await uow.status_lists.allocate(issuer_id, list_no, index, award.award_id):
                award.status_list, award.status_index = list_no, index
                return status_list.status_entry(
                    self.urls.status_list(issuer_id, "revocation", list_no), "revocation", index
                )
            if await uow.status_lists.allocated(issuer_id, list_no) * 2 > status_list.MIN_LIST_LENGTH:
                list_no += 1
                await self._open_list(uow, issuer_id, list_no)
        raise RuntimeError(f"no free status position for issuer {issuer_id} after {_ALLOCATION_PROBES} probes")

    async def publish_standing(self, uow: AwardUnitOfWork, award: Award) -> None:
        """Set the award's bits to its standing and re-sign the lists that changed."""
        if award.issuer_id is None or award.status_list is None or award.status_index is None:
            raise RuntimeError(f"award {award.award_id} has no status list position")
        for purpose, value in award.status_bits().items():
            found = await uow.status_lists.get(award.issuer_id, purpose, award.status_list, for_update=True)
            if found is None:
                raise RuntimeError(f"status list {purpose}/{award.status_list} of {award.issuer_id} is missing")
            bits = bytearray(found[0])
            if status_list.get_bit(bits, award.status_index) == value:
                continue
            status_list.set_bit(bits, award.status_index, value)
            document = await self._list_document(uow, award.issuer_id, purpose, award.status_list, bytes(bits))
            await uow.status_lists.save(award.issuer_id, purpose, award.status_list, bytes(bits), document,
                                        self.clock())

    # -- verification ----------------------------------------------------------------------------

    def _parse_method(self, method: str) -> tuple[UUID, str] | None:
        """``(issuer id, key id)`` of ``<issuer>/keys/<key id>`` or of the earlier ``<issuer>#<key id>``."""
        prefix = self.urls.issuer(UUID(int=0))[: -len(str(UUID(int=0)))]
        if not method.startswith(prefix):
            return None
        rest = method[len(prefix):]
        issuer_part, separator, key_id = rest.partition("/keys/") if "/keys/" in rest else rest.partition("#")
        if not separator or not key_id or "/" in key_id or "#" in key_id:
            return None
        try:
            return UUID(issuer_part), key_id
        except ValueError:
            return None

    def _parse_list(self, url: str) -> tuple[UUID, str, int] | None:
        prefix = self.urls.base + "/status/"
        parts = url[len(prefix):].split("/") if url.startswith(prefix) else []
        if len(parts) != 3 or parts[1] not in STATUS_PURPOSES or not parts[2].isdigit():
            return None
        try:
            return UUID(parts[0]), parts[1], int(parts[2])
        except ValueError:
            return None

    async def verify(self, uow: AwardUnitOfWork, document: Mapping[str, Any]) -> VerificationReport:
        """Signature, issuer key, status and validity dates, from what this service publishes."""
        checks: list[Check] = []
        proof = document.get("proof") if isinstance(document, Mapping) else None
        if isinstance(proof, list) and len(proof) == 1:
            proof = proof[0]
        method = proof.get("verificationMethod") if isinstance(proof, dict) else None
        public_key: Ed25519PublicKey | None = None
        key: SigningKey | None = None
        parsed = self._parse_method(method) if isinstance(method, str) else None
        if parsed is not None:
            issuer_id, key_id = parsed
            key = await uow.keys.get(key_id)
            if key is not None and key.scope == self.scope_of(issuer_id):
                public_key = data_integrity.public_key_from_multibase(key.public_key_multibase)
        signature = data_integrity.verify(document, resolve_key=lambda _: public_key)
        checks.append(Check(
            "Signature", signature.verified,
            f"{data_integrity.CRYPTOSUITE} proof by {signature.verification_method}" if signature.verified
            else signature.error or "not verified",
        ))
        if key is not None and public_key is not None:
            detail = f"key {key.key_id} is published by the issuer"
            if key.retired_at is not None:
                detail += f" (rotated out {key.retired_at:%Y-%m-%d}; still valid for what it signed)"
            checks.append(Check("Issuer key", True, detail))
        else:
            checks.append(Check("Issuer key", False, f"{method!r} is not a key this service publishes"))
        revoked, suspended = await self._status(uow, document, checks)
        expired = self._dates(document, checks)
        report = VerificationReport(all(c.ok for c in checks), tuple(checks), revoked, suspended, expired)
        outcome = "verified" if report.verified else next(c.name for c in checks if not c.ok).lower().replace(" ", "_")
        self.metrics.verifications.labels(outcome).inc()
        return report

    async def _status(self, uow: AwardUnitOfWork, document: Mapping[str, Any],
                      checks: list[Check]) -> tuple[bool | None, bool | None]:
        entries = document.get("credentialStatus", [])
        entries = [entries] if isinstance(entries, dict) else entries
        found: dict[str, bool] = {}
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            location = self._parse_list(str(entry.get("statusListCredential", "")))
            try:
                index = int(entry.get("statusListIndex", ""))
            except ValueError:
                location = None
            if location is None or entry.get("statusPurpose") != location[1]:
                checks.append(Check("Status", False, f"status entry {entry.get('id')!r} is not one of ours"))
                return None, None
            current = await uow.status_lists.get(*location)
            if current is None or not 0 <= index < len(current[0]) * 8:
                checks.append(Check("Status", False, f"status list {entry.get('statusListCredential')} is missing"))
                return None, None
            found[location[1]] = status_list.get_bit(current[0], index)
            if location[1] == "revocation" and "suspension" not in found:
                suspension = await uow.status_lists.get(location[0], "suspension", location[2])
                if suspension is not None:
                    found["suspension"] = status_list.get_bit(suspension[0], index)
        if not found:
            checks.append(Check("Status", True, "the credential has no status entry"))
            return None, None
        revoked, suspended = found.get("revocation"), found.get("suspension")
        if revoked:
            checks.append(Check("Status", False, "revoked by the issuer"))
        elif suspended:
            checks.append(Check("Status", False, "suspended by the issuer"))
        else:
            checks.append(Check("Status", True, "not revoked, not suspended"))
        return revoked, suspended

    def _dates(self, document: Mapping[str, Any], checks: list[Check]) -> bool | None:
        now = self.clock()
        try:
            valid_from = _parse_time(document.get("validFrom"))
            valid_until = _parse_time(document.get("validUntil")) if document.get("validUntil") else None
        except ValueError as error:
            checks.append(Check("Validity", False, str(error)))
            return None
        if valid_from is not None and now < valid_from:
            checks.append(Check("Validity", False, f"not valid before {valid_from:%Y-%m-%d %H:%M} UTC"))
            return False
        if valid_until is not None and now >= valid_until:
            checks.append(Check("Validity", False, f"expired on {valid_until:%Y-%m-%d}"))
            return True
        until = f"until {valid_until:%Y-%m-%d}" if valid_until else "with no expiry"
        checks.append(Check("Validity", True, f"valid from {valid_from:%Y-%m-%d} {until}" if valid_from else until))
        return False


def jwt_claims(document: Mapping[str, Any]) -> dict[str, Any]:
    """The JWT Payload of Open Badges 3.0's JSON Web Token proof format for a signed credential."""
    issuer = document.get("issuer")
    subject = document.get("credentialSubject")
    valid_from = _parse_time(document.get("validFrom"))
    valid_until = _parse_time(document.get("validUntil"))
    if valid_from is None:
        raise ValueError("the credential has no validFrom: a VC-JWT needs it as nbf")
    claims: dict[str, Any] = {
        "iss": issuer.get("id") if isinstance(issuer, Mapping) else issuer,
        "jti": document.get("id"),
        "nbf": _numeric_date(valid_from),
    }
    if isinstance(subject, Mapping) and subject.get("id"):
        claims["sub"] = subject["id"]
    if valid_until is not None:
        claims["exp"] = _numeric_date(valid_until)
    return claims | {"vc": dict(document)}


def _numeric_date(moment: datetime) -> int | float:
    # RFC 7519 lets a NumericDate carry fractions; keeping them makes nbf equal validFrom to the
    # microsecond, as the spec's verifier demands, where an int would read as a different instant.
    return int(moment.timestamp()) if moment.microsecond == 0 else round(moment.timestamp(), 6)


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date-time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return moment
