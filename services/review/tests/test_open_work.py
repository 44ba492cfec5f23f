"""Review's per-reviewer open-work counter (``reviewers.open_reviews``, migration 0009) against the aggregate it
replaced, on the real PostgreSQL: after every kind of change a seat goes through, through review's own use cases
and unit of work, and under concurrent writers.

Each test runs in a database of its own on an embedded PostgreSQL, migrated to head (as test_listing.py does), so
the counts are exactly what the test did.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from microcred.events import (
    CredentialPublished,
    EvidenceRef,
    IssuerProfile,
    PassingRule,
    Resource,
    Rubric,
    RubricCriterion,
    RubricLevel,
    SubmissionCriteria,
    SubmissionSubmitted,
    SubmissionWithdrawn,
)
from microcred.review.adapters.orm import ReviewRow, messaging
from microcred.review.domain.listing import AssignedListing
from microcred.review.domain.model import DoubleScoringPolicy
from microcred.review.service_layer import handlers
from microcred.review.service_layer.handlers import CriterionScore, DeclineReview, ScoreReview, UpsertReviewer
from microcred.review.service_layer.unit_of_work import ReviewUnitOfWork
from microcred.runtime.auth import Principal, Role
from microcred.runtime.migrations import upgrade
from microcred.runtime.testing import embedded_postgres_socket, new_database

pytestmark = pytest.mark.stack

MIGRATIONS = "microcred.review:migrations"
DUE_IN = timedelta(days=14)
CALIBRATE_ALL = DoubleScoringPolicy(calibration_size=1000, share=0.0)
LEVELS = (RubricLevel(key="not-yet", name="Not Yet", points=0),
          RubricLevel(key="proficient", name="Proficient", points=1))
RUBRIC = Rubric(criteria=(RubricCriterion(key="planning", name="Planning", levels=LEVELS),),
                passing_rule=PassingRule(kind="all_criteria_at_least", level="proficient"))

# Each reviewer's counter beside the count it stands for, and every reviewer's, in one statement (one snapshot).
COUNTS = sa.text(
    "SELECT r.reviewer_id, r.open_reviews, "
    "(SELECT count(*) FROM reviews v WHERE v.reviewer_id = r.reviewer_id AND v.status = 'assigned') AS counted "
    "FROM reviewers r ORDER BY r.reviewer_id"
)


@pytest.fixture(scope="module")
def socket_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return embedded_postgres_socket(tmp_path_factory.mktemp("review-open-work-pg"))


@pytest.fixture
async def database_url(socket_dir: str) -> str:
    return await new_database(socket_dir)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(upgrade, database_url, MIGRATIONS)
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def uow(engine: AsyncEngine) -> ReviewUnitOfWork:
    return ReviewUnitOfWork(async_sessionmaker(engine, expire_on_commit=False), messaging, "review")


async def loads(engine: AsyncEngine) -> dict[str, int]:
    """Every reviewer's counter, after checking it equals the aggregate over their open seats."""
    async with engine.connect() as connection:
        rows = (await connection.execute(COUNTS)).all()
    assert [(r.reviewer_id, r.open_reviews) for r in rows] == [(r.reviewer_id, r.counted) for r in rows]
    return {r.reviewer_id: r.open_reviews for r in rows}


def published(credential_id: UUID) -> CredentialPublished:
    return CredentialPublished(
        correlation_id=uuid4(), credential_id=credential_id, version=1,
        issuer=IssuerProfile(issuer_id=uuid4(), name="Issuer"), name="Credential", description="d",
        competency="c", key_method="k", method_components=("m",), research=(Resource(title="r"),),
        submission_criteria=SubmissionCriteria.model_validate({"items": [{"key": "v", "kind": "video", "title": "V"}]}),
        rubric=RUBRIC,
    )


