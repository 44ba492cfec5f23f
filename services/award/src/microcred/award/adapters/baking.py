"""Badge images and Open Badges 3.0 baking (OB 3.0 section "Baked Badge").

PNG: the credential travels in one ``iTXt`` chunk with keyword ``openbadgecredential``, compression
flag 0, empty language tag and translated keyword. The spec allows the chunk only once, so baking an
already baked image replaces the old chunk instead of adding a second one. Every other chunk is copied
byte for byte; the new chunk goes right before ``IEND``.

SVG: the root ``<svg>`` binds ``xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"`` and its first
child is ``<openbadges:credential>``. With an embedded proof the JSON is the element's content inside
CDATA; with VC-JWT the compact JWS goes in a ``verify`` attribute and the element is empty.

A credential is given either as the JSON document (``dict``, embedded proof) or as the compact JWS
(``str``, VC-JWT). The JSON is written compact and UTF-8; characters that XML 1.0 cannot carry
(lone surrogates, U+FFFE/U+FFFF) can only occur inside JSON strings, so they are written as ``\\uXXXX``
escapes, which parse back to the same document.

Images are drawn at three times their size and scaled down, because Pillow's polygons and ellipses are
not anti-aliased. Same inputs, same Pillow version: same bytes (no timestamps or metadata are written).
"""

from __future__ import annotations

import io
import json
import math
import re
import struct
import xml.etree.ElementTree as ET
import zlib
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, ImageColor, ImageDraw, ImageFont

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_KEYWORD = b"openbadgecredential"
SVG_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
SVG_PREFIX = "openbadges"

MAX_TITLE_LINES = 4
_SUPERSAMPLE = 3
_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$")
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

Credential = dict[str, Any] | str


# -- the credential as text ---------------------------------------------------------------------


def _credential_text(credential: Credential) -> str:
    if isinstance(credential, str):
        if not _JWS.match(credential):
            raise ValueError("a credential given as text must be a compact JWS (header.payload.signature)")
        return credential
    if not isinstance(credential, dict):
        raise ValueError(f"credential must be a JSON object or a compact JWS, not {type(credential).__name__}")
    text = json.dumps(credential, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return _XML_ILLEGAL.sub(lambda m: "".join(f"\\u{unit:04x}" for unit in _utf16_units(m.group())), text)


def _utf16_units(char: str) -> list[int]:
    code = ord(char)
    if code < 0x10000:
        return [code]
    code -= 0x10000
    return [0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)]


def _parse_credential(text: str, where: str) -> dict[str, Any]:
    if _JWS.match(text.strip()):
        raise ValueError(f"the {where} holds a compact JWS (VC-JWT), not a JSON credential; read it as text")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"the {where} is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise ValueError(f"the {where} is JSON but not an object")
    return document


# -- PNG chunks ---------------------------------------------------------------------------------


