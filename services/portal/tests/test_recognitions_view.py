"""The recognition pages' view logic: a teacher's programs in the order and words the page reads, the holders' and
the incentive report's rows with their units and signs."""

from __future__ import annotations

from typing import Any

from microcred.portal.domain.recognitions import (
    holder_rows,
    incentive_rows,
    owed_total,
    program_rows,
    teacher_programs,
)


def program(program_id: str, name: str, **extra: Any) -> dict[str, Any]:
    # As licensure answers (services/licensure entrypoints/recognitions_api.py program_view).
    return {"program_id": program_id, "version": 1, "name": name, "state": "AR", "district": "Pulaski County",
            "owner": "Pulaski County, AR", "outcome": {"kind": "eligibility", "label": "Science", "amount": None,
                                                      "unit": None, "role": None},
            "summary": "Holding every credential of a stack of 3 credentials makes a teacher eligible for Science.",
            "options": ["A credential's revocation takes the outcome back."], "confirm_with_agency": True, "note": "",
            "rule_kind": "complete_stack", **extra}


def mine(program_id: str, name: str, held: list[dict[str, Any]], have: str, need: str) -> dict[str, Any]:
    return program(program_id, name) | {
        "held": held, "progress": {"have": have, "need": need, "toward": "for Science", "text": f"{have} of {need}"},
        "counted": [{"credential_id": "c1", "name": "Lab Safety 1"}],
        "missing": [{"credential_id": "c3", "name": "Lab Safety 3"}], "could_count": []}


def test_a_teachers_programs_put_what_they_hold_first_with_its_status_in_words() -> None:
    granted = {"key": "complete", "status": "pending", "amount": "500.0000", "unit": "USD", "year": 2026,
               "since": "2026-03-04T10:00:00+00:00", "program_version": 2, "award_ids": ["a"]}
    shown = teacher_programs({"teacher_id": "t", "programs": [
        mine("A", "Alpha", [], "2", "3"), mine("B", "Beta", [granted], "3", "3"), mine("C", "Cap", [], "0", "0")]})
    assert [p.name for p in shown] == ["Beta", "Alpha", "Cap"]
    beta, alpha, cap = shown
    assert beta.held[0].words == "Waiting for Pulaski County's approval since 2026-03-04 (version 2)"
    assert beta.held[0].amount == "500 USD for 2026"
    assert (alpha.progress, alpha.bar_max, alpha.bar_value) == ("2 of 3", "3", "2")
    assert alpha.missing == ["Lab Safety 3"] and alpha.counted == ["Lab Safety 1"]
    assert alpha.outcome == "Eligibility for a role: Science" and alpha.example_note
    assert cap.bar_max is None  # nothing to be "of": no progress bar, and no "0 of 0" either
    assert cap.progress.startswith("Progress cannot be shown yet")


def test_programs_list_the_states_own_before_each_districts() -> None:
    rows = program_rows([program("D", "District one"), program("S", "State one", district=None, owner="AR")])
    assert [r.program_id for r in rows] == ["S", "D"]


def test_holders_and_incentive_lines_read_with_units_and_signed_entries() -> None:
    (holder,) = holder_rows([{"teacher_id": "t-1", "licenses": [{"license_number": "AR-1", "district": "Pulaski"}],
                              "districts": ["Pulaski"], "program_id": "P", "key": "complete", "status": "granted",
                              "amount": None, "unit": None, "year": 2026, "since": "2026-01-02T00:00:00+00:00",
                              "program_version": 1, "award_ids": ["a", "b"]}])
    assert (holder.licenses, holder.since, holder.status, holder.amount, holder.awards) == (
        "AR-1", "2026-01-02", "Granted", "", 2)
    entry = {"entry_id": "e", "recorded_at": "2026-01-02T00:00:00+00:00", "program_version": 1, "year": 2026,
             "award_ids": ["a"], "reason": "", "pending": False}
    answer = [{"teacher_id": "t-1", "licenses": [], "districts": [], "program_id": "P", "year": 2026,
               "status": "granted", "net_amount": "400", "owed": "400", "unit": "USD",
               "entries": [entry | {"kind": "grant", "amount": "500"}, entry | {"kind": "reverse", "amount": "100"},
                           entry | {"kind": "approve", "amount": "400"}]}]
    (line,) = incentive_rows(answer, {"P": "Literacy incentive"})
    assert (line.program, line.owed, line.licenses) == ("Literacy incentive", "400 USD", "—")
    assert [e.amount for e in line.entries] == ["500 USD", "-100 USD", "(400 USD)"]
    assert [e.kind for e in line.entries] == ["Granted", "Reversed", "Approved"]
    assert owed_total(answer) == "400 USD" and owed_total([]) == "nothing"
