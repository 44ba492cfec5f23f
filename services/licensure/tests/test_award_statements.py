"""What handling one CredentialAwarded costs licensure's database, on the real PostgreSQL: the statements it sends,
counted by a SQLAlchemy ``before_cursor_execute`` listener, with the outcome checked beside them.

The award path reads each thing once per transaction: the teacher's licenses (settling and the recognitions),
whether the award is revoked and its status changes (shared by the teacher's licenses), the webhook
subscriptions of a (state, district) (shared by every feed record of the transaction), and no decision of a
license on an award this transaction just added. A read that comes back fails these counts.

Each test runs in a database of its own on an embedded PostgreSQL, migrated to head (as review's test_open_work.py
does), so the counts are exactly what the test did.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from microcred.events import CredentialAwarded, CredentialRevoked
from microcred.licensure.adapters.orm import messaging
from microcred.licensure.adapters.rule_files import shipped_rule_sets
from microcred.licensure.adapters.webhook_tables import WebhookDeliveryRow
from microcred.licensure.domain.recognition import Program
from microcred.licensure.service_layer import handlers, webhooks
from microcred.licensure.service_layer.unit_of_work import LicensureUnitOfWork
from microcred.runtime.auth import Principal, Role
from microcred.runtime.testing import counted_statements, embedded_postgres_socket, migrated_engine

pytestmark = pytest.mark.stack

MIGRATIONS = "microcred.licensure:migrations"
OPERATOR = Principal(subject="ops", roles=frozenset({Role.OPERATOR}))
TEACHER = "teacher-statements"
# Every credential earns the teacher a TN incentive: the award appends a recognition, which the feed announces.
INCENTIVE = Program.model_validate({
    "program_id": "TN-INCENTIVE", "version": 1, "state": "TN", "name": "Incentive", "effective_from": "2024-01-01",
    "outcome": {"kind": "incentive", "label": "Bonus", "amount": "500", "unit": "USD"},
    "rule": {"kind": "incentive_per_credential", "from_set": {"any_credential": True}},
})

# What one award for a teacher licensed in TN (district Knox) and UT sends, by statement. "outbox" is one
# executemany of every event of the transaction (the runtime's UnitOfWork.commit).
EXPECTED = {
    "inbox": 1, "advisory lock": 1, "insert awards": 1, "select licenses": 1,
    "select rule_sets": 2, "select ledger_entries": 2, "select revoked_awards": 1, "insert credit_claims": 2,
    "insert ledger_entries": 2, "select webhook_subscriptions": 2, "select award_status_changes": 1,
    "select recognition_reviews for update": 1, "select awards": 1, "select catalog_memberships": 1,
    "select recognition_entries": 1, "insert recognition_entries": 1, "outbox": 1,
}


@pytest.fixture(scope="module")
def socket_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return embedded_postgres_socket(tmp_path_factory.mktemp("licensure-statements-pg"))


@pytest.fixture
async def engine(socket_dir: str) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(socket_dir, MIGRATIONS) as engine:
        yield engine


@pytest.fixture
async def uow(engine: AsyncEngine) -> LicensureUnitOfWork:
    uow = LicensureUnitOfWork(async_sessionmaker(engine, expire_on_commit=False), messaging, "licensure")
    await handlers.sync_shipped_rule_sets(shipped_rule_sets(), uow)
    for state, district in (("TN", "Knox"), ("UT", None)):
        await handlers.register_license(handlers.RegisterLicense(
            teacher_id=TEACHER, state=state, license_number=f"{state}-1", license_type="Professional",
            cycle_start=date(2024, 7, 1), cycle_end=date(2029, 6, 30), district=district,
        ), OPERATOR, uow, [INCENTIVE])
    return uow




def awarded() -> CredentialAwarded:
    return CredentialAwarded(
        correlation_id=uuid.uuid4(), states=("TN", "UT"), award_id=uuid.uuid4(), submission_id=uuid.uuid4(),
        credential_id=uuid.uuid4(), credential_version=1, credential_name="Checking for Understanding",
        issuer_id=uuid.uuid4(), teacher_id=TEACHER, issued_at=datetime(2025, 3, 4, 15, 30, tzinfo=UTC),
        credential={"id": "urn:uuid:x"},
    )


async def outbox_types(engine: AsyncEngine) -> Counter[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(sa.text("SELECT headers->>'ce_type' FROM outbox"))
        return Counter(row[0] for row in rows)


async def test_one_award_for_a_teacher_with_two_licenses_reads_each_thing_once(
        uow: LicensureUnitOfWork, engine: AsyncEngine) -> None:
    before = await outbox_types(engine)
    async with counted_statements(engine) as seen:
        await handlers.post_credits(awarded(), uow, [INCENTIVE])

    assert dict(seen) == EXPECTED
    # 32 before: the licenses read 3 times, revoked_awards 2, award_status_changes 3, a decision (credit_claims)
    # looked up before each of the 2 inserts, webhook_subscriptions once per feed record (5).
    assert sum(seen.values()) == 22
    # The outcome: both licenses credited, and the recognition told to the TN license's state.
    written = await outbox_types(engine) - before
    assert written == Counter({
        "licensure.credit-posted.v1": 2, "licensure.state-record.v3": 5, "licensure.recognition-granted.v1": 1,
    }), written


async def test_a_redelivery_under_a_new_event_id_reads_the_decisions_and_decides_nothing_again(
        uow: LicensureUnitOfWork, engine: AsyncEngine) -> None:
    first = awarded()
    await handlers.post_credits(first, uow, [INCENTIVE])
    before = await outbox_types(engine)
    async with counted_statements(engine) as seen:
        await handlers.post_credits(first.model_copy(update={"event_id": uuid.uuid4()}), uow, [INCENTIVE])

    # The award was known, so each license's decision is read (and found): nothing is decided or written again.
    assert seen["select credit_claims"] == 2
    assert seen["insert credit_claims"] == seen["select webhook_subscriptions"] == 0
    assert await outbox_types(engine) == before


async def test_every_feed_record_of_the_transaction_reaches_a_subscription_looked_up_once(
        uow: LicensureUnitOfWork, engine: AsyncEngine) -> None:
    admin = Principal(subject="admin-tn", roles=frozenset({Role.STATE_ADMIN}), states=("TN",))
    for district in (None, "Knox", "Davidson"):
        await webhooks.subscribe(webhooks.Subscribe(state="TN", district=district, url="https://example.org/hook"),
                                 admin, uow, allow_http=False)
    async with counted_statements(engine) as seen:
        await handlers.post_credits(awarded(), uow, [INCENTIVE])

    assert seen["select webhook_subscriptions"] == 2  # (TN, Knox) and (UT, none)
    async with engine.connect() as connection:
        deliveries = (await connection.execute(sa.select(sa.func.count()).select_from(WebhookDeliveryRow))).scalar()
    # The TN license's three records (award, credit_posted, recognition_granted) to the state's and Knox's
    # subscriptions; Davidson's receives none, and UT has none.
    assert deliveries == 6


def revoked(award: CredentialAwarded, **overrides: Any) -> CredentialRevoked:
    return CredentialRevoked(
        correlation_id=uuid.uuid4(), states=award.states, award_id=award.award_id,
        achievement_id=award.credential_id, issuer_id=award.issuer_id, teacher_id=award.teacher_id,
        reason="plagiarised evidence", changed_at=datetime(2025, 5, 1, tzinfo=UTC), changed_by="ops", **overrides,
    )


async def test_a_revocation_reverses_each_posted_credit_once_and_the_report_shows_both_entries(
        uow: LicensureUnitOfWork, engine: AsyncEngine) -> None:
    award = awarded()
    await handlers.post_credits(award, uow, [INCENTIVE])
    before = await outbox_types(engine)
    async with counted_statements(engine) as seen:
        await handlers.record_revocation(revoked(award), uow, [INCENTIVE])

    # Each license's decision locked, its credit read, reversed and the balance read again; each rule set read once
    # for both what a revocation does (on_revocation) and what the license requires (4 before: the identity map,
    # being weak, had let go of the row between the two).
    assert seen["select credit_claims for update"] == 1 and seen["update credit_claims"] == 2
    assert seen["insert ledger_entries"] == 2 and seen["select rule_sets"] == 2
    written = await outbox_types(engine) - before
    assert written["licensure.credit-reversed.v1"] == 2, written
    report = await handlers.state_report("TN", date(2000, 1, 1), date(2100, 1, 1), OPERATOR, uow)
    assert [(row["entry"].kind.value, row["entry"].amount, row["license_number"], row["credential_id"])
            for row in report] == [("credit", Decimal(6), "TN-1", award.credential_id),
                                   ("reversal", Decimal(-6), "TN-1", award.credential_id)]

    again = await outbox_types(engine)
    await handlers.record_revocation(revoked(award).model_copy(update={"event_id": uuid.uuid4()}), uow, [INCENTIVE])
    assert await outbox_types(engine) == again, "a revocation heard again reverses nothing twice"


async def test_an_expired_award_is_announced_once_and_reversed_where_its_rule_set_says(
        uow: LicensureUnitOfWork, engine: AsyncEngine) -> None:
    await handlers.post_credits(awarded().model_copy(update={"valid_until": datetime(2025, 6, 1, tzinfo=UTC)}),
                                uow, [INCENTIVE])
    now = datetime(2026, 1, 1, tzinfo=UTC)

    # TN keeps an expired credential's credit, UT reverses it (the shipped rule sets).
    assert await handlers.sweep_expired_credentials(uow, now=now) == handlers.ExpirySweep(announced=2, reversed=1)
    assert await handlers.sweep_expired_credentials(uow, now=now) == handlers.ExpirySweep(announced=0, reversed=0)


async def test_a_district_poll_and_an_approval_read_and_write_each_thing_once(
        uow: LicensureUnitOfWork, engine: AsyncEngine) -> None:
    # AR holds every credit for the district's approval (the shipped rule set): the benchmark's district path.
    admin = Principal(subject="admin-pulaski", roles=frozenset({Role.DISTRICT_ADMIN}), states=("AR",),
                      district="Pulaski")
    await handlers.register_license(handlers.RegisterLicense(
        teacher_id="teacher-ar", state="AR", license_number="AR-1", license_type="Standard",
        cycle_start=date(2024, 7, 1), cycle_end=date(2029, 6, 30), district="Pulaski",
    ), OPERATOR, uow)
    award = awarded().model_copy(update={"teacher_id": "teacher-ar", "states": ("AR",)})
    await handlers.post_credits(award, uow)

    async with counted_statements(engine) as polled:
        pending = await handlers.pending_credits("AR", None, admin, uow, limit=500, offset=0)
    assert [(claim.award_id, license.license_number) for claim, license, _ in pending] == [(award.award_id, "AR-1")]
    assert dict(polled) == {"select credit_claims": 1, "select licenses": 1, "select awards": 1}

    claim, license, _ = pending[0]
    async with counted_statements(engine) as decided:
        approved = await handlers.decide_credit(claim.award_id, license.license_id,
                                                handlers.Decision(approve=True, reason="on plan"), admin, uow)
    assert approved.status.value == "posted"
    assert dict(decided) == {
        "select licenses": 1, "advisory lock": 1, "select credit_claims for update": 1, "select awards": 1,
        "select rule_sets": 1, "select ledger_entries": 1, "update credit_claims": 1, "insert ledger_entries": 1,
        "select webhook_subscriptions": 1, "outbox": 1,
    }
