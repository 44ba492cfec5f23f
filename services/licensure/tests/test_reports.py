"""Who holds which competency by district, and who may read the state's reports (the credit CSV included).

The routes run on the real router and error handlers with real tokens, over the fake unit of work.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from microcred.licensure.domain.model import EntryKind, LedgerEntry, StatusChange
from microcred.licensure.domain.reports import Holding, competency_matrix
from microcred.licensure.entrypoints.api import create_router
from microcred.licensure.service_layer.handlers import competency_report, record_credential_version
from microcred.runtime.api import install_error_handlers
from microcred.runtime.auth import DevTokenIssuer, JwtVerifier, Principal, Role
from microcred.runtime.errors import Forbidden

AR_ADMIN = Principal(subject="ar-admin", roles=frozenset({Role.STATE_ADMIN}), states=("AR",))
PULASKI = Principal(subject="pulaski", roles=frozenset({Role.DISTRICT_ADMIN}), states=("AR",),
                    district="Pulaski County")
FORMATIVE = "The educator checks for understanding and adjusts instruction."


def test_a_teacher_counts_once_per_competency_and_district_however_many_credentials_show_it() -> None:
    matrix = competency_matrix([
        Holding("Pulaski County", "t1", "Exit tickets", FORMATIVE),
        Holding("Pulaski County", "t1", "Hinge questions", FORMATIVE),
        Holding("Pulaski County", "t2", "Hinge questions", FORMATIVE),
        Holding("Benton County", "t3", "Hinge questions", FORMATIVE),
    ], {"Pulaski County": 5, "Benton County": 2})
    assert [(row.competency, row.credentials) for row in matrix.competencies] == [
        (FORMATIVE, ("Exit tickets", "Hinge questions"))]
    assert [(row.district, row.licensed_teachers, row.holders) for row in matrix.districts] == [
        ("Benton County", 2, {FORMATIVE: 1}), ("Pulaski County", 5, {FORMATIVE: 2})]


def test_a_district_where_nobody_holds_a_competency_shows_zero_and_licenses_without_a_district_come_last() -> None:
    matrix = competency_matrix([Holding("Pulaski County", "t1", "Exit tickets", FORMATIVE)],
                               {"Pulaski County": 1, "Benton County": 4, None: 3})
    assert [(row.district, row.holders[FORMATIVE]) for row in matrix.districts] == [
        ("Benton County", 0), ("Pulaski County", 1), (None, 0)]


def test_a_credential_whose_competency_is_unknown_stands_for_itself_and_says_so() -> None:
    matrix = competency_matrix([Holding("Pulaski County", "t1", "Old Practice", None)], {"Pulaski County": 1})
    (row,) = matrix.competencies
    assert (row.competency, row.recorded, row.credentials) == ("Old Practice", False, ("Old Practice",))


async def _held_in_ar(uow: Any, build: Any, district: str, competency: str = FORMATIVE) -> Any:
    teacher = f"teacher-{uuid4().hex[:6]}"
    await uow.licenses.add_once(build.license(teacher_id=teacher, state="AR", district=district))
    published = build.published(competency=competency)
    await record_credential_version(published, uow)
    award = build.award(teacher_id=teacher, credential_id=published.credential_id)
    await uow.awards.add(award)
    return award


async def test_the_state_reads_every_district_and_a_district_admin_only_their_own(uow: Any, build: Any) -> None:
    await _held_in_ar(uow, build, "Pulaski County")
    await _held_in_ar(uow, build, "Benton County")
    state_wide = await competency_report("AR", None, AR_ADMIN, uow)
    assert [(row.district, row.holders) for row in state_wide.districts] == [
        ("Benton County", {FORMATIVE: 1}), ("Pulaski County", {FORMATIVE: 1})]
    one = await competency_report("AR", "Benton County", AR_ADMIN, uow)
    assert [row.district for row in one.districts] == ["Benton County"]
    # Whatever district a district admin names, they read their own.
    own = await competency_report("AR", "Benton County", PULASKI, uow)
    assert [row.district for row in own.districts] == ["Pulaski County"]


@pytest.mark.parametrize("principal", [
    Principal(subject="tn-admin", roles=frozenset({Role.STATE_ADMIN}), states=("TN",)),
    Principal(subject="tn-district", roles=frozenset({Role.DISTRICT_ADMIN}), states=("TN",), district="Knox"),
    Principal(subject="no-district", roles=frozenset({Role.DISTRICT_ADMIN}), states=("AR",)),
    Principal(subject="teacher", roles=frozenset({Role.TEACHER}), states=("AR",), district="Pulaski County"),
])
async def test_no_one_else_reads_a_states_competencies(uow: Any, principal: Principal) -> None:
    with pytest.raises(Forbidden):
        await competency_report("AR", None, principal, uow)


async def test_revoked_expired_and_suspended_awards_are_not_held_but_a_reinstated_one_is(uow: Any, build: Any) -> None:
    revoked = await _held_in_ar(uow, build, "Pulaski County")
    await uow.awards.record_revocation(revoked.award_id, "not their own", datetime(2025, 6, 1, tzinfo=UTC))
    expired = await _held_in_ar(uow, build, "Pulaski County", competency="Expired practice")
    uow.awards.rows[expired.award_id] = type(expired)(**{**expired.__dict__,
                                                         "valid_until": datetime.now(UTC) - timedelta(days=1)})
    suspended = await _held_in_ar(uow, build, "Pulaski County", competency="Suspended practice")
    reinstated = await _held_in_ar(uow, build, "Pulaski County", competency="Reinstated practice")
    for award, kinds in ((suspended, ["suspended"]), (reinstated, ["suspended", "reinstated"])):
        for day, kind in enumerate(kinds, start=1):
            await uow.awards.record_status_change(StatusChange(award_id=award.award_id, status=kind,
                                                               changed_at=datetime(2025, 5, day, tzinfo=UTC),
                                                               reason="x"))
    matrix = await competency_report("AR", None, AR_ADMIN, uow)
    assert [row.competency for row in matrix.competencies] == ["Reinstated practice"]
    assert [(row.district, row.licensed_teachers) for row in matrix.districts] == [("Pulaski County", 4)]


# -- over HTTP ----------------------------------------------------------------------------------------------------


@pytest.fixture
def tokens(tmp_path: Path) -> DevTokenIssuer:
    return DevTokenIssuer(tmp_path / "auth")


@pytest.fixture
def http(uow: Any, tokens: DevTokenIssuer) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.verifier = JwtVerifier(tokens.jwks_url, issuer=tokens.issuer, audience=tokens.audience)
    install_error_handlers(app)
    app.include_router(create_router(lambda: uow))
    with TestClient(app) as client:
        yield client


def bearer(tokens: DevTokenIssuer, principal: Principal) -> dict[str, str]:
    token = tokens.mint(principal.subject, list(principal.roles), states=list(principal.states),
                        district=principal.district)
    return {"Authorization": f"Bearer {token}"}


async def test_the_competency_report_answers_the_matrix_with_every_cell(
    http: TestClient, tokens: DevTokenIssuer, uow: Any, build: Any
) -> None:
    await _held_in_ar(uow, build, "Pulaski County")
    await uow.licenses.add_once(build.license(teacher_id="nobody-yet", state="AR", district="Pulaski County"))
    answer = http.get("/states/AR/reports/competencies", headers=bearer(tokens, PULASKI))
    assert answer.status_code == 200
    (credential_name,) = answer.json()["competencies"][0]["credentials"]
    assert answer.json() == {
        "state": "AR",
        "competencies": [{"competency": FORMATIVE, "recorded": True, "credentials": [credential_name]}],
        "districts": [{"district": "Pulaski County", "licensed_teachers": 2,
                       "holders": [{"competency": FORMATIVE, "teachers": 1}]}],
    }


def test_the_competency_report_refuses_another_state_in_the_one_error_shape(
    http: TestClient, tokens: DevTokenIssuer
) -> None:
    refused = http.get("/states/TN/reports/competencies", headers=bearer(tokens, PULASKI))
    assert refused.status_code == 403 and refused.json()["error"] == "not_state_admin"
    assert http.get("/states/AR/reports/competencies").status_code == 401
    assert http.get("/states/ar/reports/competencies", headers=bearer(tokens, AR_ADMIN)).status_code == 422


async def test_a_district_admin_downloads_their_own_districts_credits_only(
    http: TestClient, tokens: DevTokenIssuer, uow: Any, build: Any
) -> None:
    for district in ("Pulaski County", "Benton County"):
        license = build.license(state="AR", district=district, teacher_id=f"t-{district}")
        await uow.licenses.add_once(license)
        await uow.ledger.append_once(LedgerEntry(
            entry_id=uuid4(), license_id=license.license_id, award_id=uuid4(), kind=EntryKind.CREDIT,
            amount=Decimal(15), unit="hours", rule_set_id="AR-2024", rule_set_version=2, earned_on=date.today(),
            posted_at=datetime.now(UTC)))
    today = date.today().isoformat()
    params = {"start": today, "end": today, "district": "Benton County"}
    district_csv = http.get("/states/AR/reports/credits", params=params, headers=bearer(tokens, PULASKI)).text
    assert [line.split(",")[0] for line in district_csv.splitlines()[1:]] == ["Pulaski County"]
    state_csv = http.get("/states/AR/reports/credits", params=params, headers=bearer(tokens, AR_ADMIN)).text
    assert [line.split(",")[0] for line in state_csv.splitlines()[1:]] == ["Benton County"]
    everything = http.get("/states/AR/reports/credits", params={"start": today, "end": today},
                          headers=bearer(tokens, AR_ADMIN)).text
    assert len(everything.splitlines()) == 3
