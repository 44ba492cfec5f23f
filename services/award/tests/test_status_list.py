"""Bitstring Status List codec and documents."""

from __future__ import annotations

import base64
import gzip
from datetime import UTC, datetime

import pytest

from microcred.award.adapters import status_list as sl


def test_bit_zero_is_the_leftmost_bit_of_the_first_byte() -> None:
    bits = sl.new_list()
    sl.set_bit(bits, 0, True)
    sl.set_bit(bits, 9, True)
    assert bits[0] == 0b1000_0000 and bits[1] == 0b0100_0000
    assert sl.get_bit(bits, 0) and sl.get_bit(bits, 9) and not sl.get_bit(bits, 1)
    sl.set_bit(bits, 0, False)
    assert bits[0] == 0


def test_encoding_round_trips_and_is_gzip_in_base64url_without_padding() -> None:
    bits = sl.new_list()
    sl.set_bit(bits, 131071, True)
    encoded = sl.encode_list(bits)
    assert encoded.startswith("u") and "=" not in encoded
    assert gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))) == bytes(bits)
    assert sl.decode_list(encoded) == bits


def test_lists_shorter_than_the_herd_privacy_minimum_are_refused() -> None:
    with pytest.raises(ValueError, match="131072"):
        sl.encode_list(bytes(100))


@pytest.mark.parametrize(("encoded", "message"), [("zabc", "starts with 'u'"), ("u!!!", "base64url|GZIP"),
                                                  ("u" + base64.urlsafe_b64encode(b"plain").decode(), "GZIP")])
def test_decoding_garbage_raises_a_clear_value_error(encoded: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sl.decode_list(encoded)


def test_decoding_refuses_a_gzip_bomb() -> None:
    bomb = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(sl.MAX_DECODED_BYTES + 10))).decode().rstrip("=")
    with pytest.raises(ValueError, match="expands beyond"):
        sl.decode_list(bomb)


def test_out_of_range_indexes_raise() -> None:
    with pytest.raises(IndexError):
        sl.get_bit(sl.new_list(), sl.MIN_LIST_LENGTH)


def test_entry_has_the_shape_digital_bazaar_checks() -> None:
    entry = sl.status_entry("https://award.example/issuers/x/status/revocation", "revocation", 42)
    assert entry == {
        "id": "https://award.example/issuers/x/status/revocation#42",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "42",
        "statusListCredential": "https://award.example/issuers/x/status/revocation",
    }
    with pytest.raises(ValueError):
        sl.status_entry("https://x", "refresh", 1)  # type: ignore[arg-type]


def test_status_list_credential_is_a_vc2_bitstring_status_list_credential() -> None:
    bits = sl.new_list()
    sl.set_bit(bits, 5, True)
    document = sl.status_list_credential(
        list_url="https://award.example/s/1", issuer="https://award.example/issuers/x", purpose="suspension",
        bits=bits, valid_from=datetime(2025, 1, 1, tzinfo=UTC), valid_until=datetime(2025, 2, 1, tzinfo=UTC),
    )
    assert document["@context"] == ["https://www.w3.org/ns/credentials/v2"]
    assert document["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert document["validFrom"] == "2025-01-01T00:00:00Z" and document["validUntil"] == "2025-02-01T00:00:00Z"
    subject = document["credentialSubject"]
    assert subject["id"] == "https://award.example/s/1#list"
    assert subject["type"] == "BitstringStatusList" and subject["statusPurpose"] == "suspension"
    assert sl.get_bit(sl.decode_list(subject["encodedList"]), 5)