def submitted(credential_id: UUID, submission_id: UUID | None = None, attempt: int = 1) -> SubmissionSubmitted:
    return SubmissionSubmitted(
        correlation_id=uuid4(), submission_id=submission_id or uuid4(), attempt=attempt, credential_id=credential_id,
        credential_version=1, teacher_id="teacher-1",
        evidence=(EvidenceRef(evidence_id=uuid4(), requirement_key="v", object_key="k", filename="v.mp4",
                              content_type="video/mp4", size_bytes=10, sha256="0" * 64),),
    )


def reviewer(name: str) -> Principal:
    return Principal(subject=name, roles=frozenset({Role.REVIEWER}))


def marks(level: str) -> ScoreReview:
    return ScoreReview(results=[CriterionScore(criterion_key="planning", level_key=level, feedback="Say why.")])


async def seats(engine: AsyncEngine, submission_id: UUID) -> dict[str, tuple[UUID, str]]:
    """Who holds a seat of the submission's attempts: reviewer -> (the attempt's review id, role)."""
    async with engine.connect() as connection:
        rows = (await connection.execute(sa.text(
            "SELECT coalesce(parent_review_id, review_id) AS attempt_review, reviewer_id, role FROM reviews "
            "WHERE submission_id = :s AND status = 'assigned'"), {"s": submission_id})).all()
    return {r.reviewer_id: (r.attempt_review, r.role) for r in rows}


async def test_the_migration_starts_each_counter_at_the_reviewers_open_seats(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url, MIGRATIONS, "0008")
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            for name in ("busy", "idle"):
                await connection.execute(sa.text(
                    "INSERT INTO reviewers (reviewer_id, credential_ids, max_open, active) VALUES (:r, NULL, 5, true)"),
                    {"r": name})
            for status, holder in [("assigned", "busy"), ("assigned", "busy"), ("scored", "busy"), ("scored", "idle"),
                                   ("withdrawn", "idle"), ("queued", None)]:
                await connection.execute(sa.insert(ReviewRow).values(
                    review_id=uuid4(), submission_id=uuid4(), attempt=1, credential_id=uuid4(), credential_version=1,
                    teacher_id="t", states=["TN"], evidence=[], status=status, reviewer_id=holder,
                    created_at=datetime.now(UTC)))
        await asyncio.to_thread(upgrade, database_url, MIGRATIONS)
        assert await loads(engine) == {"busy": 2, "idle": 0}
    finally:
        await engine.dispose()


