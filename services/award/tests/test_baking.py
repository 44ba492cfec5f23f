"""Badge images and Open Badges 3.0 baking: what goes in comes out, once, in the form the spec names."""

from __future__ import annotations

import io
import json
import struct
import xml.etree.ElementTree as ET
import zlib
from typing import Any

import pytest
from PIL import Image, PngImagePlugin

from microcred.award.adapters.baking import (
    PNG_SIGNATURE,
    SVG_NAMESPACE,
    badge_png,
    badge_svg,
    bake_png,
    bake_svg,
    unbake_png,
    unbake_png_text,
    unbake_svg,
    unbake_svg_text,
)

CREDENTIAL: dict[str, Any] = {
    "@context": ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
    "id": "urn:uuid:6f1c9f0e-6b44-4c1e-9d0b-2a3f8f5f1c11",
    "type": ["VerifiableCredential", "OpenBadgeCredential"],
    "name": "Checking for Understanding — Éducation",
    "validFrom": "2025-03-04T15:30:00Z",
}
JWS = "eyJhbGciOiJFZERTQSJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl"


@pytest.fixture(scope="module")
def png() -> bytes:
    return badge_png(title="Checking for Understanding", issuer="Teaching Lab", size=200)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 -- our own output, in a test


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    found, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        found.append((data[position + 4 : position + 8], data[position + 8 : position + 8 + length]))
        position += 12 + length
    return found


def credential_chunks(data: bytes) -> list[bytes]:
    return [body for kind, body in chunks(data) if kind == b"iTXt" and body.startswith(b"openbadgecredential\x00")]


# -- drawing -----------------------------------------------------------------------------------


def test_the_badge_png_is_a_square_image_of_the_requested_size(png: bytes) -> None:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (200, 200)


def test_the_same_inputs_draw_the_same_bytes() -> None:
    first = badge_png(title="Planning", issuer="Teaching Lab", size=120)
    assert badge_png(title="Planning", issuer="Teaching Lab", size=120) == first
    assert badge_png(title="Planning", issuer="Teaching Lab", size=120, accent="#7a1f5f") != first


def test_the_accent_colour_fills_the_medallion() -> None:
    image = Image.open(io.BytesIO(badge_png(title="x", issuer="y", accent="#b03020", size=300))).convert("RGB")
    assert image.getpixel((150, 20)) == (176, 48, 32)  # the top of the rosette, away from any text


def test_a_title_too_long_for_four_lines_still_draws() -> None:
    png = badge_png(title="Adjusting instruction " * 30, issuer="An issuer with a rather long name " * 3, size=300)
    assert Image.open(io.BytesIO(png)).size == (300, 300)


def test_an_accent_that_is_not_a_colour_is_refused() -> None:
    with pytest.raises(ValueError, match="colour"):
        badge_png(title="x", issuer="y", accent="not-a-colour")


