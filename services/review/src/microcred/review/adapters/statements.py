"""The statements review's per-submission use cases send, built once per process.

Built once so that SQLAlchemy computes each one's cache key once: a statement built on every call is coerced,
copied and walked for its key on every execution (measured on ``reviews``: 0.25 ms of client CPU per statement
built per call, 0.14 ms prebuilt). Every value a caller supplies is a ``sa.bindparam`` given at execution; values
that never change (a status, the routing lock's key) stay literals, as they were. The SQL sent, its parameters and
its locks are what the statements built per call sent.

Listings whose filters vary are built on first use of each shape and kept (``functools.cache``): a shape is a
handful of flags, so there are at most a few dozen of them.
"""

from __future__ import annotations

import functools
import zlib
from typing import Any, Literal, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from microcred.review.adapters.orm import CredentialVersionRow, ReviewerRow, ReviewRow, WithdrawnAttemptRow
from microcred.review.domain.model import Availability, ReviewStatus

# Routing reads every reviewer's open load and then assigns; two transactions doing that at once
# could both see the same spare capacity. One transaction-scoped advisory lock serialises routing, and every
# transaction that writes a seat (and so moves a reviewer's open-work counter, migration 0009) takes it first.
ROUTING_LOCK = zlib.crc32(b"microcred-review-routing")

REVIEWS = cast(sa.Table, ReviewRow.__table__)
CREDENTIAL_VERSIONS = cast(sa.Table, CredentialVersionRow.__table__)
WITHDRAWN_ATTEMPTS = cast(sa.Table, WithdrawnAttemptRow.__table__)
REVIEWERS = cast(sa.Table, ReviewerRow.__table__)

LOCK_ROUTING = sa.select(sa.func.pg_advisory_xact_lock(ROUTING_LOCK))

# -- credential versions ------------------------------------------------------------------------------------------

SELECT_CREDENTIAL_VERSION = sa.select(CREDENTIAL_VERSIONS).where(
    CREDENTIAL_VERSIONS.c.credential_id == sa.bindparam("credential_id"),
    CREDENTIAL_VERSIONS.c.version == sa.bindparam("version"),
)
# ``keys``: a list of (credential_id, version) tuples.
SELECT_KNOWN_CREDENTIAL_VERSIONS = sa.select(CredentialVersionRow.credential_id, CredentialVersionRow.version).where(
    sa.tuple_(CredentialVersionRow.credential_id, CredentialVersionRow.version).in_(
        sa.bindparam("keys", expanding=True)
    )
)

# -- reviewers ----------------------------------------------------------------------------------------------------

# Core rows of the table, the open-work counter among their columns: read past the session (runtime.direct), and
# never an ORM row kept in its identity map with the value it was loaded with while the trigger has moved it since.
SELECT_REVIEWERS_WITH_LOAD = sa.select(REVIEWERS).order_by(REVIEWERS.c.reviewer_id)
SELECT_REVIEWER_WITH_LOAD = SELECT_REVIEWERS_WITH_LOAD.where(REVIEWERS.c.reviewer_id == sa.bindparam("reviewer_id"))
_LEAST_LOADED = (
    SELECT_REVIEWERS_WITH_LOAD
    .where(
        REVIEWERS.c.active,
        REVIEWERS.c.availability == Availability.AVAILABLE.value,
        REVIEWERS.c.open_reviews < REVIEWERS.c.max_open,
    )
    .order_by(None)
    .order_by(REVIEWERS.c.open_reviews, REVIEWERS.c.reviewer_id)
    .limit(sa.bindparam("limit", type_=sa.Integer))
)
# Keyed by ``exclude_flagged``.
SELECT_LEAST_LOADED = {False: _LEAST_LOADED, True: _LEAST_LOADED.where(sa.not_(REVIEWERS.c.flagged))}

# -- reviews ------------------------------------------------------------------------------------------------------

SELECT_REVIEW = sa.select(REVIEWS).where(REVIEWS.c.review_id == sa.bindparam("review_id"))
SELECT_REVIEW_FOR_UPDATE = SELECT_REVIEW.with_for_update()

SELECT_REVIEW_ID_OF_ATTEMPT = sa.select(REVIEWS.c.review_id).where(
    REVIEWS.c.submission_id == sa.bindparam("submission_id"), REVIEWS.c.attempt == sa.bindparam("attempt")
)
SELECT_PANEL_OF_ATTEMPT_FOR_UPDATE = (
    sa.select(REVIEWS)
    .where(REVIEWS.c.submission_id == sa.bindparam("submission_id"), REVIEWS.c.attempt == sa.bindparam("attempt"))
    .order_by(REVIEWS.c.parent_review_id.is_not(None), REVIEWS.c.created_at, REVIEWS.c.review_id)
    .with_for_update()
)
SELECT_SEATS_OF = (
    sa.select(REVIEWS)
    .where(REVIEWS.c.parent_review_id == sa.bindparam("review_id"))
    .order_by(REVIEWS.c.created_at, REVIEWS.c.review_id)
)
SELECT_SEATS_OF_FOR_UPDATE = SELECT_SEATS_OF.with_for_update()

_ATTEMPT_ID = sa.func.coalesce(REVIEWS.c.parent_review_id, REVIEWS.c.review_id)
# ``review_ids``: a list of attempt review ids.
SELECT_PANEL_REVIEWERS = sa.select(_ATTEMPT_ID, REVIEWS.c.reviewer_id).where(
    _ATTEMPT_ID.in_(sa.bindparam("review_ids", expanding=True)),
    REVIEWS.c.reviewer_id.is_not(None),
    REVIEWS.c.status.in_([ReviewStatus.ASSIGNED.value, ReviewStatus.SCORED.value]),
)

