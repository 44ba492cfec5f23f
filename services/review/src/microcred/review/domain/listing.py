"""What a listing of reviews asks for (filter, order, page) and what it answers (a page and the total).

Paging is by limit and offset rather than a keyset cursor: the queue page shows "page 3 of 40" and lets a
reviewer jump, and with the listing's index behind it an offset of a few thousand rows stays a few milliseconds.
``limit`` None lists everything, as the endpoints did before they paged, for the callers that still expect that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from microcred.review.domain.model import Review, SeatRole

AssignedSort = Literal["due", "assigned"]


@dataclass(frozen=True)
class AssignedListing:
    """Which of a reviewer's open seats to list, in which order, and which page of them (``limit`` None: all)."""

    sort: AssignedSort = "due"
    descending: bool = False
    credential_id: UUID | None = None
    role: SeatRole | None = None
    overdue: bool | None = None
    limit: int | None = None
    offset: int = 0


@dataclass(frozen=True)
class QueueListing:
    descending: bool = False
    credential_id: UUID | None = None
    limit: int | None = None
    offset: int = 0


@dataclass(frozen=True)
class Page:
    reviews: list[Review]
    total: int


@dataclass(frozen=True)
class AssignedSummary:
    open: int
    overdue: int
    due_soon: int
    adjudications: int
    # Open seats per credential, most first: what the queue page's credential filter offers.
    by_credential: tuple[tuple[UUID, int], ...] = ()