def test_the_badge_svg_is_well_formed_and_escapes_its_text() -> None:
    svg = badge_svg(title="Q&A <script>", issuer="Lab & Co")
    root = parse(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = "".join(root.itertext())
    assert "Q&A <script>" in text and "Lab & Co" in text
    assert "<script>" not in svg


# -- PNG baking --------------------------------------------------------------------------------


def test_a_baked_png_gives_back_the_same_credential(png: bytes) -> None:
    assert unbake_png(bake_png(png, CREDENTIAL)) == CREDENTIAL


def test_the_credential_is_an_uncompressed_itxt_chunk_right_before_iend(png: bytes) -> None:
    baked = bake_png(png, CREDENTIAL)
    kinds = [kind for kind, _ in chunks(baked)]
    assert kinds[-2:] == [b"iTXt", b"IEND"]
    (body,) = credential_chunks(baked)
    keyword, rest = body.split(b"\x00", 1)
    assert keyword == b"openbadgecredential"
    assert rest[:4] == b"\x00\x00\x00\x00"  # no compression, method 0, empty language, empty translation
    assert json.loads(rest[4:].decode("utf-8")) == CREDENTIAL


def test_the_credential_json_is_compact_utf8(png: bytes) -> None:
    text = unbake_png_text(bake_png(png, CREDENTIAL))
    assert text == json.dumps(CREDENTIAL, separators=(",", ":"), ensure_ascii=False)
    assert "Éducation" in text  # raw UTF-8, not \u escapes


def test_pillow_reads_the_baked_png_and_sees_the_itxt(png: bytes) -> None:
    image = Image.open(io.BytesIO(bake_png(png, CREDENTIAL)))
    assert isinstance(image, PngImagePlugin.PngImageFile)
    image.load()  # decodes every chunk, so a wrong CRC or length fails here
    assert "openbadgecredential" in image.text
    assert image.text["openbadgecredential"].startswith('{"@context"')


def test_every_chunk_crc_of_the_baked_png_is_correct(png: bytes) -> None:
    baked, position = bake_png(png, CREDENTIAL), 8
    while position < len(baked):
        (length,) = struct.unpack(">I", baked[position : position + 4])
        kind_and_data = baked[position + 4 : position + 8 + length]
        (crc,) = struct.unpack(">I", baked[position + 8 + length : position + 12 + length])
        assert zlib.crc32(kind_and_data) == crc
        position += 12 + length


def test_baking_again_replaces_the_credential_instead_of_adding_a_second(png: bytes) -> None:
    twice = bake_png(bake_png(png, CREDENTIAL), {"id": "urn:uuid:other"})
    assert len(credential_chunks(twice)) == 1
    assert unbake_png(twice) == {"id": "urn:uuid:other"}


def test_baking_keeps_the_image_pixels(png: bytes) -> None:
    before = Image.open(io.BytesIO(png)).tobytes()
    assert Image.open(io.BytesIO(bake_png(png, CREDENTIAL))).tobytes() == before


def test_an_unbaked_png_has_no_credential(png: bytes) -> None:
    assert unbake_png(png) is None


def test_a_vc_jwt_is_baked_as_its_compact_jws(png: bytes) -> None:
    baked = bake_png(png, JWS)
    assert unbake_png_text(baked) == JWS
    with pytest.raises(ValueError, match="JWS"):
        unbake_png(baked)


def test_data_without_the_png_signature_is_refused() -> None:
    with pytest.raises(ValueError, match="signature"):
        bake_png(b"GIF89a" + b"\x00" * 40, CREDENTIAL)


def test_a_png_with_a_damaged_chunk_is_refused(png: bytes) -> None:
    damaged = bytearray(png)
    damaged[50] ^= 0xFF  # inside the IDAT data, so only the CRC can tell
    with pytest.raises(ValueError, match="CRC"):
        bake_png(bytes(damaged), CREDENTIAL)


def test_a_truncated_png_is_refused(png: bytes) -> None:
    with pytest.raises(ValueError, match="truncated"):
        unbake_png(png[: len(png) // 2])


def test_a_png_with_bytes_after_iend_is_refused(png: bytes) -> None:
    with pytest.raises(ValueError, match="after IEND"):
        unbake_png(png + b"junk")


def test_a_png_that_does_not_start_with_ihdr_is_refused() -> None:
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    with pytest.raises(ValueError, match="IHDR"):
        unbake_png(PNG_SIGNATURE + iend)


def test_a_compressed_credential_chunk_is_refused_as_the_spec_forbids(png: bytes) -> None:
    data = b"openbadgecredential\x00\x01\x00\x00\x00" + zlib.compress(b"{}")
    chunk = struct.pack(">I", len(data)) + b"iTXt" + data + struct.pack(">I", zlib.crc32(b"iTXt" + data))
    with pytest.raises(ValueError, match="compressed"):
        unbake_png(png[:-12] + chunk + png[-12:])


def test_text_that_is_not_a_jws_cannot_be_baked(png: bytes) -> None:
    with pytest.raises(ValueError, match="JWS"):
        bake_png(png, "not a token")


# -- SVG baking --------------------------------------------------------------------------------


def test_a_baked_svg_gives_back_the_same_credential() -> None:
    assert unbake_svg(bake_svg(badge_svg(title="Planning", issuer="Lab"), CREDENTIAL)) == CREDENTIAL


def test_the_svg_credential_is_the_first_child_in_the_open_badges_namespace() -> None:
    baked = bake_svg(badge_svg(title="Planning", issuer="Lab"), CREDENTIAL)
    assert 'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"' in baked
    root = parse(baked)
    assert root[0].tag == f"{{{SVG_NAMESPACE}}}credential"
    assert "verify" not in root[0].attrib
    assert "<openbadges:credential><![CDATA[{" in baked


def test_a_credential_containing_the_cdata_terminator_still_round_trips() -> None:
    hostile = CREDENTIAL | {"name": "x ]]> </openbadges:credential><script>alert(1)</script> ]]]>"}
    baked = bake_svg(badge_svg(title="Planning", issuer="Lab"), hostile)
    assert unbake_svg(baked) == hostile
    assert len(parse(baked).findall(f"{{{SVG_NAMESPACE}}}credential")) == 1


def test_characters_xml_cannot_carry_are_escaped_and_round_trip() -> None:
    odd = {"name": "lone \ud800 surrogate and \ufffe"}
    assert unbake_svg(bake_svg(badge_svg(title="x", issuer="y"), odd)) == odd


def test_baking_an_svg_again_replaces_the_credential() -> None:
    once = bake_svg(badge_svg(title="Planning", issuer="Lab"), CREDENTIAL)
    twice = bake_svg(once, {"id": "urn:uuid:other"})
    assert twice.count("<openbadges:credential") == 1
    assert twice.count("xmlns:openbadges=") == 1
    assert unbake_svg(twice) == {"id": "urn:uuid:other"}


def test_a_vc_jwt_goes_in_the_verify_attribute_of_an_empty_element() -> None:
    baked = bake_svg(badge_svg(title="Planning", issuer="Lab"), JWS)
    element = parse(baked)[0]
    assert element.get("verify") == JWS and not (element.text or "").strip()
    assert unbake_svg_text(baked) == JWS


def test_any_svg_can_be_baked_including_a_self_closing_one_with_a_declaration() -> None:
    svg = '<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>'
    assert unbake_svg(bake_svg(svg, CREDENTIAL)) == CREDENTIAL


def test_an_unbaked_svg_has_no_credential() -> None:
    assert unbake_svg(badge_svg(title="x", issuer="y")) is None


def test_malformed_svg_is_refused() -> None:
    with pytest.raises(ValueError, match="well-formed"):
        bake_svg("<svg xmlns='http://www.w3.org/2000/svg'><g></svg>", CREDENTIAL)


def test_a_document_that_is_not_svg_is_refused() -> None:
    with pytest.raises(ValueError, match="not an SVG"):
        unbake_svg("<html><body/></html>")


def test_svg_with_entity_declarations_is_refused() -> None:
    svg = '<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>'
    with pytest.raises(ValueError, match="entity"):
        unbake_svg(svg)


def test_an_svg_whose_openbadges_prefix_means_something_else_is_refused() -> None:
    svg = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="http://openbadges.org"/>'
    with pytest.raises(ValueError, match="already bound"):
        bake_svg(svg, CREDENTIAL)


def test_an_svg_baked_by_another_tool_in_the_specs_indented_form_is_rebaked_cleanly() -> None:
    spec_style = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"\n'
        '  xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"\n  viewBox="0 0 512 512">\n'
        '  <openbadges:credential>\n    <![CDATA[\n      {"id": "urn:uuid:old"}\n    ]]>\n'
        "  </openbadges:credential>\n  <!-- rest-of-image -->\n  <circle r=\"3\"/>\n</svg>"
    )
    assert unbake_svg(spec_style) == {"id": "urn:uuid:old"}
    rebaked = bake_svg(spec_style, CREDENTIAL)
    assert unbake_svg(rebaked) == CREDENTIAL
    assert rebaked.count("<openbadges:credential") == 1 and '<circle r="3"/>' in rebaked


def test_a_jwt_bake_with_a_self_closing_element_is_replaced_by_a_json_bake() -> None:
    jwt_baked = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0">'
        f'<openbadges:credential verify="{JWS}"/><g/></svg>'
    )
    rebaked = bake_svg(jwt_baked, CREDENTIAL)
    assert "verify=" not in rebaked and unbake_svg(rebaked) == CREDENTIAL
