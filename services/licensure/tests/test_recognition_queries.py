"""Who sees what of recognitions: a teacher's own progress and standing, a program's holders in the caller's scope,
and the incentive report with the ledger entries behind each line, shaped from the fakes' ledger."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from microcred.events import CredentialAwarded, StackChanged
from microcred.licensure.adapters.recognition_repository import StoredEntry
from microcred.licensure.domain.recognition import Program, decide
from microcred.licensure.entrypoints.recognitions_api import INCENTIVE_COLUMNS, incentive_csv
from microcred.licensure.service_layer import recognition_queries as queries
from microcred.licensure.service_layer.handlers import post_credits, record_collection, record_revocation
from microcred.runtime.auth import Principal, Role
from microcred.runtime.errors import Forbidden, NotFound

STACK, PRIORITY = uuid4(), uuid4()
TEACHER = Principal(subject="teacher-42", roles=frozenset({Role.TEACHER}), states=("TN",), district="Knox County")
TN_ADMIN = Principal(subject="admin-tn", roles=frozenset({Role.STATE_ADMIN}), states=("TN",))
KNOX = Principal(subject="knox", roles=frozenset({Role.DISTRICT_ADMIN}), states=("TN",), district="Knox County")
SHELBY = Principal(subject="shelby", roles=frozenset({Role.DISTRICT_ADMIN}), states=("TN",), district="Shelby County")
OPERATOR = Principal(subject="ops", roles=frozenset({Role.OPERATOR}))
NOW = datetime(2026, 1, 15, tzinfo=UTC)


def mentor() -> Program:
    return Program.model_validate({
        "program_id": "TN-MENTOR", "version": 1, "state": "TN", "name": "Mentor Teacher designation",
        "effective_from": "2024-07-01", "outcome": {"kind": "designation", "label": "Mentor Teacher"},
        "rule": {"kind": "complete_stack", "stack_id": str(STACK)}})


def incentive() -> Program:
    return Program.model_validate({
        "program_id": "KNOX-LITERACY", "version": 1, "state": "TN", "district": "Knox County",
        "name": "Knox literacy incentive", "effective_from": "2024-07-01",
        "outcome": {"kind": "incentive", "label": "Literacy incentive", "amount": "500", "unit": "USD"},
        "rule": {"kind": "incentive_per_credential", "from_set": {"stacks": [str(PRIORITY)]}, "cap_per_year": "1500"},
        "requires_district_approval": True, "on_revocation": "reverse"})


def stack(stack_id: UUID, credentials: list[UUID]) -> StackChanged:
    return StackChanged(correlation_id=uuid4(), stack_id=stack_id, revision=1, issuer_id=uuid4(), name="a stack",
                        description="", credential_ids=tuple(credentials), active=True)


async def earn(uow: Any, build: Any, credentials: list[UUID], programs: list[Program], teacher: str = "teacher-42",
               names: str = "Practice") -> list[CredentialAwarded]:
    events = []
    for n, credential_id in enumerate(credentials, 1):
        awarded = build.awarded(teacher_id=teacher).model_copy(
            update={"credential_id": credential_id, "credential_name": f"{names} {n}"})
        await post_credits(awarded, uow, programs)
        events.append(awarded)
    return events


@pytest.fixture
def six() -> list[UUID]:
    return [uuid4() for _ in range(6)]


async def test_a_teacher_sees_four_of_six_with_the_credentials_that_count_and_those_missing_by_name(
        uow: Any, build: Any, six: list[UUID]) -> None:
    programs = [mentor()]
    await uow.licenses.add_once(build.license(state="TN", district="Knox County"))
    await record_collection(stack(STACK, six), uow, programs)
    await earn(uow, build, six[:4], programs)
    await uow.credentials.upsert(_version(build, six[4], "Coaching Peers"))

    (mine,) = await queries.my_recognitions(TEACHER, uow, programs, now=NOW)
    assert str(mine.progress) == "4 of 6 for Mentor Teacher"
    assert [name for _, name in mine.counted] == ["Practice 1", "Practice 2", "Practice 3", "Practice 4"]
    assert {i for i, _ in mine.missing} == set(six[4:])
    assert ("Coaching Peers" in [name for _, name in mine.missing]
            and "a credential licensure has not heard of yet" in [name for _, name in mine.missing])
    assert mine.held == [] and mine.about.summary == "Holding every credential of a stack of 6 credentials earns Mentor Teacher."


def _version(build: Any, credential_id: UUID, name: str) -> Any:
    from microcred.licensure.domain.model import CredentialVersion
    published = build.published()
    return CredentialVersion(credential_id=credential_id, version=1, name=name,
                             issuer_id=published.issuer.issuer_id, issuer_name=published.issuer.name, credit_hints=())


async def test_a_designation_reversed_and_granted_again_is_held_since_the_second_grant(
        uow: Any, build: Any, six: list[UUID]) -> None:
    programs = [mentor()]
    await uow.licenses.add_once(build.license(state="TN", district="Knox County"))
    await record_collection(stack(STACK, six), uow, programs)
    awards = await earn(uow, build, six, programs)
    (first,) = (await queries.my_recognitions(TEACHER, uow, programs, now=NOW))[0].held
    revoked = build.revoked(awards[2])
    await record_revocation(revoked, uow, programs)
    assert (await queries.my_recognitions(TEACHER, uow, programs, now=NOW))[0].held == []
    await earn(uow, build, six[2:3], programs)  # a new award of the same credential

    (mine,) = await queries.my_recognitions(TEACHER, uow, programs, now=NOW)
    (held,) = mine.held
    assert (held.holding.key, held.holding.status, str(mine.progress)) == ("complete", "granted", "6 of 6 for Mentor Teacher")
    assert held.since > first.since and [d.entry.kind for d in held.entries] == ["grant"]


async def test_programs_of_another_state_do_not_apply_to_the_teacher(uow: Any, build: Any) -> None:
    other = mentor().model_copy(update={"state": "AR", "program_id": "AR-MENTOR"})
    await uow.licenses.add_once(build.license(state="TN"))
    assert await queries.my_recognitions(TEACHER, uow, [other], now=NOW) == []


async def _designated(uow: Any, build: Any, six: list[UUID]) -> list[Program]:
    programs = [mentor()]
    await record_collection(stack(STACK, six), uow, programs)
    for n, district in enumerate(("Knox County", "Knox County", "Shelby County")):
        teacher = f"teacher-{n}"
        await uow.licenses.add_once(build.license(teacher_id=teacher, state="TN", district=district,
                                                  license_number=f"TN-{n}"))
        await earn(uow, build, six, programs, teacher=teacher)
    return programs


async def test_a_district_admin_lists_their_own_districts_holders_whatever_district_they_ask_for(
        uow: Any, build: Any, six: list[UUID]) -> None:
    programs = await _designated(uow, build, six)
    total, knox = await queries.holders("TN", "TN-MENTOR", "Shelby County", "granted", KNOX, uow, programs,
                                        limit=50, offset=0, now=NOW)
    assert total == 2 and [h.standing.teacher_id for h in knox] == ["teacher-0", "teacher-1"]
    assert [lic.license_number for lic in knox[0].licenses] == ["TN-0"]
    total, shelby = await queries.holders("TN", "TN-MENTOR", None, "granted", SHELBY, uow, programs, limit=50,
                                          offset=0, now=NOW)
    assert total == 1 and shelby[0].standing.teacher_id == "teacher-2"


async def test_a_state_admin_lists_every_district_or_one_and_pages_with_the_total(
        uow: Any, build: Any, six: list[UUID]) -> None:
    programs = await _designated(uow, build, six)
    total, page = await queries.holders("TN", "TN-MENTOR", None, "granted", TN_ADMIN, uow, programs, limit=2,
                                        offset=2, now=NOW)
    assert total == 3 and [h.standing.teacher_id for h in page] == ["teacher-2"]
    total, _ = await queries.holders("TN", "TN-MENTOR", "Shelby County", "granted", OPERATOR, uow, programs, limit=50,
                                     offset=0, now=NOW)
    assert total == 1
    total, _ = await queries.holders("TN", "TN-MENTOR", None, "pending", TN_ADMIN, uow, programs, limit=50, offset=0,
                                     now=NOW)
    assert total == 0


async def test_holders_are_refused_to_a_teacher_and_to_another_state_and_unknown_programs_are_not_found(
        uow: Any, build: Any, six: list[UUID]) -> None:
    programs = await _designated(uow, build, six)
    with pytest.raises(Forbidden):
        await queries.holders("TN", "TN-MENTOR", None, "granted", TEACHER, uow, programs, limit=5, offset=0)
    ar_admin = Principal(subject="ar", roles=frozenset({Role.STATE_ADMIN}), states=("AR",))
    with pytest.raises(Forbidden):
        await queries.holders("TN", "TN-MENTOR", None, "granted", ar_admin, uow, programs, limit=5, offset=0)
    with pytest.raises(NotFound):
        await queries.holders("TN", "TN-NOTHING", None, "granted", TN_ADMIN, uow, programs, limit=5, offset=0)
    with pytest.raises(NotFound):  # a program of another state is not this state's
        await queries.holders("AR", "TN-MENTOR", None, "granted", OPERATOR, uow, programs, limit=5, offset=0)


async def test_another_districts_program_has_no_holders_for_a_district_admin(uow: Any, build: Any) -> None:
    programs = [incentive()]
    total, found = await queries.holders("TN", "KNOX-LITERACY", None, "granted", SHELBY, uow, programs, limit=5,
                                         offset=0)
    assert (total, found) == (0, [])


async def test_the_incentive_report_owes_only_approved_lines_and_lists_every_entry_behind_each(
        uow: Any, build: Any) -> None:
    programs = [incentive()]
    three = [uuid4() for _ in range(3)]
    await record_collection(stack(PRIORITY, three), uow, programs)
    await uow.licenses.add_once(build.license(state="TN", district="Knox County", license_number="TN-42"))
    awards = await earn(uow, build, three[:2], programs)  # 2025-03-04: 1000 USD for 2025, pending

    (line, licenses), = await queries.incentive_report("TN", 2025, None, KNOX, uow, programs)
    assert (line.status, line.net, line.owed) == ("pending", Decimal(1000), Decimal(0))
    assert [d.entry.kind for d in line.entries] == ["grant", "grant"]
    assert [lic.license_number for lic in licenses] == ["TN-42"]

    program = programs[0]
    approval = decide(program, [r.entry for r in uow.recognitions.rows], "year-2025", approve=True, reason="")
    await uow.recognitions.append(StoredEntry(uuid4(), "teacher-42", "TN", "Knox County", approval))
    await record_revocation(build.revoked(awards[0]), uow, programs)

    (line, _), = await queries.incentive_report("TN", 2025, "Knox County", TN_ADMIN, uow, programs)
    assert (line.status, line.net, line.owed) == ("granted", Decimal(500), Decimal(500))
    assert [d.entry.kind for d in line.entries] == ["grant", "grant", "approve", "reverse"]
    assert await queries.incentive_report("TN", 2024, None, TN_ADMIN, uow, programs) == []
    assert await queries.incentive_report("TN", 2025, None, SHELBY, uow, programs) == []

    rows = list(csv.DictReader(io.StringIO(incentive_csv(
        await queries.incentive_report("TN", 2025, None, OPERATOR, uow, programs), {"KNOX-LITERACY": "USD"}))))
    assert list(rows[0]) == list(INCENTIVE_COLUMNS)
    assert [r["row"] for r in rows] == ["line", "entry", "entry", "entry", "entry"]
    assert rows[0]["owed"] == "500" and rows[0]["license_numbers"] == "TN-42"
    # The signed entries of a line add up to its net, so a clerk can check every payment against the ledger.
    assert sum(Decimal(r["entry_amount"]) for r in rows[1:]) == Decimal(rows[0]["net_amount"])
    assert {r["entry_id"] for r in rows[1:]} == {str(d.entry_id) for d in line.entries}


async def test_programs_are_described_in_plain_words_with_their_options(uow: Any, build: Any) -> None:
    three = [uuid4() for _ in range(3)]
    await record_collection(stack(PRIORITY, three), uow, [incentive()])
    knox = await queries.programs_in_words(uow, [incentive(), mentor()], "TN", "Knox County", now=NOW)
    assert [p.program.program_id for p in knox] == ["KNOX-LITERACY", "TN-MENTOR"]
    found = await queries.programs_in_words(uow, [incentive(), mentor()], "TN", None, now=NOW)
    words = {p.program.program_id: p for p in found}
    assert words["KNOX-LITERACY"].summary == ("Each credential from a stack of 3 credentials earns "
                                              "500 USD (Literacy incentive), at most 1500 USD per calendar year.")
    assert "Knox County approves each outcome before it is final." in words["KNOX-LITERACY"].options
    assert words["TN-MENTOR"].summary == "Holding every credential of a stack the catalog has not described yet earns Mentor Teacher."
    assert await queries.programs_in_words(uow, [incentive()], "TN", "Shelby County", now=NOW) == []
    assert await queries.programs_in_words(uow, [incentive()], "AR", None, now=NOW) == []
