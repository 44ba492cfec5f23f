"""W3C Bitstring Status List v1.0: the list codec, the entries a credential carries, the list credential.

Bit order is the spec's: index 0 is the left-most (most significant) bit of the first byte, which is
also what Digital Bazaar's ``@digitalbazaar/bitstring`` does by default. A list is never shorter than
``MIN_LIST_LENGTH`` bits so that one credential's status hides among many (herd privacy).

Shapes follow what ``@digitalbazaar/vc-bitstring-status-list`` ``checkStatus`` accepts:
``credentialStatus`` may be an array, each entry typed ``BitstringStatusListEntry`` with a string
``statusPurpose``, a string ``statusListCredential`` URL, a string ``statusListIndex`` and an ``id``
different from that URL; the list credential's ``credentialSubject.type`` is the plain string
``BitstringStatusList`` and its ``statusPurpose`` equals the entry's; the list credential is itself
verified (so it must be signed by the same issuer), and its issuer id must equal the credential's
issuer id (``issuer.id`` when the issuer is an object) exactly.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from datetime import UTC, datetime
from typing import Any, Literal

MIN_LIST_LENGTH = 131072  # bits, the spec's herd-privacy minimum
CREDENTIALS_CONTEXT = "https://www.w3.org/ns/credentials/v2"
STATUS_PURPOSES = ("revocation", "suspension")
# Decompressed lists beyond this are refused: a few kilobytes of GZIP must not become gigabytes.
MAX_DECODED_BYTES = 16 * 1024 * 1024


def encode_list(bits: bytes | bytearray) -> str:
    """GZIP, then multibase base64url without padding (prefix ``u``)."""
    if len(bits) * 8 < MIN_LIST_LENGTH:
        raise ValueError(f"a status list holds at least {MIN_LIST_LENGTH} bits; got {len(bits) * 8}")
    # mtime=0 keeps the encoding a pure function of the bits.
    compressed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).decode("ascii").rstrip("=")


def decode_list(encoded: str) -> bytearray:
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise ValueError("an encoded status list is multibase base64url and starts with 'u'")
    body = encoded[1:]
    try:
        compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"the encoded status list is not base64url: {error}") from None
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # 16+: expect a GZIP wrapper
    try:
        bits = decompressor.decompress(compressed, MAX_DECODED_BYTES + 1)
    except zlib.error as error:
        raise ValueError(f"the encoded status list is not GZIP data: {error}") from None
    if len(bits) > MAX_DECODED_BYTES:
        raise ValueError(f"the status list expands beyond {MAX_DECODED_BYTES} bytes")
    if not decompressor.eof:
        raise ValueError("the encoded status list is truncated GZIP data")
    return bytearray(bits)


def _position(bits: bytes | bytearray, index: int) -> tuple[int, int]:
    if not 0 <= index < len(bits) * 8:
        raise IndexError(f"status index {index} is outside a list of {len(bits) * 8} bits")
    return index // 8, 7 - index % 8


def get_bit(bits: bytes | bytearray, index: int) -> bool:
    byte, shift = _position(bits, index)
    return bool(bits[byte] >> shift & 1)


def set_bit(bits: bytearray, index: int, value: bool) -> None:
    byte, shift = _position(bits, index)
    if value:
        bits[byte] |= 1 << shift
    else:
        bits[byte] &= ~(1 << shift) & 0xFF


def new_list(length: int = MIN_LIST_LENGTH) -> bytearray:
    if length < MIN_LIST_LENGTH or length % 8:
        raise ValueError(f"a status list length is a multiple of 8 and at least {MIN_LIST_LENGTH} bits")
    return bytearray(length // 8)


def status_entry(list_url: str, purpose: Literal["revocation", "suspension"], index: int) -> dict[str, Any]:
    """The ``BitstringStatusListEntry`` pointing at bit ``index`` of the list credential at ``list_url``."""
    if purpose not in STATUS_PURPOSES:
        raise ValueError(f"status purpose must be one of {STATUS_PURPOSES}, got {purpose!r}")
    if index < 0:
        raise ValueError("a status list index is not negative")
    return {
        # A distinct id per entry (the spec's example style); DB refuses an id equal to the list URL.
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("status list dates must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_list_credential(
    *,
    list_url: str,
    issuer: str | dict[str, Any],
    purpose: str,
    bits: bytes | bytearray,
    valid_from: datetime,
    valid_until: datetime | None = None,
) -> dict[str, Any]:
    """An unsigned ``BitstringStatusListCredential`` (VC 2.0) for the list at ``list_url``.

    Sign it with the same issuer key as the credentials pointing at it: verifiers check the list's
    proof and that its issuer id equals the credential's. ``issuer`` may be the OB3 Profile object or
    its id.
    """
    if purpose not in STATUS_PURPOSES:
        raise ValueError(f"status purpose must be one of {STATUS_PURPOSES}, got {purpose!r}")
    document: dict[str, Any] = {
        "@context": [CREDENTIALS_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": _iso(valid_from),
    }
    if valid_until is not None:
        document["validUntil"] = _iso(valid_until)
    document["credentialSubject"] = {
        "id": f"{list_url}#list",
        "type": "BitstringStatusList",
        "statusPurpose": purpose,
        "encodedList": encode_list(bits),
    }
    return document
