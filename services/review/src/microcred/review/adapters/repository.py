"""Repositories translate between rows and domain objects; the unit of work owns the session."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from microcred.events import CriterionFeedback, CriterionResult, EvidenceRef, Rubric
from microcred.review.adapters import statements
from microcred.review.adapters.orm import CredentialVersionRow, ReviewerRow, ScoredPairRow
from microcred.review.domain.listing import AssignedListing, AssignedSummary, Page, QueueListing
from microcred.review.domain.model import (
    Availability,
    Backlog,
    BusinessDays,
    Certification,
    CredentialKey,
    CredentialRubric,
    Review,
    Reviewer,
    ReviewStatus,
    Scorecard,
    SeatRole,
    business_day_offsets,
)
from microcred.review.domain.reliability import Decision, ScoredPair
from microcred.runtime.direct import direct_of
from microcred.runtime.lru import LeastRecentlyUsed

_REVIEWS = statements.REVIEWS


def _review_values(review: Review) -> dict[str, Any]:
    """Every column of a review's row but its key, as the ORM's flush wrote them."""
    card = review.scorecard
    return {
        "submission_id": review.submission_id,
        "attempt": review.attempt,
        "credential_id": review.credential_id,
        "credential_version": review.credential_version,
        "teacher_id": review.teacher_id,
        "states": list(review.states),
        "evidence": [e.model_dump(mode="json") for e in review.evidence],
        "status": review.status.value,
        "reviewer_id": review.reviewer_id,
        "created_at": review.created_at,
        "submitted_at": review.submitted_at,
        "assigned_at": review.assigned_at,
        "due_at": review.due_at,
        "scored_at": review.scored_at,
        "decision": None if card is None else card.decision,
        "total_points": None if card is None else card.total_points,
        "results": None if card is None else [r.model_dump(mode="json") for r in card.results],
        "revision_feedback": None if card is None else [f.model_dump(mode="json") for f in card.revision_feedback],
        "withdrawn_at": review.withdrawn_at,
        "withdrawal_reason": review.withdrawal_reason,
        "teacher_district": review.teacher_district,
        "teacher_school": review.teacher_school,
        "teacher_note": review.teacher_note,
        "excluded_reviewers": sorted(review.excluded_reviewers),
        "reassigned_from": review.reassigned_from,
        "reassignment_reason": review.reassignment_reason,
        "role": review.role,
        "parent_review_id": review.parent_review_id,
    }


# The versions this session's transaction recorded itself (``session.info``): not kept for the process until
# that transaction commits, which a repository cannot see, so not kept at all.
_RECORDED_HERE = "microcred.review.credential_versions_recorded"


class CredentialRubrics:
    """Credential versions already read, kept per process: opening an attempt and scoring it each read one.

    Safe across transactions and replicas because a version's row is written once (``add``; a redelivery's copy is
    refused by its key) and never updated or deleted, so what one committed read found every later read finds. A
    version read in the transaction that recorded it is not kept: that transaction may still roll back. The least
    recently used version goes first once ``max_versions`` are kept.
    """

    def __init__(self, max_versions: int = 1024) -> None:
        self._kept: LeastRecentlyUsed[CredentialKey, CredentialRubric] = LeastRecentlyUsed(max_versions)

    def get(self, key: CredentialKey) -> CredentialRubric | None:
        return self._kept.get(key)

    def keep(self, credential: CredentialRubric) -> None:
        self._kept.keep((credential.credential_id, credential.version), credential)


class CredentialRepository:
    def __init__(self, session: AsyncSession, kept: CredentialRubrics | None = None) -> None:
        self.session = session
        self.direct = direct_of(session)
        self.kept = kept if kept is not None else CredentialRubrics()

    async def get(self, credential_id: UUID, version: int) -> CredentialRubric | None:
        key = (credential_id, version)
        if (found := self.kept.get(key)) is not None:
            return found
        # Core, not ``session.get``: read on every opening and every score, and never changed once recorded.
        row = await self.direct.first(
            statements.SELECT_CREDENTIAL_VERSION, {"credential_id": credential_id, "version": version}
        )
        if row is None:
            return None
        found = CredentialRubric(
            row.credential_id, row.version, row.name, Rubric.model_validate(row.rubric), row.calibration_size
        )
        if key not in self.session.info.get(_RECORDED_HERE, ()):
            self.kept.keep(found)
        return found

    async def add(self, credential: CredentialRubric) -> None:
        self.session.info.setdefault(_RECORDED_HERE, set()).add((credential.credential_id, credential.version))
        self.session.add(
            CredentialVersionRow(
                credential_id=credential.credential_id,
                version=credential.version,
                name=credential.name,
                rubric=credential.rubric.model_dump(mode="json"),
                calibration_size=credential.calibration_size,
            )
        )

    async def known(self, keys: Iterable[CredentialKey]) -> set[CredentialKey]:
        wanted = set(keys)
        if not wanted:
            return set()
        rows = await self.session.execute(statements.SELECT_KNOWN_CREDENTIAL_VERSIONS, {"keys": list(wanted)})
        return {(row.credential_id, row.version) for row in rows}


class ReviewerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.direct = direct_of(session)

    async def get(self, reviewer_id: str) -> Reviewer | None:
        found = await self.direct.first(statements.SELECT_REVIEWER_WITH_LOAD, {"reviewer_id": reviewer_id})
        return None if found is None else self._to_domain(found)

    async def list(self) -> list[Reviewer]:
        return [self._to_domain(row) for row in await self.direct.rows(statements.SELECT_REVIEWERS_WITH_LOAD)]

    async def least_loaded(self, limit: int, *, exclude_flagged: bool) -> Sequence[Reviewer]:
        """Up to ``limit`` reviewers who could take work at all, least open work first (ties: id).

        Reads each reviewer's open-work counter (kept by the database in every transaction that writes a seat,
        migration 0009) instead of counting open assignments, and only the head of the order leaves the
        database: routing then applies its per-review rules to this page. The caller holds the routing lock,
        and the session flushes its pending seats before this query, so the counts include this transaction's
        own assignments and releases so far.
        """
        query = statements.SELECT_LEAST_LOADED[exclude_flagged]
        return [self._to_domain(row) for row in await self.direct.rows(query, {"limit": limit})]

    async def save(self, reviewer: Reviewer) -> None:
        row = await self.session.get(ReviewerRow, reviewer.reviewer_id)
        if row is None:
            row = ReviewerRow(reviewer_id=reviewer.reviewer_id)
            self.session.add(row)
        row.credential_ids = (
            None if reviewer.credential_ids is None else sorted(str(c) for c in reviewer.credential_ids)
        )
        row.max_open = reviewer.max_open
        row.active = reviewer.active
        row.district = reviewer.district
        row.school = reviewer.school
        row.senior = reviewer.senior
        row.availability = reviewer.availability.value
        row.certifications = [
            {"credential_id": str(c.credential_id), "certified_at": c.certified_at.isoformat(), "status": c.status}
            for c in reviewer.certifications
        ]
        # overdue_count and flagged are deliberately not written here: record_overdue and set_flagged move them.

    async def set_flagged(self, reviewer_id: str, flagged: bool) -> None:
        await self.session.execute(
            sa.update(ReviewerRow).where(ReviewerRow.reviewer_id == reviewer_id).values(flagged=flagged)
        )

    async def flagged_count(self) -> int:
        return int(await self.session.scalar(sa.select(sa.func.count()).where(ReviewerRow.flagged)) or 0)

    async def record_overdue(self, reviewer_id: str) -> None:
        await self.session.execute(
            sa.update(ReviewerRow)
            .where(ReviewerRow.reviewer_id == reviewer_id)
            .values(overdue_count=ReviewerRow.overdue_count + 1)
        )

    @staticmethod
    def _to_domain(row: Any) -> Reviewer:
        """From a row of ``reviewers`` (statements.SELECT_REVIEWERS_WITH_LOAD), its open-work counter included."""
        return Reviewer(
            reviewer_id=row.reviewer_id,
            credential_ids=None if row.credential_ids is None else frozenset(UUID(c) for c in row.credential_ids),
            max_open=row.max_open,
            active=row.active,
            open_reviews=row.open_reviews,
            district=row.district,
            school=row.school,
            senior=bool(row.senior),
            availability=Availability(row.availability or Availability.AVAILABLE.value),
            certifications=tuple(
                Certification(
                    credential_id=UUID(c["credential_id"]),
                    certified_at=datetime.fromisoformat(c["certified_at"]),
                    status="revoked" if c["status"] == "revoked" else "active",
                )
                for c in row.certifications or ()
            ),
            overdue_count=row.overdue_count or 0,
            flagged=bool(row.flagged),
        )


class ReviewRepository:
    """Panel seats, read and written with Core statements on the ``reviews`` table, not the ORM's unit of work.

    Every use case here reads a few seats, changes some and saves them; the ORM spent more Python than the
    database spent time: its loading and attribute instrumentation on every read, and a SELECT by key before
    each save (``session.get``: the loaded row had long left its weakly referenced identity map, since only the
    domain object was kept), then a flush. Now a read builds the domain object from the row and keeps the values
    as read; a save is one INSERT of every column, or one UPDATE of the columns that differ from what was read,
    which is what the ORM's flush wrote. No ``ReviewRow`` ever enters the session, so nothing stale can be
    returned from its identity map either.

    The reviewers' open-work counter is moved by the trigger on ``reviews`` (migration 0009) as each of these
    statements runs; ReviewerRepository reads it as a column, so it sees each write at once. A seat is only ever
    assigned to a reviewer read by ``least_loaded`` or ``list``, which flush any pending reviewer row first
    (runtime.direct does, as the session's autoflush would), so the trigger always finds the reviewer it counts for.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # Reads and writes go past SQLAlchemy's execution layer (runtime.direct).
        self.direct = direct_of(session)
        # Per review id, its column values as last read or written in this unit of work (see save).
        self._stored: dict[UUID, Mapping[Any, Any]] = {}

    async def _reviews(self, query: sa.Select[Any], values: Mapping[str, Any] | None = None) -> list[Review]:
        return [self._to_domain(row) for row in await self.direct.rows(query, values)]

    async def lock_routing(self) -> None:
        await self.direct.execute(statements.LOCK_ROUTING, {})

    async def get(self, review_id: UUID, *, for_update: bool = False) -> Review | None:
        query = statements.SELECT_REVIEW_FOR_UPDATE if for_update else statements.SELECT_REVIEW
        row = await self.direct.first(query, {"review_id": review_id})
        return None if row is None else self._to_domain(row)

    async def exists_for_attempt(self, submission_id: UUID, attempt: int) -> bool:
        found = await self.direct.scalar(
            statements.SELECT_REVIEW_ID_OF_ATTEMPT, {"submission_id": submission_id, "attempt": attempt}
        )
        return found is not None

    async def panel_for_attempt(self, submission_id: UUID, attempt: int) -> list[Review]:
        """Every seat of the attempt's panel, primary first, locked for update."""
        return await self._reviews(
            statements.SELECT_PANEL_OF_ATTEMPT_FOR_UPDATE, {"submission_id": submission_id, "attempt": attempt}
        )

    async def seats_of(self, review_id: UUID, *, for_update: bool = False) -> list[Review]:
        """The panel seats other than the primary of the attempt whose review this is."""
        query = statements.SELECT_SEATS_OF_FOR_UPDATE if for_update else statements.SELECT_SEATS_OF
        return await self._reviews(query, {"review_id": review_id})

    async def panel_reviewers(self, review_ids: Iterable[UUID]) -> dict[UUID, set[str]]:
        """Per attempt review id: who holds (or has scored) a seat of that attempt's panel."""
        wanted = list(set(review_ids))
        if not wanted:
            return {}
        rows = await self.session.execute(statements.SELECT_PANEL_REVIEWERS, {"review_ids": wanted})
        panels: dict[UUID, set[str]] = {}
        for review_id, reviewer_id in rows:
            if reviewer_id is not None:  # filtered in SQL; this only narrows the type
                panels.setdefault(review_id, set()).add(reviewer_id)
        return panels

    async def attempts_of_version(self, credential_id: UUID, version: int, *, at_most: int) -> int:
        """How many attempts of this credential version have a review (primary rows), counted up to
        ``at_most``: calibration only asks whether the phase is over, so a long history is not scanned."""
        found = await self.direct.scalar(
            statements.COUNT_ATTEMPTS_OF_VERSION, {"credential_id": credential_id, "version": version, "at_most": at_most}
        )
        return int(found or 0)

    async def record_withdrawal(self, submission_id: UUID, attempt: int, reason: str | None, at: datetime) -> None:
        await self.session.execute(
            statements.INSERT_WITHDRAWAL,
            {"submission_id": submission_id, "attempt": attempt, "reason": reason, "withdrawn_at": at},
        )

    async def is_withdrawn(self, submission_id: UUID, attempt: int) -> bool:
        found = await self.direct.scalar(
            statements.SELECT_WITHDRAWN_ATTEMPT, {"submission_id": submission_id, "attempt": attempt}
        )
        return found is not None

    async def queued(self) -> list[Review]:
        return await self._reviews(statements.SELECT_QUEUED)

    async def backlog(self, now: datetime, promise: BusinessDays) -> Backlog:
        """Open seats by status, and attempts past the decision promise, in one query.

        Driven from the open seats (``ix_reviews_status_created``) and each one's primary row by key, so it
        costs what is open, not the table's history. An attempt is undecided while a seat of its panel is
        open; its promise runs from the primary's submit time plus the business-day offset of that
        submit's weekday (``business_day_offsets``), computed in UTC as ``add_business_days`` does.
        """
        seat, primary = _REVIEWS.alias("seat"), _REVIEWS.alias("primary_seat")
        start = sa.func.timezone("UTC", sa.func.coalesce(primary.c.submitted_at, primary.c.created_at))
        offset = sa.case(
            {weekday + 1: days for weekday, days in enumerate(business_day_offsets(promise.days))},
            value=sa.extract("isodow", start),
        )
        late = start + sa.func.make_interval(0, 0, 0, sa.cast(offset, sa.Integer)) < sa.func.timezone("UTC", now)
        query = (
            sa.select(
                sa.func.count().filter(seat.c.status == ReviewStatus.ASSIGNED.value),
                sa.func.count().filter(seat.c.status == ReviewStatus.QUEUED.value),
                sa.func.count(sa.distinct(primary.c.review_id)).filter(late),
            )
            .select_from(seat.join(
                primary, primary.c.review_id == sa.func.coalesce(seat.c.parent_review_id, seat.c.review_id)
            ))
            .where(seat.c.status.in_((ReviewStatus.ASSIGNED.value, ReviewStatus.QUEUED.value)))
        )
        assigned, queued, overdue = (await self.session.execute(query)).one()
        return Backlog(assigned=assigned, queued=queued, overdue=overdue)

    async def overdue(self, now: datetime) -> list[Review]:
        return await self._reviews(statements.SELECT_OVERDUE_FOR_UPDATE, {"now": now})

    async def scorers_of_earlier_attempts(self, submission_id: UUID, attempt: int) -> set[str]:
        rows = await self.session.scalars(
            statements.SELECT_SCORERS_OF_EARLIER_ATTEMPTS, {"submission_id": submission_id, "attempt": attempt}
        )
        return {reviewer_id for reviewer_id in rows if reviewer_id is not None}

    async def assigned_page(self, reviewer_id: str, listing: AssignedListing, now: datetime) -> Page:
        """One page of a reviewer's open seats and how many match the filter in all.

        Walks ``ix_reviews_reviewer_open`` (reviewer, status, due_at, review_id; migration 0008): the page is read
        in index order and the count stays on the index, so a reviewer with thousands of open seats costs the
        page, not the whole list. Ties break on the review id so that pages never repeat or skip a row.
        """
        query = statements.assigned_page(
            credential=listing.credential_id is not None, role=listing.role is not None, overdue=listing.overdue,
            sort="due_at" if listing.sort == "due" else "assigned_at", descending=listing.descending,
            limited=listing.limit is not None,
        )
        values: dict[str, Any] = {"reviewer_id": reviewer_id}
        if listing.credential_id is not None:
            values["credential_id"] = listing.credential_id
        if listing.role is not None:
            values["role"] = listing.role
        if listing.overdue is not None:
            values["now"] = now
        return await self._page(query, values, listing.limit, listing.offset)

    async def assigned_summary(self, reviewer_id: str, now: datetime, soon: datetime) -> AssignedSummary:
        """A reviewer's open seats counted by what needs attention, per credential, in one pass over their index
        range (every column it reads is in ``ix_reviews_reviewer_open``); the totals are the per-credential sums."""
        query = (
            sa.select(
                _REVIEWS.c.credential_id,
                sa.func.count().label("n"),
                sa.func.count().filter(_REVIEWS.c.due_at < now),
                sa.func.count().filter(_REVIEWS.c.due_at >= now, _REVIEWS.c.due_at < soon),
                sa.func.count().filter(_REVIEWS.c.role == "adjudicator"),
            )
            .where(_REVIEWS.c.reviewer_id == reviewer_id, _REVIEWS.c.status == ReviewStatus.ASSIGNED.value)
            .group_by(_REVIEWS.c.credential_id)
            .order_by(sa.text("n DESC"), _REVIEWS.c.credential_id)
        )
        rows = (await self.session.execute(query)).all()
        return AssignedSummary(open=sum(r[1] for r in rows), overdue=sum(r[2] for r in rows),
                               due_soon=sum(r[3] for r in rows), adjudications=sum(r[4] for r in rows),
                               by_credential=tuple((r[0], r[1]) for r in rows))

    async def queued_page(self, listing: QueueListing) -> Page:
        """One page of the waiting queue (``ix_reviews_status_created``), oldest first unless told otherwise."""
        query = statements.queued_page(
            credential=listing.credential_id is not None, descending=listing.descending,
            limited=listing.limit is not None,
        )
        values: dict[str, Any] = {} if listing.credential_id is None else {"credential_id": listing.credential_id}
        return await self._page(query, values, listing.limit, listing.offset)

    async def _page(self, query: sa.Select[Any], values: dict[str, Any], limit: int | None, offset: int) -> Page:
        """One page, and how many rows match in all, read in ONE statement (``statements.assigned_page``, ``.queued_page``).

        The page and its total (the route's X-Total-Count) come from one snapshot, so they agree with each other
        even though the routes read without a transaction (``UnitOfWork.without_transaction`` in the runtime). Without a
        limit the page is the whole list and its length is the total. With one, the count (over the same index
        the page walks) is joined to the page, so a page past the end still says how many there are.
        """
        values["offset"] = offset
        if limit is None:
            reviews = await self._reviews(query, values)
            return Page(reviews, offset + len(reviews))
        values["limit"] = limit
        found = (await self.session.execute(query, values)).all()
        # A page past the end is the count's row alone, its seat columns NULL.
        return Page([self._to_domain(row) for row in found if row.review_id is not None], int(found[0].n))

    async def save(self, review: Review) -> None:
        """INSERT a review this unit of work opened; UPDATE one it read, with only the columns that changed.

        The use cases save only what they just opened or read in the same unit of work (under the routing lock or
        FOR UPDATE), so the values as read are the row's; a review saved without either would be inserted, and
        its key refused by the database rather than anything overwritten.
        """
        current = _review_values(review)
        stored = self._stored.get(review.review_id)
        if stored is None:
            await self.direct.execute(statements.INSERT_REVIEW, {"review_id": review.review_id, **current})
        elif changed := {key: value for key, value in current.items() if stored[key] != value}:
            await self.direct.execute(statements.UPDATE_REVIEW, {"b_review_id": review.review_id, **changed})
        self._stored[review.review_id] = current

    def _to_domain(self, row: sa.Row[Any]) -> Review:
        # The row itself is kept as the values read (a mapping of its columns): save compares against it.
        self._stored[row.review_id] = row._mapping
        scorecard = None
        if row.decision is not None:
            scorecard = Scorecard(
                results=tuple(CriterionResult.model_validate(r) for r in row.results or ()),
                total_points=row.total_points or 0,
                decision="passed" if row.decision == "passed" else "revise",
                revision_feedback=tuple(CriterionFeedback.model_validate(f) for f in row.revision_feedback or ()),
            )
        return Review(
            review_id=row.review_id,
            submission_id=row.submission_id,
            attempt=row.attempt,
            credential_id=row.credential_id,
            credential_version=row.credential_version,
            teacher_id=row.teacher_id,
            states=tuple(row.states),
            evidence=tuple(EvidenceRef.model_validate(e) for e in row.evidence),
            created_at=row.created_at,
            submitted_at=row.submitted_at,
            status=ReviewStatus(row.status),
            reviewer_id=row.reviewer_id,
            assigned_at=row.assigned_at,
            due_at=row.due_at,
            scored_at=row.scored_at,
            scorecard=scorecard,
            withdrawn_at=row.withdrawn_at,
            withdrawal_reason=row.withdrawal_reason,
            teacher_district=row.teacher_district,
            teacher_school=row.teacher_school,
            teacher_note=row.teacher_note,
            excluded_reviewers=frozenset(row.excluded_reviewers or ()),
            reassigned_from=row.reassigned_from,
            reassignment_reason=row.reassignment_reason,
            role=_seat_role(row.role),
            parent_review_id=row.parent_review_id,
        )



class PairRepository:
    """Double-scored pairs, the raw material of the reliability statistics."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, review_id: UUID) -> ScoredPair | None:
        row = await self.session.get(ScoredPairRow, review_id)
        return None if row is None else self._to_domain(row)

    async def save(self, pair: ScoredPair) -> None:
        row = await self.session.get(ScoredPairRow, pair.review_id)
        if row is None:
            row = ScoredPairRow(review_id=pair.review_id)
            self.session.add(row)
        row.credential_id = pair.credential_id
        row.credential_version = pair.credential_version
        row.primary_reviewer = pair.primary_reviewer
        row.second_reviewer = pair.second_reviewer
        row.primary_levels = list(pair.primary_levels)
        row.second_levels = list(pair.second_levels)
        row.primary_decision = pair.primary_decision
        row.second_decision = pair.second_decision
        row.adjudicator = pair.adjudicator
        row.adjudicated_levels = None if pair.adjudicated_levels is None else list(pair.adjudicated_levels)
        row.adjudicated_decision = pair.adjudicated_decision
        await self.session.flush()

    async def of_reviewer(self, reviewer_id: str) -> list[ScoredPair]:
        rows = await self.session.scalars(
            sa.select(ScoredPairRow).where(
                sa.or_(ScoredPairRow.primary_reviewer == reviewer_id, ScoredPairRow.second_reviewer == reviewer_id)
            )
        )
        return [self._to_domain(row) for row in rows]

    async def all(self) -> list[ScoredPair]:
        rows = await self.session.scalars(sa.select(ScoredPairRow).order_by(ScoredPairRow.completed_at))
        return [self._to_domain(row) for row in rows]

    @staticmethod
    def _to_domain(row: ScoredPairRow) -> ScoredPair:
        return ScoredPair(
            review_id=row.review_id,
            credential_id=row.credential_id,
            credential_version=row.credential_version,
            primary_reviewer=row.primary_reviewer,
            second_reviewer=row.second_reviewer,
            primary_levels=tuple(row.primary_levels),
            second_levels=tuple(row.second_levels),
            primary_decision=_decision(row.primary_decision),
            second_decision=_decision(row.second_decision),
            adjudicator=row.adjudicator,
            adjudicated_levels=None if row.adjudicated_levels is None else tuple(row.adjudicated_levels),
            adjudicated_decision=None if row.adjudicated_decision is None else _decision(row.adjudicated_decision),
        )


def _decision(value: str) -> Decision:
    return "passed" if value == "passed" else "revise"


def _seat_role(value: str | None) -> SeatRole:
    if value == "second":
        return "second"
    if value == "adjudicator":
        return "adjudicator"
    return "primary"