_SOME_ATTEMPTS_OF_VERSION = (
    sa.select(REVIEWS.c.review_id)
    .where(
        REVIEWS.c.credential_id == sa.bindparam("credential_id"),
        REVIEWS.c.credential_version == sa.bindparam("version"),
        REVIEWS.c.parent_review_id.is_(None),
    )
    .limit(sa.bindparam("at_most", type_=sa.Integer))
    .subquery()
)
COUNT_ATTEMPTS_OF_VERSION = sa.select(sa.func.count()).select_from(_SOME_ATTEMPTS_OF_VERSION)

SELECT_SCORERS_OF_EARLIER_ATTEMPTS = sa.select(REVIEWS.c.reviewer_id).where(
    REVIEWS.c.submission_id == sa.bindparam("submission_id"),
    REVIEWS.c.attempt < sa.bindparam("attempt"),
    REVIEWS.c.status == ReviewStatus.SCORED.value,
)

SELECT_QUEUED = (
    sa.select(REVIEWS)
    .where(REVIEWS.c.status == ReviewStatus.QUEUED.value)
    .order_by(REVIEWS.c.created_at, REVIEWS.c.review_id)
)
SELECT_OVERDUE_FOR_UPDATE = (
    sa.select(REVIEWS)
    .where(REVIEWS.c.status == ReviewStatus.ASSIGNED.value, REVIEWS.c.due_at < sa.bindparam("now"))
    .order_by(REVIEWS.c.due_at, REVIEWS.c.review_id)
    .with_for_update()
)

# A review's row as the columns given at execution: a single dict is one INSERT of those columns (table order).
INSERT_REVIEW = sa.insert(REVIEWS)
# SET the columns given at execution besides ``b_review_id`` (table order); SQLAlchemy compiles one form per set of
# columns and keeps it. The key's name must differ from the column's: a SET column's name is reserved for its value.
UPDATE_REVIEW = sa.update(REVIEWS).where(REVIEWS.c.review_id == sa.bindparam("b_review_id"))

# -- withdrawn attempts -------------------------------------------------------------------------------------------

# The first withdrawal of an attempt is the one that counts; a repeat keeps its time and reason.
INSERT_WITHDRAWAL = pg_insert(WITHDRAWN_ATTEMPTS).on_conflict_do_nothing()
SELECT_WITHDRAWN_ATTEMPT = sa.select(WITHDRAWN_ATTEMPTS.c.attempt).where(
    WITHDRAWN_ATTEMPTS.c.submission_id == sa.bindparam("submission_id"),
    WITHDRAWN_ATTEMPTS.c.attempt == sa.bindparam("attempt"),
)

# -- listings -----------------------------------------------------------------------------------------------------


@functools.cache
def assigned_page(
    *, credential: bool, role: bool, overdue: bool | None, sort: Literal["due_at", "assigned_at"], descending: bool,
    limited: bool,
) -> sa.Select[Any]:
    """A reviewer's open seats (``reviewer_id``), filtered by ``credential_id``, ``role`` and due before or from
    ``now`` when asked; see :func:`_page` for ``offset`` and ``limit``."""
    mine = [REVIEWS.c.reviewer_id == sa.bindparam("reviewer_id"), REVIEWS.c.status == ReviewStatus.ASSIGNED.value]
    if credential:
        mine.append(REVIEWS.c.credential_id == sa.bindparam("credential_id"))
    if role:
        mine.append(REVIEWS.c.role == sa.bindparam("role"))
    if overdue is not None:
        now: sa.BindParameter[Any] = sa.bindparam("now")
        mine.append(REVIEWS.c.due_at < now if overdue else REVIEWS.c.due_at >= now)
    return _page(mine, (sort, "review_id"), descending, limited)


@functools.cache
def queued_page(*, credential: bool, descending: bool, limited: bool) -> sa.Select[Any]:
    """The waiting queue, filtered by ``credential_id`` when asked; see :func:`_page` for ``offset`` and ``limit``."""
    waiting = [REVIEWS.c.status == ReviewStatus.QUEUED.value]
    if credential:
        waiting.append(REVIEWS.c.credential_id == sa.bindparam("credential_id"))
    return _page(waiting, ("created_at", "review_id"), descending, limited)


def _page(where: list[sa.ColumnElement[bool]], order: tuple[str, ...], descending: bool,
          limited: bool) -> sa.Select[Any]:
    """The rows from ``offset`` on, ordered by the ``order`` columns. ``limited``: at most ``limit`` of them, each
    with the count of every matching row joined to it; a page past the end is that count's row alone, its seat
    columns NULL (the page and its total in one statement, so from one snapshot)."""
    def ordered(columns: sa.ColumnCollection[str, Any]) -> list[sa.ColumnElement[Any]]:
        chosen = [columns[name] for name in order]
        return [c.desc() for c in chosen] if descending else chosen

    page = sa.select(REVIEWS).where(*where).order_by(*ordered(REVIEWS.c)).offset(
        sa.bindparam("offset", type_=sa.Integer)
    )
    if not limited:
        return page
    counted = sa.select(sa.func.count().label("n")).select_from(REVIEWS).where(*where).subquery("counted")
    shown = page.limit(sa.bindparam("limit", type_=sa.Integer)).subquery("shown")
    return (sa.select(counted.c.n, shown).select_from(counted).outerjoin(shown, sa.true())
            .order_by(*ordered(shown.c)))
