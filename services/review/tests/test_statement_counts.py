"""The SQL statements review's per-submission use cases send, counted on the real PostgreSQL.

Each test runs in a database of its own on an embedded PostgreSQL, migrated to head, through review's own use cases
and unit of work; ``SentStatements`` records everything the connection sends, transaction control included.

What the counts hold down: a review is read once per use case and written as one INSERT, or one UPDATE of the
columns that changed (no SELECT by key before either, as the ORM's ``session.get`` and flush sent); a reviewer's
poll is one statement. The locks stay: the routing lock in every writer, FOR UPDATE on the panel it scores.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

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
)
from microcred.review.adapters.orm import messaging
from microcred.review.adapters.repository import CredentialRubrics
from microcred.review.domain.listing import AssignedListing
from microcred.review.domain.model import CredentialRubric, DoubleScoringPolicy
from microcred.review.service_layer import handlers
from microcred.review.service_layer.handlers import CriterionScore, ScoreReview, UpsertReviewer
from microcred.review.service_layer.unit_of_work import ReviewUnitOfWork
from microcred.runtime.auth import Principal, Role
from microcred.runtime.testing import SentStatements, embedded_postgres_socket, migrated_engine, statement_kind

pytestmark = pytest.mark.stack

MIGRATIONS = "microcred.review:migrations"
DUE_IN = timedelta(days=14)
LEVELS = (RubricLevel(key="not-yet", name="Not Yet", points=0),
          RubricLevel(key="proficient", name="Proficient", points=1))
RUBRIC = Rubric(criteria=(RubricCriterion(key="planning", name="Planning", levels=LEVELS),),
                passing_rule=PassingRule(kind="all_criteria_at_least", level="proficient"))
CALIBRATE_ALL = DoubleScoringPolicy(calibration_size=1000, share=0.0)


@pytest.fixture(scope="module")
def socket_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return embedded_postgres_socket(tmp_path_factory.mktemp("review-statements-pg"))


@pytest.fixture
async def engine(socket_dir: str) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(socket_dir, MIGRATIONS) as engine:
        yield engine


@pytest.fixture
def uow(engine: AsyncEngine) -> ReviewUnitOfWork:
    return ReviewUnitOfWork(async_sessionmaker(engine, expire_on_commit=False), messaging, "review")


async def counted(sent: SentStatements) -> Counter[str]:
    return Counter(statement_kind(s) for s in await sent.read())


def published(credential_id: UUID) -> CredentialPublished:
    return CredentialPublished(
        correlation_id=uuid4(), credential_id=credential_id, version=1,
        issuer=IssuerProfile(issuer_id=uuid4(), name="Issuer"), name="Credential", description="d",
        competency="c", key_method="k", method_components=("m",), research=(Resource(title="r"),),
        submission_criteria=SubmissionCriteria.model_validate({"items": [{"key": "v", "kind": "video", "title": "V"}]}),
        rubric=RUBRIC,
    )


def submitted(credential_id: UUID) -> SubmissionSubmitted:
    return SubmissionSubmitted(
        correlation_id=uuid4(), submission_id=uuid4(), attempt=1, credential_id=credential_id,
        credential_version=1, teacher_id="teacher-1",
        evidence=(EvidenceRef(evidence_id=uuid4(), requirement_key="v", object_key="k", filename="v.mp4",
                              content_type="video/mp4", size_bytes=10, sha256="0" * 64),),
    )


def reviewer(name: str) -> Principal:
    return Principal(subject=name, roles=frozenset({Role.REVIEWER}))


def marks(level: str) -> ScoreReview:
    return ScoreReview(results=[CriterionScore(criterion_key="planning", level_key=level, feedback="Say why.")])


async def open_work(engine: AsyncEngine, sent: SentStatements) -> dict[str, int]:
    """Each reviewer's open-work counter (the trigger's), read aside: its statements are not the use cases'."""
    async with engine.connect() as connection:
        rows = await connection.execute(sa.text("SELECT reviewer_id, open_reviews FROM reviewers"))
        found = {r.reviewer_id: r.open_reviews for r in rows}
    await sent.read()
    return found


# A submitted attempt, single scored, with its credential known and a reviewer free: the claim, the routing lock,
# whether the attempt exists or was withdrawn, the version's rubric (its first reading in the process, which keeps
# it from then on), the review's INSERT; then the drain reads the queue, which versions are known, the panels, the
# least-loaded reviewers, and assigns with one UPDATE.
OPEN_SINGLE = {
    "begin": 1, "inbox": 1, "advisory lock": 1, "select reviews": 3, "select withdrawn_attempts": 1,
    "select credential_versions": 2, "insert reviews": 1, "select reviewers": 1, "update reviews": 1,
    "outbox": 1, "commit": 1,
}
# The poll of a reviewer's assigned work: the page and its total in one statement, without a transaction.
POLL = {"select reviews": 1}
# A single-scored seat: the routing lock, the panel locked, the scores written (the rubric kept since the
# opening); the drain finds an empty queue.
SCORE_SINGLE = {
    "begin": 1, "advisory lock": 1, "select reviews for update": 2,
    "update reviews": 1, "select reviews": 1, "outbox": 1, "commit": 1,
}


