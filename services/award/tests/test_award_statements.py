"""What issuing an award costs award's database, on the real PostgreSQL: the statements each use case sends,
counted by a SQLAlchemy ``before_cursor_execute`` listener, with the outcome checked beside them.

The repositories speak Core to the tables (see adapters/repository.py), so these tests are also where their
statements meet a real database: the issuing path, a version that issues several waiting awards, a change of
standing (row and status list locked, list re-signed) and a stack completed by an award in the same transaction.

Each test runs in a database of its own on an embedded PostgreSQL, migrated to head (as licensure's
test_award_statements.py does), so the counts are exactly what the test did.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from microcred.award.adapters.orm import messaging
from microcred.award.domain.model import AwardStatus, Standing
from microcred.award.service_layer import handlers
from microcred.award.service_layer.signing import IssuingAuthority
from microcred.award.service_layer.unit_of_work import AwardUnitOfWork
from microcred.events import CredentialPublished, StackChanged
from microcred.runtime.auth import Principal, Role
from microcred.runtime.testing import counted_statements, embedded_postgres_socket, migrated_engine

pytestmark = pytest.mark.stack

MIGRATIONS = "microcred.award:migrations"
OPERATOR = Principal(subject="ops", roles=frozenset({Role.OPERATOR}))

# What a passed score sends once its submitted attempt and credential version are known, by statement: the
# issuer's signing key and status list already exist (an earlier award made them).
ISSUING = {
    "inbox": 1, "advisory lock": 2, "insert awards": 1, "select credential_versions": 1,
    "select submitted_attempts": 1, "select status_lists": 1, "insert status_allocations": 1,
    "select signing_keys": 1, "update awards": 1, "select collections": 1, "outbox": 1,
}


@pytest.fixture(scope="module")
def socket_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return embedded_postgres_socket(tmp_path_factory.mktemp("award-statements-pg"))


@pytest.fixture
async def engine(socket_dir: str) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(socket_dir, MIGRATIONS) as engine:
        yield engine


@pytest.fixture
def uow(engine: AsyncEngine) -> AwardUnitOfWork:
    return AwardUnitOfWork(async_sessionmaker(engine, expire_on_commit=False), messaging, "award")




async def outbox_types(engine: AsyncEngine) -> Counter[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(sa.text("SELECT headers->>'ce_type' FROM outbox"))
        return Counter(row[0] for row in rows)


async def award_of(engine: AsyncEngine, submission_id: UUID) -> UUID:
    async with engine.connect() as connection:
        found = (await connection.execute(
            sa.text("SELECT award_id FROM awards WHERE submission_id = :s"), {"s": submission_id})).scalar()
    assert isinstance(found, UUID)
    return found


async def submit(uow: AwardUnitOfWork, authority: IssuingAuthority, build: Any, published: CredentialPublished,
                 teacher_id: str = "teacher-42") -> Any:
    """A passed score's submitted attempt, recorded; the score itself is returned, not yet handled."""
    score = build.scored(published, teacher_id=teacher_id)
    await handlers.record_submitted_attempt(build.submitted(score), uow, authority)
    return score


async def test_a_passed_score_issues_its_award_reading_each_thing_once(
        uow: AwardUnitOfWork, authority: IssuingAuthority, build: Any, engine: AsyncEngine) -> None:
    published = build.published()
    await handlers.record_credential_version(published, uow, authority)
    # The first award of an issuer creates its signing key and opens its status lists.
    await handlers.award_passed_submission(await submit(uow, authority, build, published), uow, authority)
    score = await submit(uow, authority, build, published, teacher_id="teacher-43")
    before = await outbox_types(engine)

    async with counted_statements(engine) as seen:
        await handlers.award_passed_submission(score, uow, authority)

    assert dict(seen) == ISSUING
    assert sum(seen.values()) == 12
    assert await outbox_types(engine) - before == Counter({"award.awarded.v1": 1})
    async with uow:
        award = await uow.awards.get(await award_of(engine, score.submission_id))
        assert award is not None and award.status is AwardStatus.ISSUED and award.credential is not None
        assert award.status_list == 0 and award.status_index is not None
        report = await authority.verify(uow, award.credential)
    assert report.verified and report.revoked is False and report.suspended is False


async def test_a_version_arriving_last_issues_every_waiting_award_and_reads_itself_once(
        uow: AwardUnitOfWork, authority: IssuingAuthority, build: Any, engine: AsyncEngine) -> None:
    published = build.published()
    scores = [await submit(uow, authority, build, published, teacher_id=f"teacher-{n}") for n in range(3)]
    for score in scores:
        await handlers.award_passed_submission(score, uow, authority)
    assert await outbox_types(engine) == Counter(), "pending until the version arrives"

    async with counted_statements(engine) as seen:
        await handlers.record_credential_version(published, uow, authority)

    # The version is read once for the three awards (3 times before: the identity map had let go of its row by
    # the next award); each award's attempt once.
    assert seen["select credential_versions"] == 1
    assert seen["select submitted_attempts"] == 3
    assert seen["update awards"] == 3
    assert await outbox_types(engine) == Counter({"award.awarded.v1": 3})


async def test_a_suspension_locks_the_award_and_its_list_and_verification_reads_it(
        uow: AwardUnitOfWork, authority: IssuingAuthority, build: Any, engine: AsyncEngine) -> None:
    published = build.published()
    await handlers.record_credential_version(published, uow, authority)
    score = await submit(uow, authority, build, published)
    await handlers.award_passed_submission(score, uow, authority)
    award_id = await award_of(engine, score.submission_id)

    async with counted_statements(engine) as seen:
        changed = await handlers.change_standing(award_id, "suspend", "under review", OPERATOR, uow, authority)

    assert changed.standing is Standing.SUSPENDED
    # The award row FOR UPDATE, then the revocation list (unchanged) and the suspension list (set and re-signed).
    assert seen["select awards for update"] == 1 and seen["select status_lists for update"] == 2
    assert seen["update status_lists"] == 1 and seen["update awards"] == 1
    async with uow:
        award = await uow.awards.get(award_id)
        assert award is not None and award.standing is Standing.SUSPENDED and award.credential is not None
        report = await authority.verify(uow, award.credential)
    assert report.suspended is True and report.revoked is False and not report.verified


async def test_the_award_that_completes_a_stack_issues_the_stack_in_its_transaction(
        uow: AwardUnitOfWork, authority: IssuingAuthority, build: Any, engine: AsyncEngine) -> None:
    issuer = build.published().issuer
    first, second = build.published(issuer=issuer), build.published(issuer=issuer)
    for published in (first, second):
        await handlers.record_credential_version(published, uow, authority)
    await handlers.record_stack(StackChanged(
        correlation_id=uuid4(), stack_id=UUID(int=7), revision=1, issuer_id=issuer.issuer_id, name="Both",
        description="Both halves.", credential_ids=(first.credential_id, second.credential_id), active=True,
    ), uow, authority)
    await handlers.award_passed_submission(await submit(uow, authority, build, first), uow, authority)
    assert await outbox_types(engine) == Counter({"award.awarded.v1": 1})

    await handlers.award_passed_submission(await submit(uow, authority, build, second), uow, authority)

    assert await outbox_types(engine) == Counter({"award.awarded.v1": 2, "award.collection-awarded.v1": 1})
    async with engine.connect() as connection:
        stack = (await connection.execute(sa.text(
            "SELECT status, component_award_ids, credential FROM awards WHERE kind = 'stack'"))).one()
    assert stack.status == "issued" and len(stack.component_award_ids) == 2 and stack.credential is not None