def _png_chunks(png: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """(type, data, raw bytes of the whole chunk) for every chunk; raises ValueError on any damage."""
    if not isinstance(png, (bytes, bytearray)):
        raise ValueError("PNG data must be bytes")
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG: the 8-byte PNG signature is missing")
    chunks: list[tuple[bytes, bytes, bytes]] = []
    position = len(PNG_SIGNATURE)
    while True:
        if position + 8 > len(png):
            raise ValueError(f"truncated PNG: no IEND chunk (data ends at byte {len(png)})")
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        if length > 0x7FFFFFFF:
            raise ValueError(f"invalid PNG chunk length {length} at byte {position}")
        if not (kind.isascii() and kind.isalpha()):
            raise ValueError(f"invalid PNG chunk type {kind!r} at byte {position}")
        end = position + 12 + length
        if end > len(png):
            raise ValueError(f"truncated PNG: chunk {kind.decode()} at byte {position} runs past the end")
        data = png[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", png[end - 4 : end])
        if zlib.crc32(kind + data) != crc:
            raise ValueError(f"corrupt PNG: CRC mismatch in chunk {kind.decode()} at byte {position}")
        chunks.append((kind, data, bytes(png[position:end])))
        position = end
        if kind == b"IEND":
            break
    if chunks[0][0] != b"IHDR":
        raise ValueError("invalid PNG: the first chunk is not IHDR")
    if position != len(png):
        raise ValueError(f"invalid PNG: {len(png) - position} bytes after IEND")
    return chunks


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _itxt_keyword(data: bytes) -> bytes:
    return data.split(b"\x00", 1)[0]


def _itxt_text(data: bytes) -> str:
    keyword, rest = data.split(b"\x00", 1) if b"\x00" in data else (data, b"")
    if len(rest) < 2:
        raise ValueError(f"malformed iTXt chunk {keyword!r}: missing compression fields")
    compressed, method, rest = rest[0], rest[1], rest[2:]
    parts = rest.split(b"\x00", 2)
    if len(parts) != 3:
        raise ValueError(f"malformed iTXt chunk {keyword!r}: missing language tag or translated keyword")
    if compressed:
        raise ValueError(f"the iTXt chunk {keyword!r} is compressed, which Open Badges 3.0 forbids")
    if method:
        raise ValueError(f"malformed iTXt chunk {keyword!r}: unknown compression method {method}")
    try:
        return parts[2].decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"the iTXt chunk {keyword!r} is not valid UTF-8") from error


def bake_png(png: bytes, credential: Credential) -> bytes:
    """``png`` with ``credential`` baked in, replacing any credential baked before."""
    chunks = _png_chunks(png)
    text = _credential_text(credential).encode("utf-8")
    itxt = _chunk(b"iTXt", PNG_KEYWORD + b"\x00" + b"\x00\x00" + b"\x00" + b"\x00" + text)
    kept = [raw for kind, data, raw in chunks[:-1] if not (kind == b"iTXt" and _itxt_keyword(data) == PNG_KEYWORD)]
    return PNG_SIGNATURE + b"".join(kept) + itxt + chunks[-1][2]


def unbake_png_text(png: bytes) -> str | None:
    """The baked credential exactly as stored (JSON or compact JWS); None when the PNG is not baked."""
    for kind, data, _ in _png_chunks(png):
        if kind == b"iTXt" and _itxt_keyword(data) == PNG_KEYWORD:
            return _itxt_text(data)
    return None


def unbake_png(png: bytes) -> dict[str, Any] | None:
    """The baked JSON credential; None when the PNG is not baked. A VC-JWT bake raises ValueError."""
    text = unbake_png_text(png)
    return None if text is None else _parse_credential(text, "baked PNG credential")


# -- SVG ----------------------------------------------------------------------------------------

# An attribute value may contain ">", so the start tag is matched attribute by attribute.
_SVG_START = re.compile(r"<svg(?=[\s/>])(?:[^>\"']|\"[^\"]*\"|'[^']*')*>")
_NS_ATTRIBUTE = re.compile(r"\sxmlns:openbadges\s*=\s*(\"[^\"]*\"|'[^']*')")
_OLD_CREDENTIAL = re.compile(
    r"\s*<openbadges:credential(?=[\s/>])(?:[^>\"']|\"[^\"]*\"|'[^']*')*?"
    r"(?:/>|>(?:<!\[CDATA\[.*?\]\]>|[^<]++|<(?!/openbadges:credential\s*>))*+</openbadges:credential\s*>)",
    re.DOTALL,
)


def _parse_svg(svg: str) -> ET.Element:
    if not isinstance(svg, str):
        raise ValueError("SVG must be text")
    # Entity declarations are the door to entity-expansion attacks and no badge needs one. With them
    # refused, the stdlib parser is safe here: it never fetches external entities or DTDs, and
    # defusedxml would be a new dependency for nothing more.
    if "<!ENTITY" in svg:
        raise ValueError("SVG with entity declarations is refused")
    try:
        root = ET.fromstring(svg)  # noqa: S314
    except ET.ParseError as error:
        raise ValueError(f"not well-formed SVG: {error}") from error
    if root.tag not in ("{http://www.w3.org/2000/svg}svg", "svg"):
        raise ValueError(f"not an SVG document: the root element is {root.tag!r}")
    return root


def _cdata(text: str) -> str:
    # "]]>" would end the section early; split it across two sections so the text round-trips.
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def bake_svg(svg: str, credential: Credential) -> str:
    """``svg`` with ``credential`` baked in as the first child of the root, replacing any earlier bake."""
    _parse_svg(svg)
    start = _SVG_START.search(svg)
    if start is None:
        raise ValueError("no <svg> start tag found")
    tag = start.group()
    bound = _NS_ATTRIBUTE.search(tag)
    if bound is not None and bound.group(1)[1:-1] != SVG_NAMESPACE:
        raise ValueError(
            f"the openbadges prefix is already bound to {bound.group(1)} (an older Open Badges bake?); "
            "bake a clean image instead"
        )
    self_closing = tag.endswith("/>")
    body_start = tag[:-2].rstrip() if self_closing else tag[:-1]
    if bound is None:
        body_start += f' xmlns:{SVG_PREFIX}="{SVG_NAMESPACE}"'
    text = _credential_text(credential)
    if isinstance(credential, str):
        element = f"<{SVG_PREFIX}:credential verify={quoteattr(text)}></{SVG_PREFIX}:credential>"
    else:
        element = f"<{SVG_PREFIX}:credential>{_cdata(text)}</{SVG_PREFIX}:credential>"
    rest = svg[start.end() :]
    rest = _OLD_CREDENTIAL.sub("", rest)
    if self_closing:
        rest = f"</svg>{rest}"
    baked = svg[: start.start()] + body_start + ">" + element + rest
    # The text surgery above must never yield a second credential element or a different credential.
    found = list(_parse_svg(baked).iter(f"{{{SVG_NAMESPACE}}}credential"))
    if len(found) != 1 or unbake_svg_text(baked) != text:
        raise ValueError("could not bake this SVG safely (does it hold a credential under another prefix?)")
    return baked


def unbake_svg_text(svg: str) -> str | None:
    """The baked credential as stored (JSON, or the ``verify`` JWS); None when the SVG is not baked."""
    root = _parse_svg(svg)
    element = next(root.iter(f"{{{SVG_NAMESPACE}}}credential"), None)
    if element is None:
        return None
    verify = element.get("verify")
    if verify is not None:
        return verify
    return "".join(element.itertext()).strip()


def unbake_svg(svg: str) -> dict[str, Any] | None:
    """The baked JSON credential; None when the SVG is not baked. A VC-JWT bake raises ValueError."""
    text = unbake_svg_text(svg)
    return None if text is None else _parse_credential(text, "baked SVG credential")


# -- drawing ------------------------------------------------------------------------------------


def _rgb(accent: str) -> tuple[int, int, int]:
    try:
        red, green, blue = ImageColor.getrgb(accent)[:3]
    except ValueError as error:
        raise ValueError(f"accent {accent!r} is not a colour") from error
    return red, green, blue


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(v) for v in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _ink_on(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """White or near-black, whichever reads better on ``rgb`` (WCAG contrast)."""
    light = _luminance(rgb)
    return (255, 255, 255) if (1.05 / (light + 0.05)) >= ((light + 0.05) / 0.0625) else (23, 29, 38)


def _shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    if factor < 1:
        return tuple(round(v * factor) for v in rgb)  # type: ignore[return-value]
    return tuple(round(v + (255 - v) * (factor - 1)) for v in rgb)  # type: ignore[return-value]


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if font.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        # A word wider than the line (a long compound or URL) is broken by characters.
        current = ""
        for char in word:
            if font.getlength(current + char) > width and current:
                lines.append(current)
                current = ""
            current += char
    if current:
        lines.append(current)
    return lines


def _fit_title(title: str, width: float, largest: int, smallest: int) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    size = largest
    while True:
        font = _font(size)
        lines = _wrap(title, font, width)
        if len(lines) <= MAX_TITLE_LINES or size <= smallest:
            break
        size = max(smallest, int(size * 0.9))
    if len(lines) > MAX_TITLE_LINES:
        last = lines[MAX_TITLE_LINES - 1]
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        lines = [*lines[: MAX_TITLE_LINES - 1], last.rstrip() + "…"]
    return font, lines


def _font(size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size=size)
    if not isinstance(font, ImageFont.FreeTypeFont):  # Pillow built without FreeType: sizes are ignored
        raise RuntimeError("badge rendering needs Pillow with FreeType support")
    return font


def _fit_line(text: str, width: float, largest: int, smallest: int) -> tuple[ImageFont.FreeTypeFont, str]:
    size = largest
    font = _font(size)
    while font.getlength(text) > width and size > smallest:
        size -= 1
        font = _font(size)
    if font.getlength(text) <= width:
        return font, text
    while text and font.getlength(text.rstrip() + "…") > width:
        text = text[:-1]
    return font, text.rstrip() + "…"


class _Layout:
    """Geometry shared by the PNG and the SVG so both renderings look the same."""

    def __init__(self, size: float) -> None:
        self.size = size
        self.cx, self.cy = size / 2, size * 0.43
        self.radius = size * 0.39
        self.inner = self.radius * 0.84
        self.disc = self.radius * 0.79
        self.title_width = self.disc * 1.45
        self.title_top, self.title_bottom = self.cy - self.disc * 0.62, self.cy + self.disc * 0.34
        self.banner_y, self.banner_h = self.cy + self.disc * 0.62, size * 0.095
        self.banner_w = size * 0.78

    def rosette(self, points: int = 30) -> list[tuple[float, float]]:
        outline = []
        for index in range(points * 2):
            angle = math.pi * index / points - math.pi / 2
            r = self.radius if index % 2 == 0 else self.radius * 0.93
            outline.append((self.cx + r * math.cos(angle), self.cy + r * math.sin(angle)))
        return outline

    def tails(self) -> list[list[tuple[float, float]]]:
        s, top = self.size, self.cy + self.radius * 0.55
        left = [(s * 0.30, top), (s * 0.47, top + s * 0.04), (s * 0.42, s * 0.98), (s * 0.35, s * 0.92), (s * 0.26, s * 0.96)]
        return [left, [(s - x, y) for x, y in left]]

    def banner(self) -> list[tuple[float, float]]:
        half, y, h, notch = self.banner_w / 2, self.banner_y, self.banner_h, self.banner_h * 0.35
        x0, x1 = self.cx - half, self.cx + half
        return [(x0, y - h / 2), (x1, y - h / 2), (x1 - notch, y), (x1, y + h / 2), (x0, y + h / 2), (x0 + notch, y)]


def badge_png(*, title: str, issuer: str, accent: str = "#1f5f8b", size: int = 600) -> bytes:
    """A medallion with ribbon tails, the title over up to four lines and the issuer on a banner."""
    if not 64 <= size <= 4096:
        raise ValueError("size must be between 64 and 4096 pixels")
    rgb = _rgb(accent)
    big = size * _SUPERSAMPLE
    layout = _Layout(big)
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for tail in layout.tails():
        draw.polygon(tail, fill=_shade(rgb, 0.7))
    draw.polygon(layout.rosette(), fill=rgb)
    draw.ellipse(_box(layout, layout.inner), fill=(255, 255, 255))
    draw.ellipse(_box(layout, layout.disc), fill=rgb)
    ink = _ink_on(rgb)

    font, lines = _fit_title(" ".join(title.split()), layout.title_width, round(big * 0.075), round(big * 0.034))
    line_height = font.size * 1.18
    top = (layout.title_top + layout.title_bottom) / 2 - line_height * len(lines) / 2
    for index, line in enumerate(lines):
        draw.text((layout.cx, top + line_height * (index + 0.5)), line, font=font, fill=ink, anchor="mm")

    draw.polygon(layout.banner(), fill=(255, 255, 255))
    banner_ink = _ink_on((255, 255, 255)) if _luminance(rgb) > 0.45 else rgb
    issuer_font, issuer_line = _fit_line(
        " ".join(issuer.split()), layout.banner_w * 0.78, round(big * 0.042), round(big * 0.022)
    )
    draw.text((layout.cx, layout.banner_y), issuer_line, font=issuer_font, fill=banner_ink, anchor="mm")

    small = image.resize((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=False, compress_level=9)
    return out.getvalue()


def _box(layout: _Layout, radius: float) -> tuple[float, float, float, float]:
    return (layout.cx - radius, layout.cy - radius, layout.cx + radius, layout.cy + radius)


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _points(outline: list[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in outline)


def badge_svg(*, title: str, issuer: str, accent: str = "#1f5f8b") -> str:
    """The same medallion as ``badge_png`` as a 600x600 SVG; text is wrapped with the same font metrics."""
    rgb = _rgb(accent)
    layout = _Layout(600)
    ink, banner_ink = _hex(_ink_on(rgb)), _hex(_ink_on((255, 255, 255)) if _luminance(rgb) > 0.45 else rgb)
    font, lines = _fit_title(" ".join(title.split()), layout.title_width, 45, 20)
    line_height = font.size * 1.18
    top = (layout.title_top + layout.title_bottom) / 2 - line_height * len(lines) / 2
    issuer_font, issuer_line = _fit_line(" ".join(issuer.split()), layout.banner_w * 0.78, 25, 13)
    family = "Aileron, 'Helvetica Neue', Arial, sans-serif"
    title_lines = "".join(
        f'<tspan x="{layout.cx:.1f}" y="{top + line_height * (index + 0.5):.1f}">{escape(line)}</tspan>'
        for index, line in enumerate(lines)
    )
    label = escape(f"{' '.join(title.split())}, issued by {' '.join(issuer.split())}")
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 600" width="600" height="600" '
        'role="img" aria-labelledby="badge-title">',
        f'<title id="badge-title">{label}</title>',
        *(f'<polygon points="{_points(tail)}" fill="{_hex(_shade(rgb, 0.7))}"/>' for tail in layout.tails()),
        f'<polygon points="{_points(layout.rosette())}" fill="{_hex(rgb)}"/>',
        f'<circle cx="{layout.cx:.1f}" cy="{layout.cy:.1f}" r="{layout.inner:.1f}" fill="#ffffff"/>',
        f'<circle cx="{layout.cx:.1f}" cy="{layout.cy:.1f}" r="{layout.disc:.1f}" fill="{_hex(rgb)}"/>',
        f'<text font-family="{family}" font-size="{font.size}" fill="{ink}" text-anchor="middle" '
        f'dominant-baseline="central">{title_lines}</text>',
        f'<polygon points="{_points(layout.banner())}" fill="#ffffff"/>',
        f'<text x="{layout.cx:.1f}" y="{layout.banner_y:.1f}" font-family="{family}" '
        f'font-size="{issuer_font.size}" fill="{banner_ink}" text-anchor="middle" '
        f'dominant-baseline="central">{escape(issuer_line)}</text>',
        "</svg>",
    ]
    return "".join(parts)
