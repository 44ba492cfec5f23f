"""Licensure use cases driven through fakes: credits, redeliveries, late licenses, who may do what."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from microcred.events import CreditPosted
from microcred.licensure.service_layer.handlers import (
    RegisterLicense,
    license_progress,
    post_credits,
    register_license,
)
from microcred.runtime.auth import Principal, Role
from microcred.runtime.errors import Conflict, Forbidden, Invalid

TEACHER = Principal(subject="teacher-42", roles=frozenset({Role.TEACHER}))
TN_ADMIN = Principal(subject="admin-tn", roles=frozenset({Role.STATE_ADMIN}), states=("TN",))
OPERATOR = Principal(subject="ops", roles=frozenset({Role.OPERATOR}))


def registration(**overrides: Any) -> RegisterLicense:
    fields = {"state": "TN", "license_number": "TN-123", "license_type": "Professional",
              "cycle_start": "2024-07-01", "cycle_end": "2029-06-30"} | overrides
    return RegisterLicense.model_validate(fields)


async def test_an_award_credits_the_teachers_license_and_posts_the_credit(uow: Any, build: Any) -> None:
    license = build.license()
    await uow.licenses.add_once(license)
    awarded = build.awarded()
    await post_credits(awarded, uow)

    (event,) = uow.published
    assert isinstance(event, CreditPosted)
    assert event.states == ("TN",) and event.license_id == license.license_id
    assert (event.amount, event.unit, event.rule_set_id) == (Decimal(6), "points", "TN-2024")
    assert (event.earned_in_cycle, event.required_in_cycle) == (Decimal(6), Decimal(60))
    assert event.causation_id == awarded.event_id and event.correlation_id == awarded.correlation_id


async def test_the_same_award_delivered_twice_credits_once(uow: Any, build: Any) -> None:
    await uow.licenses.add_once(build.license())
    awarded = build.awarded()
    await post_credits(awarded, uow)
    await post_credits(awarded, uow)
    assert len(uow.ledger.entries) == 1 and len(uow.published) == 1


async def test_the_same_award_republished_under_a_new_event_id_still_credits_once(uow: Any, build: Any) -> None:
    await uow.licenses.add_once(build.license())
    awarded = build.awarded()
    await post_credits(awarded, uow)
    await post_credits(awarded.model_copy(update={"event_id": build.awarded().event_id}), uow)
    assert len(uow.ledger.entries) == 1 and len(uow.published) == 1


async def test_earned_in_cycle_grows_with_each_award(uow: Any, build: Any) -> None:
    await uow.licenses.add_once(build.license())
    await post_credits(build.awarded(), uow)
    await post_credits(build.awarded(), uow)
    assert [e.earned_in_cycle for e in uow.published] == [Decimal(6), Decimal(12)]


async def test_an_award_without_a_license_credits_nothing(uow: Any, build: Any) -> None:
    await post_credits(build.awarded(), uow)
    assert uow.ledger.entries == [] and uow.published == []


async def test_an_award_credits_every_license_whose_cycle_holds_it(uow: Any, build: Any) -> None:
    await uow.licenses.add_once(build.license(state="TN"))
    await uow.licenses.add_once(build.license(state="UT"))
    await uow.licenses.add_once(build.license(state="TN", cycle_start=date(2019, 7, 1), cycle_end=date(2024, 6, 30)))
    await uow.licenses.add_once(build.license(state="NY"))  # no rule set
    await post_credits(build.awarded(), uow)
    assert sorted((e.state, e.amount) for e in uow.published) == [("TN", Decimal(6)), ("UT", Decimal("7.5"))]


async def test_a_license_registered_after_an_award_is_credited_for_it(uow: Any, build: Any) -> None:
    await post_credits(build.awarded(), uow)
    license = await register_license(registration(), TEACHER, uow)
    (event,) = uow.published
    assert event.license_id == license.license_id and event.causation_id is None
    await post_credits(build.awarded(), uow)
    assert len(uow.ledger.entries) == 2


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


async def test_a_license_number_is_registered_once_per_state(uow: Any) -> None:
    await register_license(registration(), TEACHER, uow)
    with pytest.raises(Conflict):
        await register_license(registration(teacher_id="teacher-9"), OPERATOR, uow)
    await register_license(registration(state="UT", teacher_id="teacher-9"), OPERATOR, uow)


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
        assert progress.earned == Decimal(12) and len(progress.entries) == 2
        assert progress.rule_set is not None and progress.rule_set.required_per_cycle == Decimal(60)
    other_admin = Principal(subject="admin-ar", roles=frozenset({Role.STATE_ADMIN}), states=("AR",))
    with pytest.raises(Forbidden):
        await license_progress(license.license_id, other_admin, uow)


def test_amounts_are_shown_exactly_without_trailing_zeros() -> None:
    from microcred.licensure.entrypoints.api import amount_text

    assert [amount_text(Decimal(v)) for v in ("22.5000", "200.0000", "0.0000", "0.5")] == ["22.5", "200", "0", "0.5"]
