"""What the recognition pages show, worked out from what licensure answers. Pure: no HTTP here.

Licensure says what a program is, what a teacher holds and how far they are, in its own words (the program's
summary, "4 of 6 for Mentor Teacher"); these functions only put them in the order and the phrases a page reads
in: statuses as sentences, dates as days, amounts with their unit, and nothing told by colour alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

OUTCOME_WORDS = {"salary_step": "Salary step", "designation": "Designation", "eligibility": "Eligibility for a role",
                 "incentive": "Incentive", "equivalency_hours": "Master's equivalency hours"}
# Rules over a stack or pathway the catalog describes: until it has, licensure counts "0 of 0", which says nothing.
NEEDS_CATALOG = {"complete_stack", "complete_pathway", "eligibility"}
UNDESCRIBED = "Progress cannot be shown yet: the catalog has not described the credentials this program needs."
ENTRY_WORDS = {"grant": "Granted", "reverse": "Reversed", "approve": "Approved", "decline": "Declined"}


def _day(value: str | None) -> str:
    return (value or "")[:10]


def _amount(value: str | None, unit: str | None) -> str:
    if value is None:
        return ""
    try:
        number = format(Decimal(value).normalize(), "f")
    except InvalidOperation:
        number = value
    return f"{number} {unit}" if unit else number


def status_words(status: str, district: str | None) -> str:
    approver = district or "the district"
    return {"granted": "Granted", "pending": f"Waiting for {approver}'s approval",
            "declined": f"Declined by {approver}"}.get(status, status)


@dataclass(frozen=True)
class Held:
    words: str  # "Granted on 2026-01-15 under version 1"
    amount: str  # "500 USD for 2026", or "" for an outcome without one


@dataclass(frozen=True)
class TeacherProgram:
    program_id: str
    name: str
    owner: str
    outcome: str
    summary: str
    options: list[str]
    example_note: str  # the agency's caveat on a shipped example; "" for a program the agency confirmed
    progress: str
    bar_max: str | None  # for a <progress> element; None where there is nothing to be "of"
    bar_value: str
    held: list[Held]
    counted: list[str]
    missing: list[str]
    could_count: list[str]


def teacher_programs(answer: dict[str, Any]) -> list[TeacherProgram]:
    """``GET /recognitions/me`` as the teacher's page lists it: programs they hold something in first."""
    found = []
    for p in answer.get("programs", []):
        progress = p["progress"]
        # No "need" (an incentive without a yearly cap): the amount stands alone, with no bar to fill.
        need = None if progress["need"] is None else Decimal(progress["need"])
        have = Decimal(progress["have"])
        unit = p["outcome"]["unit"]
        held = [Held(f"{status_words(h['status'], p['district'])} since {_day(h['since'])} "
                     f"(version {h['program_version']})",
                     f"{_amount(h['amount'], h.get('unit') or unit)} for {h['year']}" if h["amount"] is not None else "")
                for h in p["held"]]
        found.append(TeacherProgram(
            program_id=p["program_id"], name=p["name"], owner=p["owner"],
            outcome=f"{OUTCOME_WORDS.get(p['outcome']['kind'], p['outcome']['kind'])}: {p['outcome']['label']}",
            summary=p["summary"], options=list(p["options"]),
            example_note="This program is an example: confirm it with the agency before relying on it."
            if p["confirm_with_agency"] else "",
            progress=progress["text"] if need is None or need > 0 or p["rule_kind"] not in NEEDS_CATALOG
            else UNDESCRIBED,
            bar_max=str(need) if need else None, bar_value=str(have if need is None else min(have, need)),
            held=held, counted=[c["name"] for c in p["counted"]], missing=[c["name"] for c in p["missing"]],
            could_count=[c["name"] for c in p["could_count"]],
        ))
    return sorted(found, key=lambda t: (not t.held, t.name.casefold()))


@dataclass(frozen=True)
class ProgramRow:
    program_id: str
    name: str
    owner: str
    district: str | None
    outcome: str
    summary: str
    options: list[str]
    example: bool
    incentive: bool


def program_rows(answer: list[dict[str, Any]]) -> list[ProgramRow]:
    """The state's programs, its own first, then each district's."""
    rows = [ProgramRow(p["program_id"], p["name"], p["owner"], p["district"],
                       f"{OUTCOME_WORDS.get(p['outcome']['kind'], p['outcome']['kind'])}: {p['outcome']['label']}",
                       p["summary"], list(p["options"]), bool(p["confirm_with_agency"]),
                       p["outcome"]["kind"] == "incentive") for p in answer]
    return sorted(rows, key=lambda r: (r.district is not None, (r.district or "").casefold(), r.name.casefold()))


@dataclass(frozen=True)
class HolderRow:
    teacher_id: str
    licenses: str
    districts: str
    since: str
    status: str
    amount: str
    version: int
    awards: int


def holder_rows(answer: list[dict[str, Any]]) -> list[HolderRow]:
    return [HolderRow(h["teacher_id"], ", ".join(lic["license_number"] for lic in h["licenses"]) or "—",
                      ", ".join(h["districts"]) or "—", _day(h["since"]),
                      status_words(h["status"], (h["districts"] or [None])[0]),
                      _amount(h["amount"], h["unit"]), h["program_version"], len(h["award_ids"])) for h in answer]


@dataclass(frozen=True)
class EntryRow:
    entry_id: str
    kind: str
    day: str
    amount: str
    version: int
    awards: str


@dataclass(frozen=True)
class IncentiveRow:
    teacher_id: str
    licenses: str
    districts: str
    program: str
    year: int
    status: str
    net: str
    owed: str
    entries: list[EntryRow]


def _signed(entry: dict[str, Any], unit: str | None) -> str:
    amount = _amount(entry["amount"], unit)
    if not amount:
        return "—"
    return f"-{amount}" if entry["kind"] == "reverse" else amount if entry["kind"] == "grant" else f"({amount})"


def incentive_rows(answer: list[dict[str, Any]], names: dict[str, str]) -> list[IncentiveRow]:
    """The report's lines, each with its ledger entries; ``names``: program id -> name."""
    rows = []
    for line in answer:
        unit = line["unit"]
        rows.append(IncentiveRow(
            teacher_id=line["teacher_id"],
            licenses=", ".join(lic["license_number"] for lic in line["licenses"]) or "—",
            districts=", ".join(line["districts"]) or "—", program=names.get(line["program_id"], line["program_id"]),
            year=line["year"], status=status_words(line["status"], (line["districts"] or [None])[0]),
            net=_amount(line["net_amount"], unit), owed=_amount(line["owed"], unit),
            entries=[EntryRow(e["entry_id"], ENTRY_WORDS.get(e["kind"], e["kind"]), _day(e["recorded_at"]),
                              _signed(e, unit), e["program_version"], ", ".join(e["award_ids"]))
                     for e in line["entries"]],
        ))
    return rows


def owed_total(answer: list[dict[str, Any]]) -> str:
    """What the report's lines owe in all, per unit ("1500 USD"), for the page's summary sentence."""
    totals: dict[str, Decimal] = {}
    for line in answer:
        unit = line["unit"] or ""
        totals[unit] = totals.get(unit, Decimal(0)) + Decimal(line["owed"])
    return ", ".join(_amount(str(total), unit) for unit, total in sorted(totals.items())) or "nothing"
