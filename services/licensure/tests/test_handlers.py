"""Licensure use cases driven through fakes: credits, redeliveries, late licenses, who may do what."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from microcred.events import CreditPosted, CreditReversed
from microcred.licensure.domain.model import ClaimStatus, EntryKind
from microcred.licensure.service_layer.handlers import (
    Adjustment,
    Decision,
    PublishRuleSet,
    RegisterLicense,
    adjust,
    decide_credit,
    license_progress,
    pending_credits,
    post_credits,
    publish_rule_set,
    record_revocation,
    register_license,
    sweep_expired_credentials,
    sync_shipped_rule_sets,
)
from microcred.runtime.auth import Principal, Role
from microcred.runtime.errors import Conflict, Forbidden, Invalid, NotFound

TEACHER = Principal(subject="teacher-42", roles=frozenset({Role.TEACHER}), states=("TN",), district="Knox County")
TN_ADMIN = Principal(subject="admin-tn", roles=frozenset({Role.STATE_ADMIN}), states=("TN",))
OPERATOR = Principal(subject="ops", roles=frozenset({Role.OPERATOR}))


def registration(**overrides: Any) -> RegisterLicense:
    fields = {"state": "TN", "license_number": "TN-123", "license_type": "Professional",
              "cycle_start": "2024-07-01", "cycle_end": "2029-06-30"} | overrides
    return RegisterLicense.model_validate(fields)


def posted(uow: Any) -> list[CreditPosted]:
    return [e for e in uow.published if isinstance(e, CreditPosted)]


def reversed_(uow: Any) -> list[CreditReversed]:
    return [e for e in uow.published if isinstance(e, CreditReversed)]


async def test_an_award_credits_the_teachers_license_and_posts_the_credit(uow: Any, build: Any) -> None:
    license = build.license()
    await uow.licenses.add_once(license)
    awarded = build.awarded()
    await post_credits(awarded, uow)
    (event,) = posted(uow)
    assert (event.license_id, event.award_id, event.state) == (license.license_id, awarded.award_id, "TN")
    assert (event.amount, event.unit, event.earned_in_cycle, event.required_in_cycle) == (
        Decimal(6), "points", Decimal(6), Decimal(60))
    assert event.causation_id == awarded.event_id and event.correlation_id == awarded.correlation_id
    assert [r.record_type for r in uow.feed("TN")] == ["award", "credit_posted"]
    assert uow.feed("TN")[0].credential == awarded.credential, "the state gets the signed credential"
    assert [r.record_type for r in uow.webhooks.records] == ["award", "credit_posted"]


async def test_the_same_award_delivered_twice_credits_once(uow: Any, build: Any) -> None:
    await uow.licenses.add_once(build.license())
    awarded = build.awarded()
    await post_credits(awarded, uow)
    await post_credits(awarded, uow)
    assert len(uow.ledger.entries) == 1 and len(posted(uow)) == 1 and len(uow.feed()) == 2


async def test_the_same_award_republished_under_a_new_event_id_still_credits_once(uow: Any, build: Any) -> None:
    await uow.licenses.add_once(build.license())
    awarded = build.awarded()
    await post_credits(awarded, uow)
    await post_credits(awarded.model_copy(update={"event_id": uuid4()}), uow)
    assert len(uow.ledger.entries) == 1 and len(posted(uow)) == 1


async def test_earned_in_cycle_grows_with_each_award(uow: Any, build: Any) -> None:
    await uow.licenses.add_once(build.license())
    await post_credits(build.awarded(), uow)
    await post_credits(build.awarded(), uow)
    assert [e.earned_in_cycle for e in posted(uow)] == [Decimal(6), Decimal(12)]


async def test_an_award_without_a_license_credits_nothing(uow: Any, build: Any) -> None:
    await post_credits(build.awarded(), uow)
    assert uow.ledger.entries == [] and uow.published == []


async def test_one_award_credits_each_state_under_its_own_rules(build: Any, make_uow: Any) -> None:
    uow = make_uow(rule_sets=(build.tn, build.ut_credits))
    tn, ut = build.license(state="TN"), build.license(state="UT")
    await uow.licenses.add_once(tn)
    await uow.licenses.add_once(ut)
    await post_credits(build.awarded(), uow)
    amounts = {e.state: (e.amount, e.unit) for e in posted(uow)}
    assert amounts == {"TN": (Decimal(6), "points"), "UT": (Decimal("0.5"), "credits")}
    assert {r.state for r in uow.feed("TN")} == {"TN"} and len(uow.feed("UT")) == 2


async def test_an_award_outside_the_cycle_is_recorded_as_rejected_with_its_reason(uow: Any, build: Any) -> None:
    license = build.license(cycle_start=date(2025, 7, 1), cycle_end=date(2030, 6, 30))
    await uow.licenses.add_once(license)
    await post_credits(build.awarded(), uow)
    assert posted(uow) == [] and uow.ledger.entries == []
    progress = await license_progress(license.license_id, TEACHER, uow, today=date(2025, 8, 1))
    ((claim, _),) = progress.claims
    assert claim.status is ClaimStatus.REJECTED and "outside the renewal cycle" in (claim.reason or "")
    assert [r.record_type for r in uow.feed()] == ["award", "credit_rejected"]


async def test_a_license_registered_after_an_award_is_credited_for_it(uow: Any, build: Any) -> None:
    await post_credits(build.awarded(), uow)
    license = await register_license(registration(), TEACHER, uow)
    (event,) = posted(uow)
    assert event.license_id == license.license_id


# -- caps and approval --------------------------------------------------------------------------------------


async def test_the_cycle_cap_posts_part_of_a_credit_then_nothing_and_says_why(build: Any, make_uow: Any) -> None:
    uow = make_uow(rule_sets=(build.tn_capped,))
    license = build.license()
    await uow.licenses.add_once(license)
    for _ in range(4):
        await post_credits(build.awarded(), uow)
    assert [e.amount for e in posted(uow)] == [Decimal(6), Decimal(6), Decimal(3)]
    progress = await license_progress(license.license_id, TEACHER, uow, today=date(2025, 6, 1))
    assert progress.earned == Decimal(15)
    statuses = sorted(claim.status.value for claim, _ in progress.claims)
    assert statuses == ["capped", "posted", "posted", "posted"]


async def test_a_credit_needing_approval_waits_then_posts_when_the_district_approves(build: Any, make_uow: Any) -> None:
    uow = make_uow(rule_sets=(build.ar_approval,))
    license = build.license(state="AR", district="Pulaski County")
    await uow.licenses.add_once(license)
    awarded = build.awarded()
    await post_credits(awarded, uow)
    assert posted(uow) == [] and [r.record_type for r in uow.feed()] == ["award", "credit_pending"]
    other_district = Principal(subject="d-2", roles=frozenset({Role.DISTRICT_ADMIN}), states=("AR",),
                               district="Benton County")
    with pytest.raises(NotFound):  # another district's license is not theirs to know of
        await decide_credit(awarded.award_id, license.license_id, Decision(approve=True), other_district, uow)
    district = Principal(subject="d-1", roles=frozenset({Role.DISTRICT_ADMIN}), states=("AR",),
                         district="Pulaski County")
    pending = await pending_credits("AR", None, district, uow, limit=10, offset=0)
    assert [claim.award_id for claim, _, _ in pending] == [awarded.award_id]
    claim = await decide_credit(awarded.award_id, license.license_id, Decision(approve=True, reason="in plan"),
                                district, uow)
    assert claim.status is ClaimStatus.POSTED and claim.decided_by == "d-1"
    (event,) = posted(uow)
    assert (event.amount, event.unit) == (Decimal(15), "hours")
    with pytest.raises(Conflict):
        await decide_credit(awarded.award_id, license.license_id, Decision(approve=True), district, uow)


async def test_a_district_rejection_posts_nothing_and_records_who_and_why(build: Any, make_uow: Any) -> None:
    uow = make_uow(rule_sets=(build.ar_approval,))
    license = build.license(state="AR", district="Pulaski County")
    await uow.licenses.add_once(license)
    awarded = build.awarded()
    await post_credits(awarded, uow)
    state_admin = Principal(subject="ar-admin", roles=frozenset({Role.STATE_ADMIN}), states=("AR",))
    claim = await decide_credit(awarded.award_id, license.license_id,
                                Decision(approve=False, reason="not in the growth plan"), state_admin, uow)
    assert (claim.status, claim.reason, claim.decided_by) == (
        ClaimStatus.DISTRICT_REJECTED, "not in the growth plan", "ar-admin")
    assert posted(uow) == [] and uow.feed()[-1].record_type == "credit_rejected"


# -- revocation ------------------------------------------------------------------------------------------------


async def test_revoking_a_credited_award_reverses_the_credit_once(uow: Any, build: Any) -> None:
    license = build.license()
    await uow.licenses.add_once(license)
    awarded = build.awarded()
    await post_credits(awarded, uow)
    revoked = build.revoked(awarded)
    await record_revocation(revoked, uow)
    await record_revocation(revoked, uow)
    await record_revocation(revoked.model_copy(update={"event_id": uuid4()}), uow)
    (reversal,) = reversed_(uow)
    assert reversal.amount == Decimal(-6) and reversal.earned_in_cycle == Decimal(0)
    assert "plagiarised evidence" in reversal.reason and reversal.causation_id == revoked.event_id
    kinds = [e.kind for e in uow.ledger.entries]
    assert kinds == [EntryKind.CREDIT, EntryKind.REVERSAL], "the credit stays; the reversal is appended"
    assert [r.record_type for r in uow.feed()][-2:] == ["credit_reversed", "credential_revoked"]


async def test_a_revocation_arriving_before_its_award_means_the_award_never_credits(uow: Any, build: Any) -> None:
    license = build.license()
    await uow.licenses.add_once(license)
    awarded = build.awarded()
    await record_revocation(build.revoked(awarded), uow)
    await post_credits(awarded, uow)
    assert posted(uow) == [] and reversed_(uow) == [] and uow.ledger.entries == []
    progress = await license_progress(license.license_id, TEACHER, uow, today=date(2025, 6, 1))
    ((claim, _),) = progress.claims
    assert claim.status is ClaimStatus.REJECTED and "revoked" in (claim.reason or "")


async def test_a_rule_set_that_keeps_credit_on_revocation_keeps_it(build: Any, make_uow: Any) -> None:
    uow = make_uow(rule_sets=(replace(build.tn, on_revocation="keep"),))
    await uow.licenses.add_once(build.license())
    awarded = build.awarded()
    await post_credits(awarded, uow)
    await record_revocation(build.revoked(awarded), uow)
    assert reversed_(uow) == [] and len(posted(uow)) == 1


async def test_revoking_a_pending_credit_rejects_it(build: Any, make_uow: Any) -> None:
    uow = make_uow(rule_sets=(build.ar_approval,))
    license = build.license(state="AR", district="Pulaski County")
    await uow.licenses.add_once(license)
    awarded = build.awarded()
    await post_credits(awarded, uow)
    await record_revocation(build.revoked(awarded), uow)
    claim = await uow.claims.get(awarded.award_id, license.license_id)
    assert claim.status is ClaimStatus.REJECTED
    assert [r.record_type for r in uow.feed()][-2:] == ["credit_rejected", "credential_revoked"]


async def test_a_stack_credential_revoked_changes_no_credit(uow: Any, build: Any) -> None:
    await uow.licenses.add_once(build.license())
    awarded = build.awarded()
    await post_credits(awarded, uow)
    await record_revocation(build.revoked(awarded).model_copy(update={"kind": "stack"}), uow)
    assert reversed_(uow) == []


async def test_an_expired_credential_is_reversed_only_where_the_rule_set_says_so(build: Any, make_uow: Any) -> None:
    uow = make_uow(rule_sets=(build.tn, build.ut_credits))
    tn, ut = build.license(state="TN"), build.license(state="UT")
    await uow.licenses.add_once(tn)
    await uow.licenses.add_once(ut)
    await post_credits(build.awarded().model_copy(update={"valid_until": datetime(2026, 1, 1, tzinfo=UTC)}), uow)
    assert (await sweep_expired_credentials(uow, now=datetime(2025, 12, 31, tzinfo=UTC))).reversed == 0
    assert (await sweep_expired_credentials(uow, now=datetime(2026, 1, 2, tzinfo=UTC))).reversed == 1
    (reversal,) = reversed_(uow)
    assert reversal.state == "UT" and "expired on 2026-01-01" in reversal.reason
    assert (await sweep_expired_credentials(uow, now=datetime(2026, 1, 3, tzinfo=UTC))).reversed == 0


async def test_a_state_adjustment_is_an_entry_of_its_own_in_the_rule_sets_unit(uow: Any, build: Any) -> None:
    license = build.license()
    await uow.licenses.add_once(license)
    await post_credits(build.awarded(), uow)
    entry = await adjust(license.license_id, Adjustment(amount=Decimal(-2), reason="duplicate course"), TN_ADMIN, uow)
    assert (entry.kind, entry.amount, entry.unit, entry.award_id) == (EntryKind.ADJUSTMENT, Decimal(-2), "points", None)
    progress = await license_progress(license.license_id, TEACHER, uow, today=date(2025, 6, 1))
    assert progress.earned == Decimal(4)
    with pytest.raises(Forbidden):
        await adjust(license.license_id, Adjustment(amount=Decimal(5), reason="mine"), TEACHER, uow)
    with pytest.raises(ValidationError):
        Adjustment(amount=Decimal(0), reason="nothing")


# -- rule sets -------------------------------------------------------------------------------------------------


async def test_shipped_rule_sets_are_added_once_and_a_changed_published_version_is_refused(build: Any, make_uow: Any) -> None:
    uow = make_uow(rule_sets=())
    assert await sync_shipped_rule_sets([build.tn, build.tn_capped], uow) == 2
    assert await sync_shipped_rule_sets([build.tn, build.tn_capped], uow) == 0
    with pytest.raises(RuntimeError, match="never change"):
        await sync_shipped_rule_sets([replace(build.tn, amount_per_credential=Decimal(7))], uow)


async def test_a_state_admin_publishes_the_next_version_of_their_states_rules_only(uow: Any, build: Any) -> None:
    command = PublishRuleSet(rule_set_id="TN-2024", state="TN", effective_from=date(2026, 7, 1), unit="points",
                             amount_per_credential=Decimal(8), required_per_cycle=Decimal(60))
    rule_set = await publish_rule_set(command, TN_ADMIN, uow)
    assert rule_set.version == 2 and rule_set.example is False
    with pytest.raises(Forbidden):
        await publish_rule_set(command.model_copy(update={"state": "UT", "rule_set_id": "UT-2030"}), TN_ADMIN, uow)
    with pytest.raises(Conflict):
        await publish_rule_set(command.model_copy(update={"rule_set_id": "UT-2024"}), OPERATOR, uow)


async def test_a_version_whose_state_feed_cannot_be_created_is_not_saved_so_a_retry_publishes_it_once(
    uow: Any, build: Any
) -> None:
    command = PublishRuleSet(rule_set_id="TN-2024", state="TN", effective_from=date(2026, 7, 1), unit="points",
                             amount_per_credential=Decimal(8), required_per_cycle=Decimal(60))
    created: list[str] = []

    async def broker_down(state: str) -> None:
        raise ConnectionRefusedError(111, "the broker is not there")

    async def broker_up(state: str) -> None:
        created.append(state)

    with pytest.raises(ConnectionRefusedError):
        await publish_rule_set(command, TN_ADMIN, uow, broker_down)
    assert (await publish_rule_set(command, TN_ADMIN, uow, broker_up)).version == 2
    assert created == ["TN"]
    with pytest.raises(Forbidden):
        await publish_rule_set(command.model_copy(update={"state": "UT", "rule_set_id": "UT-2030"}), TN_ADMIN, uow,
                               broker_up)
    assert created == ["TN"], "no topic for a state the caller may not publish for"


async def test_a_teacher_registers_a_license_for_themself_by_default(uow: Any) -> None:
    license = await register_license(registration(), TEACHER, uow)
    assert license.teacher_id == "teacher-42"


async def test_a_teacher_cannot_register_another_teachers_license(uow: Any) -> None:
    with pytest.raises(Forbidden):
        await register_license(registration(teacher_id="someone-else"), TEACHER, uow)


async def test_a_state_admin_registers_licenses_only_in_their_states(uow: Any) -> None:
    license = await register_license(registration(teacher_id="teacher-7"), TN_ADMIN, uow)
    assert license.teacher_id == "teacher-7"
    with pytest.raises(Forbidden):
        await register_license(registration(teacher_id="teacher-7", state="AR"), TN_ADMIN, uow)


async def test_an_admin_must_name_the_teacher(uow: Any) -> None:
    with pytest.raises(Invalid):
        await register_license(registration(), OPERATOR, uow)


async def test_a_teacher_registers_a_license_number_once_per_state(uow: Any) -> None:
    await register_license(registration(), TEACHER, uow)
    with pytest.raises(Conflict) as again:
        await register_license(registration(), TEACHER, uow)
    assert again.value.code == "license_exists"
    await register_license(registration(teacher_id="teacher-42", state="UT"), OPERATOR, uow)


async def test_another_teachers_license_number_is_neither_revealed_nor_blocking(uow: Any) -> None:
    squatter = Principal(subject="teacher-9", roles=frozenset({Role.TEACHER}), states=("TN",))
    first = await register_license(registration(), squatter, uow)
    mine = await register_license(registration(), TEACHER, uow)
    assert (first.teacher_id, mine.teacher_id) == ("teacher-9", "teacher-42")
    assert mine.license_number == first.license_number and mine.license_id != first.license_id


async def test_a_teacher_registers_only_in_a_state_their_token_carries(uow: Any) -> None:
    with pytest.raises(Forbidden) as refused:
        await register_license(registration(state="AR"), TEACHER, uow)
    assert refused.value.code == "state_not_yours"
    assert uow.licenses.rows == {}


@pytest.mark.parametrize(
    ("declared", "refused_fields"),
    [
        ({"required_amount": "0.01"}, ["required_amount"]),
        ({"district": "Friendly County"}, ["district"]),
        ({"required_amount": "1", "district": "Friendly County"}, ["required_amount", "district"]),
    ],
)
async def test_a_teacher_may_not_set_what_only_the_state_sets(
    uow: Any, declared: dict[str, Any], refused_fields: list[str]
) -> None:
    with pytest.raises(Forbidden) as refused:
        await register_license(registration(**declared), TEACHER, uow)
    assert (refused.value.code, refused.value.details) == ("field_not_allowed", {"fields": refused_fields})
    assert uow.licenses.rows == {}


async def test_a_teacher_gets_the_district_of_their_token_and_may_repeat_it(uow: Any) -> None:
    derived = await register_license(registration(), TEACHER, uow)
    repeated = await register_license(registration(license_number="TN-456", district="Knox County"), TEACHER, uow)
    assert derived.district == repeated.district == "Knox County" and derived.required_amount is None


async def test_the_state_sets_a_teachers_requirement_and_district(uow: Any) -> None:
    license = await register_license(
        registration(teacher_id="teacher-42", required_amount="30", district="Shelby County"), TN_ADMIN, uow
    )
    assert (license.required_amount, license.district) == (Decimal(30), "Shelby County")


def test_a_registration_whose_cycle_does_not_end_after_it_starts_is_refused() -> None:
    with pytest.raises(ValidationError, match="cycle_end must be after cycle_start"):
        registration(cycle_end="2024-07-01")


def test_a_registration_needs_a_two_letter_upper_case_state() -> None:
    with pytest.raises(ValidationError):
        registration(state="Tennessee")


async def test_progress_shows_required_earned_and_entries_to_whom_may_see_it(uow: Any, build: Any) -> None:
    license = await register_license(registration(), TEACHER, uow)
    await post_credits(build.awarded(), uow)
    await post_credits(build.awarded(), uow)
    for who in (TEACHER, TN_ADMIN, OPERATOR):
        progress = await license_progress(license.license_id, who, uow, today=date(2025, 6, 1))
        assert progress.earned == Decimal(12) and len(progress.entries) == 2 and len(progress.claims) == 2
        assert progress.required == Decimal(60)
    other_admin = Principal(subject="admin-ar", roles=frozenset({Role.STATE_ADMIN}), states=("AR",))
    with pytest.raises(NotFound) as refused:
        await license_progress(license.license_id, other_admin, uow)
    with pytest.raises(NotFound) as unknown:
        await license_progress(uuid4(), other_admin, uow)
    assert refused.value.code == unknown.value.code == "license_not_found"
    with pytest.raises(NotFound):
        await adjust(license.license_id, Adjustment(amount=Decimal(5), reason="not mine"), other_admin, uow)


def test_amounts_are_shown_exactly_without_trailing_zeros() -> None:
    from microcred.licensure.entrypoints.api import amount_text

    assert [amount_text(Decimal(v)) for v in ("22.5000", "200.0000", "0.0000", "0.5")] == ["22.5", "200", "0", "0.5"]
