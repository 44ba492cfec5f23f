"""The content type of stored bytes, read from the bytes themselves (``filetype``'s magic numbers).

Text has no magic number: bytes that decode as UTF-8 (and hold no NUL) are text, reported under the
declared type when that is one of the accepted text types and as ``text/plain`` otherwise. Text declared as
WebVTT is ``text/vtt`` only when its first line says ``WEBVTT`` (the format's signature), else plain text. Anything
else a sniffer cannot name is None; the domain decides what a silence means for the declared type.
"""

from __future__ import annotations

import filetype

from microcred.submission.domain.model import CAPTIONS_TYPE, TEXT_TYPES, media_type

BOM = b"\xef\xbb\xbf"


def is_webvtt(head: bytes) -> bool:
    """WebVTT's signature: an optional BOM, ``WEBVTT``, then the end or a space, tab or line break."""
    body = head.removeprefix(BOM)
    return body.startswith(b"WEBVTT") and body[6:7] in (b"", b" ", b"\t", b"\r", b"\n")


def sniff_content_type(head: bytes, is_text: bool, declared: str) -> str | None:
    if not head:
        return None
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    if is_text:
        declared_type = media_type(declared)
        if declared_type == CAPTIONS_TYPE:
            return CAPTIONS_TYPE if is_webvtt(head) else "text/plain"
        return declared_type if declared_type in TEXT_TYPES else "text/plain"
    return None
