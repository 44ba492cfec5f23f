"""Recognition views over HTTP: a teacher's own standing, the programs in words, a program's holders, and the
incentive report for payroll (JSON, and CSV at its own path, so each operation documents the one media type it
answers with). Translation only; the use cases are service_layer.recognition_queries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from microcred.licensure.domain.model import License
from microcred.licensure.domain.recognition import Program, Progress
from microcred.licensure.domain.recognition.standing import DatedEntry, IncentiveLine, Standing, signed
from microcred.licensure.entrypoints.api import CsvResponse, amount_text
from microcred.licensure.entrypoints.csv_export import SafeCsv
from microcred.licensure.service_layer import recognition_queries as queries
from microcred.licensure.service_layer.unit_of_work import LicensureUnitOfWork
from microcred.runtime.api import api_router, media
from microcred.runtime.api_types import Count, PageOffset, StateCode, Text
from microcred.runtime.auth import CurrentPrincipal, Principal, Role, require

State = Annotated[StateCode, Path()]
ProgramId = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._-]+$")]
District = Annotated[Text | None, Query(max_length=200, description=(
    "One district's teachers only. A district admin always gets their own district's."))]
Year = Annotated[Count, Query(ge=2000, le=2100, description="The incentive year, as the program counts years.")]
TOTAL_HEADER = "X-Total-Count"
TOTAL_COUNTED: dict[int | str, dict[str, Any]] = {200: {"headers": {TOTAL_HEADER: {
    "description": "How many match the filter in all, across every page.", "schema": {"type": "integer"}}}}}


def _amount(value: Any) -> str | None:
    return None if value is None else amount_text(value)


def program_view(about: queries.ProgramInWords) -> dict[str, Any]:
    p = about.program
    role = p.outcome.role
    return {
        "program_id": p.program_id, "version": p.version, "name": p.name, "state": p.state, "district": p.district,
        "owner": p.owner, "effective_from": p.effective_from.isoformat(),
        "effective_to": None if p.effective_to is None else p.effective_to.isoformat(),
        "outcome": {"kind": p.outcome.kind, "label": p.outcome.label, "amount": _amount(p.outcome.amount),
                    "unit": p.outcome.unit, "role": None if role is None else role.model_dump()},
        "rule_kind": p.rule.kind, "summary": about.summary, "options": about.options,
        "confirm_with_agency": p.confirm_with_agency, "note": p.note,
    }


def entry_view(dated: DatedEntry) -> dict[str, Any]:
    e = dated.entry
    return {"entry_id": str(dated.entry_id), "kind": e.kind, "recorded_at": dated.recorded_at.isoformat(),
            "amount": _amount(e.amount), "program_version": e.program_version, "year": e.year,
            "award_ids": [str(a) for a in e.award_ids], "reason": e.reason, "pending": e.pending}


def standing_view(standing: Standing, unit: str | None) -> dict[str, Any]:
    h = standing.holding
    return {"key": h.key, "status": h.status, "amount": _amount(h.amount), "unit": unit, "year": h.year,
            "since": standing.since.isoformat(), "program_version": standing.program_version,
            "award_ids": [str(a) for a in h.award_ids]}


def progress_view(progress: Progress) -> dict[str, Any]:
    return {"have": amount_text(progress.have), "need": None if progress.need is None else amount_text(progress.need), "toward": progress.toward,
            "text": str(progress)}


def named_view(pairs: list[Any]) -> list[dict[str, str]]:
    return [{"credential_id": str(i), "name": name} for i, name in pairs]


def licenses_view(licenses: list[License]) -> list[dict[str, Any]]:
    return [{"license_number": lic.license_number, "district": lic.district} for lic in licenses]


def _districts(program: Program | None, licenses: list[License]) -> list[str]:
    if program is not None and program.district is not None:
        return [program.district]
    return sorted({lic.district for lic in licenses if lic.district is not None})


def line_view(line: IncentiveLine, licenses: list[License], unit: str | None) -> dict[str, Any]:
    return {"teacher_id": line.teacher_id, "licenses": licenses_view(licenses),
            "districts": _districts(None, licenses), "program_id": line.program_id, "year": line.year,
            "status": line.status, "net_amount": amount_text(line.net), "owed": amount_text(line.owed), "unit": unit,
            "entries": [entry_view(d) for d in line.entries]}


# Payroll reconciles a payment against the ledger, so the CSV is one row per ledger entry under one row per
# line, told apart by ``row``: a clerk filters row=line for what to pay, and row=entry for what it rests on; the
# signed entry amounts of a line add up to its net_amount. Every row repeats the line's teacher, licenses,
# program and year, so sorting or filtering in a spreadsheet never separates an entry from its line, and no
# column mixes line totals with entry amounts (summing the amount column of one row kind never double counts).
INCENTIVE_COLUMNS = ("row", "teacher_id", "license_numbers", "districts", "program_id", "year", "status",
                     "net_amount", "owed", "unit", "entry_id", "entry_kind", "entry_recorded_at", "entry_amount",
                     "program_version", "award_ids", "reason")


def incentive_csv(lines: list[tuple[IncentiveLine, list[License]]], units: dict[str, str | None]) -> str:
    writer = SafeCsv()
    writer.row(INCENTIVE_COLUMNS)
    for line, licenses in lines:
        unit = units.get(line.program_id) or ""
        common = [line.teacher_id, " ".join(lic.license_number for lic in licenses),
                  "; ".join(_districts(None, licenses)), line.program_id, line.year]
        writer.row(["line", *common, line.status, amount_text(line.net), amount_text(line.owed), unit,
                         "", "", "", "", "", "", ""])
        for dated in line.entries:
            e = dated.entry
            writer.row(["entry", *common, "", "", "", unit, dated.entry_id, e.kind,
                             dated.recorded_at.isoformat(), amount_text(signed(e)), e.program_version,
                             " ".join(str(a) for a in e.award_ids), e.reason])
    return writer.text()


def create_recognition_router(uow: Callable[[], LicensureUnitOfWork], programs: Sequence[Program]) -> APIRouter:
    router = api_router()
    units = {p.program_id: p.outcome.unit for p in programs}

    @router.get("/recognitions/me", tags=["recognitions"])
    async def my_recognitions(principal: Annotated[Principal, require(Role.TEACHER)]) -> dict[str, Any]:
        """Every program in force for the caller's licenses: what they hold, their progress ("4 of 6 for
        Mentor Teacher"), the credentials that count and those still missing."""
        found = await queries.my_recognitions(principal, uow(), programs)
        return {"teacher_id": principal.subject, "programs": [
            program_view(mine.about) | {
                "held": [standing_view(s, mine.about.program.outcome.unit) for s in mine.held],
                "progress": progress_view(mine.progress), "counted": named_view(mine.counted),
                "missing": named_view(mine.missing), "could_count": named_view(mine.could_count),
            } for mine in found]}

    @router.get("/recognitions/programs", tags=["recognitions"])
    async def recognition_programs(
        state: Annotated[StateCode | None, Query()] = None,
        district: Annotated[Text | None, Query(max_length=200, description=(
            "A district's own programs and its state's."))] = None,
    ) -> list[dict[str, Any]]:
        """The version in force of every recognition program: public, so teachers and staff know what exists."""
        return [program_view(p) for p in await queries.programs_in_words(uow(), programs, state, district)]

    @router.get("/states/{state}/recognitions/{program_id}/holders", tags=["recognitions"], responses=TOTAL_COUNTED)
    async def program_holders(
        response: Response, state: State, program_id: ProgramId, principal: CurrentPrincipal,
        district: District = None,
        status: Annotated[queries.HolderStatus, Query(description=(
            "granted: holding it now; pending: waiting for the district's approval; declined."))] = "granted",
        limit: Annotated[Count, Query(ge=1, le=200)] = 50,
        offset: Annotated[PageOffset, Query()] = 0,
    ) -> list[dict[str, Any]]:
        """The teachers whose outcome has the status: an eligibility program's eligibility list, a designation's
        roster. Longest held first; X-Total-Count says how many in all."""
        total, found = await queries.holders(state, program_id, district, status, principal, uow(), programs,
                                             limit=limit, offset=offset)
        response.headers[TOTAL_HEADER] = str(total)
        return [{"teacher_id": h.standing.teacher_id, "licenses": licenses_view(h.licenses),
                 "districts": _districts(h.program, h.licenses), "program_id": h.program.program_id}
                | standing_view(h.standing, h.program.outcome.unit) for h in found]

    @router.get("/states/{state}/reports/incentives", tags=["reports"])
    async def incentive_report(state: State, principal: CurrentPrincipal, year: Year, district: District = None
                               ) -> list[dict[str, Any]]:
        """Incentives of a year: one line per teacher, program and year, with every ledger entry behind it.
        ``owed`` is what payroll pays: the net once granted (approved, where the district approves)."""
        lines = await queries.incentive_report(state, year, district, principal, uow(), programs)
        return [line_view(line, licenses, units.get(line.program_id)) for line, licenses in lines]

    @router.get("/states/{state}/reports/incentives.csv", tags=["reports"], response_class=CsvResponse,
                responses=media("text/csv", "A line row per teacher, program and year, each followed by the rows of "
                                "its ledger entries; a header row first."))
    async def incentive_report_csv(state: State, principal: CurrentPrincipal, year: Year,
                                   district: District = None) -> Response:
        """The incentive report as CSV for payroll: the same lines, with their entries as rows beneath them."""
        lines = await queries.incentive_report(state, year, district, principal, uow(), programs)
        return Response(incentive_csv(lines, units), media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{state}-incentives-{year}.csv"'})

    return router