async def test_the_counter_equals_the_open_seats_after_every_kind_of_change(
        engine: AsyncEngine, uow: ReviewUnitOfWork) -> None:
    credential_id = uuid4()
    for name in ("ann", "ben"):
        await handlers.upsert_reviewer(name, UpsertReviewer(credential_ids=None, max_open=2), uow, DUE_IN)
    assert await loads(engine) == {"ann": 0, "ben": 0}

    # Submitted before its credential is known: queued, nobody's work yet.
    waiting = submitted(credential_id)
    await handlers.open_review(waiting, uow, DUE_IN)
    assert await loads(engine) == {"ann": 0, "ben": 0}
    # The credential arrives: the queue drains (an assignment made by another use case than the opening one).
    await handlers.record_credential(published(credential_id), uow, DUE_IN)
    assert sum((await loads(engine)).values()) == 1

    # A double-scored attempt: two seats opened and assigned in one transaction.
    double = submitted(credential_id)
    await handlers.open_review(double, uow, DUE_IN, double_scoring=CALIBRATE_ALL)
    assert sum((await loads(engine)).values()) == 3

    # One more fills both reviewers (2 seats each), and the next waits in the queue.
    await handlers.open_review(submitted(credential_id), uow, DUE_IN)
    queued = submitted(credential_id)
    await handlers.open_review(queued, uow, DUE_IN)
    assert await loads(engine) == {"ann": 2, "ben": 2}

    # Raising capacity assigns from the queue.
    updated = await handlers.upsert_reviewer("ann", UpsertReviewer(credential_ids=None, max_open=3), uow, DUE_IN)
    assert await loads(engine) == {"ann": 3, "ben": 2}
    assert updated.open_reviews == 3  # the reviewer returned counts the seat the drain just gave her

    # Disagreeing scores of the double-scored attempt: both seats close, an adjudicator's seat opens for a senior.
    await handlers.upsert_reviewer("cat", UpsertReviewer(credential_ids=None, senior=True, max_open=1), uow, DUE_IN)
    panel = await seats(engine, double.submission_id)
    assert set(panel) == {"ann", "ben"}
    review_id = panel["ann"][0]
    await handlers.score_review(review_id, marks("proficient"), reviewer("ann"), uow, DUE_IN)
    assert await loads(engine) == {"ann": 2, "ben": 2, "cat": 0}
    await handlers.score_review(review_id, marks("not-yet"), reviewer("ben"), uow, DUE_IN)
    assert await loads(engine) == {"ann": 2, "ben": 1, "cat": 1}
    await handlers.score_review(review_id, marks("not-yet"), reviewer("cat"), uow, DUE_IN)
    assert await loads(engine) == {"ann": 2, "ben": 1, "cat": 0}

    # A decline: the seat leaves its reviewer and goes to someone else in the same transaction.
    (declined_by, (declined, _)), *_ = (await seats(engine, waiting.submission_id)).items()
    await handlers.decline_review(declined, DeclineReview(reason="I know the teacher."), reviewer(declined_by), uow,
                                  DUE_IN)
    after_decline = await loads(engine)
    assert after_decline[declined_by] == {"ann": 2, "ben": 1}[declined_by] - 1
    assert sum(after_decline.values()) == 3

    # A withdrawal voids an open seat.
    holder, _ = next(iter((await seats(engine, queued.submission_id)).items()))
    before = await loads(engine)
    await handlers.withdraw_review(
        SubmissionWithdrawn(correlation_id=uuid4(), submission_id=queued.submission_id, attempt=1, teacher_id="teacher-1",
                            reason="moved"),
        uow, DUE_IN)
    assert (await loads(engine))[holder] == before[holder] - 1

    # Overdue seats are taken back and rerouted (here each to nobody else free, or back into the queue).
    overdue = submitted(credential_id)
    await handlers.open_review(overdue, uow, timedelta(seconds=-1))
    assert sum((await loads(engine)).values()) == sum(before.values())
    taken_back = await handlers.sweep_overdue(uow, DUE_IN, handlers.Cause(uuid4()))
    assert taken_back == 1
    await loads(engine)

    # A seat's row deleted outright (no use case does this; an operator's repair might) moves the count too.
    async with engine.begin() as connection:
        await connection.execute(sa.text("DELETE FROM reviews WHERE submission_id = :s"), {"s": overdue.submission_id})
    assert sum((await loads(engine)).values()) == sum(before.values()) - 1

    # A seat handed to someone else without its status changing (an ORM flush of a release and a reassignment
    # together would write just the reviewer): one counter down, the other up.
    counts = await loads(engine)
    giver = next(name for name, n in counts.items() if n)
    taker = next(name for name in counts if name != giver)
    async with engine.begin() as connection:
        await connection.execute(sa.text(
            "UPDATE reviews SET reviewer_id = :taker WHERE review_id = (SELECT review_id FROM reviews "
            "WHERE reviewer_id = :giver AND status = 'assigned' LIMIT 1)"), {"taker": taker, "giver": giver})
    assert await loads(engine) == counts | {giver: counts[giver] - 1, taker: counts[taker] + 1}


