"""The teacher's uploads as the application page shows them: which files are captions of which video, and the
part numbers a resuming script asks for. Pure: built from what the submission service answered.

Captions (WebVTT, issue 20 point 8) are evidence items of their own that name the video they caption
(``captions_for``); the page lists them under their video and plays them as its track in the preview, and
``application.sections`` never counts them as a file of the requirement (the service does not count them either).
"""

from __future__ import annotations

from typing import Any

# The service takes at most 1 MiB of captions; the portal serves them back no larger.
CAPTIONS_MAX_BYTES = 1024**2
MAX_PARTS = 10_000


def is_captions(evidence: dict[str, Any]) -> bool:
    return bool(evidence.get("captions_for"))


def captions_of(evidence: list[dict[str, Any]], captions_id: str) -> dict[str, Any] | None:
    """The verified captions item with this id, if it is one."""
    return next((e for e in evidence if e.get("evidence_id") == captions_id and is_captions(e)
                 and e.get("status") == "uploaded"), None)


def part_numbers(text: str) -> list[int] | None:
    """``"2,5,6"`` as the part numbers a script asks fresh URLs for; None when it is not such a list."""
    pieces = [p.strip() for p in text.split(",") if p.strip()]
    if not pieces or len(pieces) > MAX_PARTS or not all(p.isdigit() for p in pieces):
        return None
    numbers = [int(p) for p in pieces]
    return numbers if all(1 <= n <= MAX_PARTS for n in numbers) else None