async def test_a_single_scored_submission_sends_one_write_per_review_change(
        engine: AsyncEngine, uow: ReviewUnitOfWork) -> None:
    credential_id = uuid4()
    await handlers.record_credential(published(credential_id), uow, DUE_IN)
    await handlers.upsert_reviewer("ann", UpsertReviewer(credential_ids=None, max_open=5), uow, DUE_IN)
    async with SentStatements(engine) as sent:
        event = submitted(credential_id)
        await handlers.open_review(event, uow, DUE_IN)
        assert await counted(sent) == OPEN_SINGLE
        assert await open_work(engine, sent) == {"ann": 1}

        page = await handlers.assigned_page("ann", AssignedListing(limit=20), uow)
        assert await counted(sent) == POLL
        assert page.total == 1 and [r.submission_id for r in page.reviews] == [event.submission_id]

        scored = await handlers.score_review(page.reviews[0].review_id, marks("proficient"), reviewer("ann"), uow,
                                             DUE_IN)
        assert await counted(sent) == SCORE_SINGLE
        assert scored.scorecard is not None and scored.scorecard.decision == "passed"
        assert await open_work(engine, sent) == {"ann": 0}


def set_columns(update: str) -> list[str]:
    """The columns an UPDATE sets, in the order it names them (``SentStatements`` upper-cases the text)."""
    return [c.lower() for c in re.findall(r"(\w+)=\$\d+", update.split(" SET ", 1)[1].split(" WHERE ", 1)[0])]


async def test_each_seat_update_sets_only_the_columns_that_changed(engine: AsyncEngine, uow: ReviewUnitOfWork) -> None:
    # One prebuilt UPDATE serves every save: its SET list comes from the values given at execution, so an assignment
    # and a score must each still name only what they changed, keyed on the seat.
    credential_id = uuid4()
    await handlers.record_credential(published(credential_id), uow, DUE_IN)
    await handlers.upsert_reviewer("ann", UpsertReviewer(credential_ids=None, max_open=5), uow, DUE_IN)
    async with SentStatements(engine) as sent:
        await handlers.open_review(submitted(credential_id), uow, DUE_IN)
        page = await handlers.assigned_page("ann", AssignedListing(), uow)
        await handlers.score_review(page.reviews[0].review_id, marks("not-yet"), reviewer("ann"), uow, DUE_IN)
        updates = [s for s in await sent.read() if s.startswith("UPDATE REVIEWS")]
    assert [set_columns(u) for u in updates] == [
        ["status", "reviewer_id", "assigned_at", "due_at"],
        ["status", "scored_at", "decision", "total_points", "results", "revision_feedback"],
    ]
    assert all(u.endswith(f"WHERE REVIEWS.REVIEW_ID = ${len(set_columns(u)) + 1}::UUID") for u in updates)


# Double scored (calibration): the attempts of the version counted too, both seats inserted (one statement each),
# both assigned (one UPDATE each), and two events in the outbox, both rows in one executemany (one round trip).
OPEN_DOUBLE = {
    "begin": 1, "inbox": 1, "advisory lock": 1, "select reviews": 4, "select withdrawn_attempts": 1,
    "select credential_versions": 2, "insert reviews": 2, "select reviewers": 1, "update reviews": 2,
    "outbox": 1, "commit": 1,
}


async def test_a_double_scored_submission_writes_each_seat_once_per_change(
        engine: AsyncEngine, uow: ReviewUnitOfWork) -> None:
    credential_id = uuid4()
    await handlers.record_credential(published(credential_id), uow, DUE_IN)
    for name in ("ann", "ben"):
        await handlers.upsert_reviewer(name, UpsertReviewer(credential_ids=None, max_open=5), uow, DUE_IN)
    async with SentStatements(engine) as sent:
        await handlers.open_review(submitted(credential_id), uow, DUE_IN, double_scoring=CALIBRATE_ALL)
        assert await counted(sent) == OPEN_DOUBLE
        assert await open_work(engine, sent) == {"ann": 1, "ben": 1}


async def test_a_new_reviewer_takes_waiting_work_and_the_counter_sees_it(
        engine: AsyncEngine, uow: ReviewUnitOfWork) -> None:
    # The seat's UPDATE runs at once (Core) while the new reviewer's row is the ORM's to write: the reviewer must be
    # in the table before the trigger on reviews counts the seat for them, and the reviewer returned must count it.
    credential_id = uuid4()
    await handlers.record_credential(published(credential_id), uow, DUE_IN)
    await handlers.open_review(submitted(credential_id), uow, DUE_IN)
    async with SentStatements(engine) as sent:
        joined = await handlers.upsert_reviewer("dee", UpsertReviewer(credential_ids=None, max_open=2), uow, DUE_IN)
        assert (await counted(sent))["update reviews"] == 1
        assert joined.open_reviews == 1
        assert await open_work(engine, sent) == {"dee": 1}


async def test_a_version_is_kept_for_the_process_only_from_a_transaction_that_did_not_record_it(
        engine: AsyncEngine) -> None:
    # Recorded and read in one transaction that rolls back (a batch that fell back): had the read been kept, the
    # next delivery would find the version "known" and never record it.
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    rubrics = CredentialRubrics()
    first = ReviewUnitOfWork(sessions, messaging, "review", credential_rubrics=rubrics)
    second = ReviewUnitOfWork(sessions, messaging, "review", credential_rubrics=rubrics)
    version = CredentialRubric(uuid4(), 1, "Credential", RUBRIC)
    async with first:
        await first.credentials.add(version)
        assert await first.credentials.get(version.credential_id, 1) == version
    async with second:
        assert await second.credentials.get(version.credential_id, 1) is None
        await second.credentials.add(version)
        await second.commit()
    async with SentStatements(engine) as sent:
        async with first:
            assert await first.credentials.get(version.credential_id, 1) == version  # read, and kept
        async with second:
            assert await second.credentials.get(version.credential_id, 1) == version  # from the process
        assert (await counted(sent))["select credential_versions"] == 1