async def test_the_counter_stays_exact_under_concurrent_routing_and_concurrent_writers(
        engine: AsyncEngine, uow: ReviewUnitOfWork) -> None:
    credential_id = uuid4()
    await handlers.record_credential(published(credential_id), uow, DUE_IN)
    for n in range(4):
        await handlers.upsert_reviewer(f"rush-{n}", UpsertReviewer(credential_ids=[credential_id], max_open=50), uow,
                                       DUE_IN)
    factory = async_sessionmaker(engine, expire_on_commit=False)

    def fresh() -> ReviewUnitOfWork:
        return ReviewUnitOfWork(factory, messaging, "review")

    # Routing from many transactions at once: the routing lock serialises them, and the counter follows.
    await asyncio.gather(*(handlers.open_review(submitted(credential_id), fresh(), DUE_IN) for _ in range(24)))
    counts = await loads(engine)
    assert sum(counts[f"rush-{n}"] for n in range(4)) == 24

    # Writers that do not take the routing lock (an operator's UPDATE closing seats): the trigger's update of the
    # reviewer's row waits for the row lock another writer holds, so no decrement is lost. Two transactions per
    # reviewer, each touching that one reviewer's counter (two counters per transaction could deadlock).
    async def close(review_ids: list[UUID]) -> None:
        async with engine.begin() as connection:
            for review_id in review_ids:
                await connection.execute(sa.text("UPDATE reviews SET status = 'scored' WHERE review_id = :id"),
                                         {"id": review_id})
                await asyncio.sleep(0.01)

    async with engine.connect() as connection:
        held = (await connection.execute(sa.text(
            "SELECT reviewer_id, review_id FROM reviews WHERE credential_id = :c AND status = 'assigned'"),
            {"c": credential_id})).all()
    by_reviewer: dict[str, list[UUID]] = {}
    for reviewer_id, review_id in held:
        by_reviewer.setdefault(reviewer_id, []).append(review_id)
    await asyncio.gather(*(close(ids[half::2]) for ids in by_reviewer.values() for half in (0, 1)))
    assert await loads(engine) == {f"rush-{n}": 0 for n in range(4)}


async def in_transaction(uow: ReviewUnitOfWork) -> bool:
    """Whether the connection the unit of work holds has a transaction open on the server (a BEGIN was sent)."""
    raw = await (await uow.session.connection()).get_raw_connection()
    return bool(raw.driver_connection.is_in_transaction())  # type: ignore[union-attr]


async def test_the_reviewers_reads_send_no_begin_and_a_page_carries_its_total(
        engine: AsyncEngine, uow: ReviewUnitOfWork) -> None:
    credential_id = uuid4()
    await handlers.record_credential(published(credential_id), uow, DUE_IN)
    await handlers.upsert_reviewer("ann", UpsertReviewer(credential_ids=None, max_open=5), uow, DUE_IN)
    for _ in range(3):
        await handlers.open_review(submitted(credential_id), uow, DUE_IN)

    async with uow:  # the control: a unit of work that does not leave the transaction out has one
        await uow.reviews.assigned_summary("ann", datetime.now(UTC), datetime.now(UTC))
        assert await in_transaction(uow)

    async with uow:
        await uow.without_transaction()
        now = datetime.now(UTC)
        assert (await uow.reviews.assigned_summary("ann", now, now)).open == 3
        pages = [await uow.reviews.assigned_page("ann", AssignedListing(limit=2, offset=offset), now)
                 for offset in (0, 2, 4)]
        assert not await in_transaction(uow)
        with pytest.raises(RuntimeError):
            await uow.commit()
    assert [(len(p.reviews), p.total) for p in pages] == [(2, 3), (1, 3), (0, 3)]  # past the end: still counted
    assert len({r.review_id for p in pages for r in p.reviews}) == 3
    whole = await handlers.assigned_page("ann", AssignedListing(), uow)
    assert (len(whole.reviews), whole.total) == (3, 3)
    async with uow:  # the connection went back to the pool with its level put back: the next unit of work has one
        await uow.reviews.assigned_summary("ann", datetime.now(UTC), datetime.now(UTC))
        assert await in_transaction(uow)
