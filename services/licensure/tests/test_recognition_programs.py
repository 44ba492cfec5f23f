"""Recognition programs as data: what a program may say, which version is in force, the shipped files."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from microcred.licensure.adapters.program_files import parse_program_file, shipped_programs
from microcred.licensure.domain.recognition import CompleteStack, Program, program_in_force

MENTOR_STACK = UUID("6e4f4a1a-a5c8-565f-a5e5-810f6bd641e3")


def terms(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "program_id": "P", "version": 1, "state": "AR", "name": "Test", "effective_from": "2025-01-01",
        "outcome": {"kind": "salary_step", "label": "Lane step", "amount": "1000", "unit": "USD"},
        "rule": {"kind": "count_from_set", "from_set": {"any_credential": True}, "count": 5},
    }
    return {**base, **changes}


def test_a_rule_gives_only_the_outcomes_of_its_kind() -> None:
    with pytest.raises(ValidationError, match="a count_from_set rule gives designation, salary_step, not incentive"):
        Program.model_validate(terms(outcome={"kind": "incentive", "label": "x", "amount": "1", "unit": "USD"}))


def test_a_credential_set_names_something_and_any_stands_alone() -> None:
    for bad in ({}, {"any_credential": True, "credentials": [str(UUID(int=1))]}):
        with pytest.raises(ValidationError):
            Program.model_validate(terms(rule={"kind": "count_from_set", "from_set": bad, "count": 5}))


def test_district_approval_needs_a_district() -> None:
    with pytest.raises(ValidationError, match="needs the program's district"):
        Program.model_validate(terms(requires_district_approval=True))
    assert Program.model_validate(terms(requires_district_approval=True, district="Pulaski County")).owner == (
        "Pulaski County, AR")


def test_a_program_ends_after_it_starts_and_an_amount_has_a_unit() -> None:
    with pytest.raises(ValidationError, match="effective_to is before effective_from"):
        Program.model_validate(terms(effective_to="2024-12-31"))
    with pytest.raises(ValidationError, match="amount and unit go together"):
        Program.model_validate(terms(outcome={"kind": "salary_step", "label": "Lane step", "amount": "1000"}))
    with pytest.raises(ValidationError, match="needs the outcome's amount"):
        Program.model_validate(terms(outcome={"kind": "incentive", "label": "x"},
                                     rule={"kind": "incentive_per_credential", "from_set": {"any_credential": True}}))


def test_the_latest_effective_version_is_in_force_and_an_ended_one_is_not() -> None:
    first = Program.model_validate(terms())
    second = Program.model_validate(terms(version=2, effective_from="2026-01-01", effective_to="2026-12-31"))
    assert program_in_force([first, second], "P", date(2025, 6, 1)) == first
    assert program_in_force([second, first], "P", date(2026, 6, 1)) == second
    assert program_in_force([second, first], "P", date(2027, 1, 1)) == first
    assert program_in_force([first], "P", date(2024, 12, 31)) is None
    assert program_in_force([first], "OTHER", date(2025, 6, 1)) is None


def test_a_program_year_is_named_by_the_year_it_starts_in() -> None:
    program = Program.model_validate(terms(program_year_starts="07-01"))
    assert program.year_of(date(2025, 6, 30), "program") == 2024
    assert program.year_of(date(2025, 7, 1), "program") == 2025
    assert program.year_of(date(2025, 6, 30), "calendar") == 2025


def test_every_shipped_program_loads_and_asks_to_be_confirmed_with_its_agency() -> None:
    programs = {p.program_id: p for p in shipped_programs()}
    assert set(programs) == {"LA-MENTOR-TEACHER", "AR-TEACHER-LEADER", "AR-PULASKI-LANE-STEPS",
                             "AR-PULASKI-SECONDARY-SCIENCE", "AR-PULASKI-LITERACY-INCENTIVE",
                             "AR-PULASKI-MASTERS-EQUIVALENCY"}
    assert all(p.confirm_with_agency and "confirm with the" in p.note for p in programs.values())
    kinds = {p.rule.kind for p in programs.values()}
    assert kinds == {"complete_stack", "complete_pathway", "count_from_set", "eligibility",
                     "incentive_per_credential", "equivalency_hours"}
    mentor = programs["LA-MENTOR-TEACHER"]
    assert isinstance(mentor.rule, CompleteStack) and mentor.rule.stack_id == MENTOR_STACK
    assert (mentor.state, mentor.outcome.label) == ("LA", "Mentor Teacher")
    lanes = programs["AR-PULASKI-LANE-STEPS"]
    assert lanes.district == "Pulaski County" and lanes.rule.kind == "count_from_set"
    assert (lanes.rule.count, lanes.rule.max_per_year, lanes.rule.from_set.any_credential) == (5, 1, True)


def file_text(**changes: Any) -> str:
    body: dict[str, Any] = {
        "program_id": "P", "state": "AR", "agency": "DESE", "confirm_with_agency": True, "note": "example",
        "versions": [{"version": 1, "name": "Test", "effective_from": "2025-01-01",
                      "outcome": {"kind": "designation", "label": "Leader"},
                      "rule": {"kind": "complete_stack", "stack_id": str(MENTOR_STACK)}}],
    }
    return json.dumps({**body, **changes})


def test_a_bad_file_is_refused_naming_the_file_and_the_field() -> None:
    version = json.loads(file_text())["versions"][0]
    bad_rule = {**version, "rule": {"kind": "count_from_set", "from_set": {"any_credential": True}, "count": 0}}
    with pytest.raises(ValueError, match=r"program file X\.json is invalid: versions\[0\]\.rule\.count_from_set\."
                                         r"count: Input should be greater than or equal to 1"):
        parse_program_file(file_text(versions=[bad_rule]), "X.json")
    with pytest.raises(ValueError, match=r"X\.json is invalid: versions\[0\]\.rule: Input tag 'five' found using "):
        parse_program_file(file_text(versions=[{**version, "rule": {"kind": "five"}}]), "X.json")
    with pytest.raises(ValueError, match=r"X\.json is invalid: confirm_with_agency: Field required"):
        parse_program_file(json.dumps({k: v for k, v in json.loads(file_text()).items()
                                       if k != "confirm_with_agency"}), "X.json")


def test_a_file_says_its_owner_once_and_each_version_number_once() -> None:
    version = json.loads(file_text())["versions"][0]
    with pytest.raises(ValueError, match=r"versions\[0\]\.state: said once for the whole file"):
        parse_program_file(file_text(versions=[{**version, "state": "TN"}]), "X.json")
    with pytest.raises(ValueError, match="a version number appears twice"):
        parse_program_file(file_text(versions=[version, version]), "X.json")
    with pytest.raises(ValueError, match=r"program file X\.json is not JSON"):
        parse_program_file("{", "X.json")


def test_a_file_with_two_versions_gives_both_with_the_files_owner() -> None:
    version = json.loads(file_text())["versions"][0]
    later = {**version, "version": 2, "effective_from": "2026-01-01"}
    programs = parse_program_file(file_text(district="Pulaski County", versions=[version, later]), "X.json")
    assert [(p.version, p.district, p.state) for p in programs] == [(1, "Pulaski County", "AR"),
                                                                     (2, "Pulaski County", "AR")]
