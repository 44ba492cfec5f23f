"""What the uploads' endpoints read from a script: the part numbers a resuming upload asks fresh URLs for.

Captions (WebVTT, issue 20 point 8) are evidence items of their own that name the video they caption
(``captions_for``); the page lists them under their video and plays them as its track in the preview, and
``application.sections`` never counts them as a file of the requirement (the service does not count them either).
"""

from __future__ import annotations

MAX_PARTS = 10_000


def part_numbers(text: str) -> list[int] | None:
    """``"2,5,6"`` as the part numbers a script asks fresh URLs for; None when it is not such a list."""
    pieces = [p.strip() for p in text.split(",") if p.strip()]
    if not pieces or len(pieces) > MAX_PARTS or not all(p.isdigit() for p in pieces):
        return None
    numbers = [int(p) for p in pieces]
    return numbers if all(1 <= n <= MAX_PARTS for n in numbers) else None
