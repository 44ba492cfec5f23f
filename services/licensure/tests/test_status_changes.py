"""Status changes in the state feeds: suspension, reinstatement, revocation and expiry, each told once to
every state whose licensee has a decision on the award, with what it did to that credit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from microcred.events import CredentialAwarded, StateFeedRecord
from microcred.licensure.domain.model import ClaimStatus, EntryKind, License
from microcred.licensure.service_layer.handlers import (
    RegisterLicense,
    post_credits,
    record_revocation,
    record_status_change,
    register_license,
    sweep_expired_credentials,
)
from microcred.runtime.auth import Principal, Role

STATUS_RECORDS = {"credential_suspended", "credential_reinstated", "credential_revoked", "credential_expired"}
EXPIRES = datetime(2026, 1, 1, tzinfo=UTC)


def statuses(uow: Any, license: License | None = None) -> list[StateFeedRecord]:
    return [r for r in uow.feed() if r.record_type in STATUS_RECORDS
            and (license is None or r.license_id == license.license_id)]


async def credited(uow: Any, build: Any, *, state: str = "TN", **award: Any) -> tuple[License, CredentialAwarded]:
    license = build.license(state=state, district="Pulaski County" if state == "AR" else None)
    await uow.licenses.add_once(license)
    awarded = build.awarded().model_copy(update=award)
    await post_credits(awarded, uow)
    return license, awarded


def credit_entry(uow: Any, license: License) -> Any:
    return next(e for e in uow.ledger.entries if e.license_id == license.license_id and e.kind is EntryKind.CREDIT)


# -- suspension and reinstatement --------------------------------------------------------------------------


async def test_suspending_a_credited_award_tells_the_state_its_credit_is_kept(uow: Any, build: Any) -> None:
    license, awarded = await credited(uow, build)
    suspended = build.suspended(awarded)
    await record_status_change(suspended, uow)

    (record,) = statuses(uow)
    assert (record.record_type, record.consequence, record.state) == ("credential_suspended", "kept", "TN")
    assert (record.license_number, record.credential_name, record.award_id) == (
        license.license_number, "Checking for Understanding", awarded.award_id)
    assert (record.reason, record.changed_at, record.changed_by) == (
        "evidence under review", suspended.changed_at, "admin-1")
    assert (record.entry_id, record.amount, record.unit) == (credit_entry(uow, license).entry_id, Decimal(6), "points")
    assert record.causation_id == suspended.event_id and record.event_version == 3
    assert [e.kind for e in uow.ledger.entries] == [EntryKind.CREDIT], "a suspension moves no credit"
    assert uow.webhooks.records[-1] == record, "the state's webhooks get the same record"


async def test_reinstating_a_credited_award_tells_the_state_its_credit_is_still_kept(uow: Any, build: Any) -> None:
    _, awarded = await credited(uow, build)
    await record_status_change(build.suspended(awarded), uow)
    await record_status_change(build.reinstated(awarded), uow)
    assert [(r.record_type, r.consequence, r.changed_by) for r in statuses(uow)] == [
        ("credential_suspended", "kept", "admin-1"), ("credential_reinstated", "kept", "admin-2")]
    assert len(uow.ledger.entries) == 1


async def test_a_status_change_delivered_twice_or_republished_is_announced_once(uow: Any, build: Any) -> None:
    _, awarded = await credited(uow, build)
    suspended = build.suspended(awarded)
    await record_status_change(suspended, uow)
    await record_status_change(suspended, uow)
    await record_status_change(suspended.model_copy(update={"event_id": uuid4()}), uow)
    assert len(statuses(uow)) == 1 and len(uow.webhooks.records) == 3  # award, credit_posted, suspended


async def test_suspending_a_pending_or_rejected_credit_is_told_with_no_consequence(build: Any, make_uow: Any) -> None:
    uow = make_uow(rule_sets=(build.ar_approval, build.tn))
    ar, awarded = await credited(uow, build, state="AR")
    # A TN license whose cycle starts after the award was earned: the award is rejected there.
    await register_license(
        RegisterLicense(state="TN", license_number="TN-late", license_type="Professional",
                        cycle_start="2026-01-01", cycle_end="2030-01-01", teacher_id="teacher-42"),
        Principal(subject="admin-tn", roles=frozenset({Role.STATE_ADMIN}), states=("TN",)), uow)
    await record_status_change(build.suspended(awarded), uow)
    claims = {c.license_id: c.status for c in await uow.claims.of_award(awarded.award_id)}
    assert claims[ar.license_id] is ClaimStatus.PENDING_APPROVAL
    assert ClaimStatus.REJECTED in claims.values()
    records = statuses(uow)
    assert {(r.state, r.consequence) for r in records} == {("AR", "none"), ("TN", "none")} and len(records) == 2
    assert all(r.entry_id is None and r.amount is None for r in records)


async def test_each_state_hears_of_its_own_licensees_only(build: Any, make_uow: Any) -> None:
    uow = make_uow(rule_sets=(build.tn, build.ut))
    tn, ut = build.license(state="TN"), build.license(state="UT")
    other = build.license(teacher_id="teacher-7", state="TN")
    for license in (tn, ut, other):
        await uow.licenses.add_once(license)
    awarded = build.awarded()
    await post_credits(awarded, uow)
    await post_credits(build.awarded(teacher_id="teacher-7"), uow)
    await record_status_change(build.suspended(awarded), uow)
    assert [r.license_id for r in statuses(uow) if r.state == "TN"] == [tn.license_id]
    assert [r.license_id for r in statuses(uow) if r.state == "UT"] == [ut.license_id]
    assert statuses(uow, other) == []


async def test_a_suspension_heard_before_its_award_is_told_when_the_award_is_decided(uow: Any, build: Any) -> None:
    license = build.license()
    await uow.licenses.add_once(license)
    awarded = build.awarded()
    await record_status_change(build.suspended(awarded), uow)
    assert uow.feed() == []
    await post_credits(awarded, uow)
    assert [(r.record_type, r.consequence) for r in uow.feed()] == [
        ("award", None), ("credit_posted", None), ("credential_suspended", "kept")]


async def test_a_license_registered_later_hears_the_standing_once_only_if_it_is_not_active(
    uow: Any, build: Any
) -> None:
    suspended_award, reinstated_award = build.awarded(), build.awarded()
    for awarded in (suspended_award, reinstated_award):
        await post_credits(awarded, uow)  # no license yet: remembered, credits nothing
        await record_status_change(build.suspended(awarded), uow)
    await record_status_change(build.reinstated(reinstated_award), uow)
    teacher = Principal(subject="teacher-42", roles=frozenset({Role.TEACHER}), states=("TN",))
    await register_license(RegisterLicense(state="TN", license_number="TN-9", license_type="Professional",
                                           cycle_start="2024-07-01", cycle_end="2029-06-30"), teacher, uow)
    assert [(r.award_id, r.record_type) for r in statuses(uow)] == [
        (suspended_award.award_id, "credential_suspended")]


async def test_a_reinstatement_overtaking_its_suspension_leaves_the_award_active_for_later_licenses(
    uow: Any, build: Any
) -> None:
    awarded = build.awarded()
    await post_credits(awarded, uow)
    await record_status_change(build.reinstated(awarded), uow)  # changed later, heard first
    await record_status_change(build.suspended(awarded), uow)
    await uow.licenses.add_once(license := build.license())
    await register_license(RegisterLicense(state="TN", license_number="TN-10", license_type="Professional",
                                           cycle_start="2024-07-01", cycle_end="2029-06-30"),
                           Principal(subject="teacher-42", roles=frozenset({Role.TEACHER}), states=("TN",)), uow)
    assert statuses(uow) == [] and statuses(uow, license) == []


async def test_a_stack_credentials_suspension_concerns_no_state_feed(uow: Any, build: Any) -> None:
    _, awarded = await credited(uow, build)
    await record_status_change(build.suspended(awarded).model_copy(update={"kind": "stack"}), uow)
    assert statuses(uow) == []


# -- revocation ----------------------------------------------------------------------------------------------


async def test_a_revocation_that_reverses_names_the_reversal_in_the_status_record(uow: Any, build: Any) -> None:
    _, awarded = await credited(uow, build)
    revoked = build.revoked(awarded)
    await record_revocation(revoked, uow)
    await record_revocation(revoked.model_copy(update={"event_id": uuid4()}), uow)

    credit, reversal = uow.ledger.entries
    (record,) = statuses(uow)
    assert (record.record_type, record.consequence) == ("credential_revoked", "reversed")
    assert (record.entry_id, record.amount, record.reverses_entry_id) == (reversal.entry_id, Decimal(-6),
                                                                           credit.entry_id)
    assert (record.earned_in_cycle, record.reason, record.changed_by) == (Decimal(0), "plagiarised evidence",
                                                                          "admin-1")
    assert [r.record_type for r in uow.feed()] == ["award", "credit_posted", "credit_reversed", "credential_revoked"]


async def test_a_revocation_under_a_rule_that_keeps_credit_says_kept(build: Any, make_uow: Any) -> None:
    uow = make_uow(rule_sets=(replace(build.tn, on_revocation="keep"),))
    license, awarded = await credited(uow, build)
    await record_revocation(build.revoked(awarded), uow)
    (record,) = statuses(uow)
    assert (record.consequence, record.entry_id) == ("kept", credit_entry(uow, license).entry_id)


async def test_revoking_a_pending_credit_rejects_it_and_says_no_credit_was_affected(build: Any, make_uow: Any) -> None:
    uow = make_uow(rule_sets=(build.ar_approval,))
    _, awarded = await credited(uow, build, state="AR")
    await record_revocation(build.revoked(awarded), uow)
    assert [(r.record_type, r.consequence) for r in uow.feed()][-2:] == [
        ("credit_rejected", None), ("credential_revoked", "none")]


async def test_revoking_a_credit_an_expiry_already_reversed_says_none(build: Any, make_uow: Any) -> None:
    uow = make_uow(rule_sets=(build.ut_credits,))
    _, awarded = await credited(uow, build, state="UT", valid_until=EXPIRES)
    await sweep_expired_credentials(uow, now=datetime(2026, 2, 1, tzinfo=UTC))
    await record_revocation(build.revoked(awarded), uow)
    assert [(r.record_type, r.consequence) for r in statuses(uow)] == [
        ("credential_expired", "reversed"), ("credential_revoked", "none")]
    assert len(uow.ledger.entries) == 2, "one credit, one reversal"


async def test_a_revocation_heard_before_its_award_is_told_with_the_rejection(uow: Any, build: Any) -> None:
    await uow.licenses.add_once(build.license())
    awarded = build.awarded()
    await record_revocation(build.revoked(awarded), uow)
    await post_credits(awarded, uow)
    assert [(r.record_type, r.consequence) for r in uow.feed()] == [
        ("award", None), ("credit_rejected", None), ("credential_revoked", "none")]


# -- expiry ----------------------------------------------------------------------------------------------------


async def test_an_expiry_is_told_once_to_each_state_whether_its_rule_keeps_or_reverses(
    build: Any, make_uow: Any
) -> None:
    uow = make_uow(rule_sets=(build.tn, build.ut_credits))
    tn, ut = build.license(state="TN"), build.license(state="UT")
    await uow.licenses.add_once(tn)
    await uow.licenses.add_once(ut)
    await post_credits(build.awarded().model_copy(update={"valid_until": EXPIRES}), uow)

    before = await sweep_expired_credentials(uow, now=datetime(2025, 12, 31, tzinfo=UTC))
    assert (before.announced, statuses(uow)) == (0, [])
    swept = await sweep_expired_credentials(uow, now=datetime(2026, 1, 2, tzinfo=UTC))
    assert (swept.announced, swept.reversed) == (2, 1)
    (tn_record,) = statuses(uow, tn)
    (ut_record,) = statuses(uow, ut)
    assert (tn_record.record_type, tn_record.consequence, tn_record.entry_id) == (
        "credential_expired", "kept", credit_entry(uow, tn).entry_id)
    assert (ut_record.consequence, ut_record.amount, ut_record.reverses_entry_id) == (
        "reversed", Decimal("-0.5"), credit_entry(uow, ut).entry_id)
    assert tn_record.changed_at == EXPIRES and tn_record.changed_by is None
    assert tn_record.reason == "the credential expired on 2026-01-01"

    again = await sweep_expired_credentials(uow, now=datetime(2026, 1, 3, tzinfo=UTC))
    assert again.announced == 0 and len(statuses(uow)) == 2, "each expiry is told once"


async def test_the_expiry_sweep_works_in_bounded_batches_until_every_expiry_is_told(uow: Any, build: Any) -> None:
    await uow.licenses.add_once(build.license())
    for _ in range(3):
        await post_credits(build.awarded().model_copy(update={"valid_until": EXPIRES}), uow)
    now = datetime(2026, 1, 2, tzinfo=UTC)
    assert [(await sweep_expired_credentials(uow, now=now, limit=2)).announced for _ in range(3)] == [2, 1, 0]
    assert len(statuses(uow)) == 3


async def test_a_revoked_award_is_not_announced_again_when_it_expires(uow: Any, build: Any) -> None:
    _, awarded = await credited(uow, build, valid_until=EXPIRES)
    await record_revocation(build.revoked(awarded), uow)
    swept = await sweep_expired_credentials(uow, now=datetime(2026, 1, 2, tzinfo=UTC))
    assert swept.announced == 0 and [r.record_type for r in statuses(uow)] == ["credential_revoked"]
