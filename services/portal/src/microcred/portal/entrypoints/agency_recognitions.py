"""State and district staff's recognition pages: the state's programs, a program's holders (the eligibility list
of a hard-to-staff role, a designation's roster), and the incentive report for payroll (table and CSV).

As everywhere in the agency area, licensure scopes what it answers to the person's token: a district admin's
holders and incentives are their district's whatever the address asks, so the portal filters nothing itself.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.responses import Response

from microcred.portal.adapters.platform_api import Refused, ServiceDown
from microcred.portal.adapters.sessions import SignedIn
from microcred.portal.domain import recognitions
from microcred.portal.domain.refusals import Problems, problems_of
from microcred.portal.entrypoints.agency import area, reads_every_district, state_of, today
from microcred.portal.entrypoints.failures import outage_notice
from microcred.portal.entrypoints.web import SignedInSession, api_of, not_found, render, user_of

PROGRAM_ID = re.compile(r"^[A-Za-z0-9._-]{1,80}$")
STATUSES = {"granted": "Holding it now", "pending": "Waiting for approval", "declined": "Declined"}
PAGE = 50


def _district(request: Request, every_district: bool) -> str:
    """The district asked for, where the person reads every district; the service scopes everyone else."""
    return request.query_params.get("district", "").strip()[:200] if every_district else ""


def _own_district(user: SignedIn) -> str | None:
    """A district admin is shown the state's programs and their own district's, not other districts'."""
    return None if reads_every_district(user) else user.district


def _year(request: Request, problems: Problems) -> str:
    asked = request.query_params.get("year", "").strip()
    if not asked:
        return str(today().year)
    if not (asked.isdigit() and 2000 <= int(asked) <= 2100):
        problems.add("year", "Enter a year from 2000 to 2100, like 2026.")
    return asked


def create_router() -> APIRouter:
    router = APIRouter(prefix="/agency")

    @router.get("/recognitions")
    async def programs(request: Request, session: SignedInSession) -> Response:
        user = user_of(session)
        state = state_of(request, user)
        rows, outage = None, None
        try:
            rows = recognitions.program_rows(await api_of(request).recognition_programs(
                user.access_token, state, _own_district(user)))
        except ServiceDown as exc:
            outage = outage_notice(exc)
        return render(request, "agency_recognitions.html", {
            "title": "Recognition programs", "rows": rows, "outage": outage,
            **area(request, user, state, "recognitions")}, status_code=503 if outage else 200)

    @router.get("/recognitions/{program_id}")
    async def holders(request: Request, program_id: str, session: SignedInSession) -> Response:
        if not PROGRAM_ID.match(program_id):
            return not_found(request, "There is no recognition program at this address.")
        user = user_of(session)
        state = state_of(request, user)
        every = reads_every_district(user)
        status = request.query_params.get("status", "granted")
        status = status if status in STATUSES else "granted"
        district = _district(request, every)
        page = request.query_params.get("page", "1")
        number = int(page) if page.isdigit() and 0 < int(page) <= 10_000 else 1
        api = api_of(request)
        params: dict[str, Any] = {"status": status, "limit": PAGE, "offset": (number - 1) * PAGE}
        if district:
            params["district"] = district
        outage, rows, total, program = None, None, 0, None
        try:
            found = await api.recognition_programs(user.access_token, state, _own_district(user))
            program = next((p for p in recognitions.program_rows(found) if p.program_id == program_id), None)
            total, answer = await api.recognition_holders(user.access_token, state, program_id, params)
            rows = recognitions.holder_rows(answer)
        except ServiceDown as exc:
            outage = outage_notice(exc)
        except Refused as exc:
            if exc.refusal.status == 404:
                return not_found(request, f"{state} has no recognition program {program_id}.")
            raise
        pages = max(1, -(-total // PAGE))
        keep = {"state": state, "status": status} | ({"district": district} if district else {})
        return render(request, "agency_recognition_holders.html", {
            "title": program.name if program else program_id, "program": program, "rows": rows, "total": total,
            "status": status, "statuses": STATUSES, "district": district, "page": number, "pages": pages,
            "keep": keep, "outage": outage, **area(request, user, state, "recognitions")},
            status_code=503 if outage else 200)

    @router.get("/reports/incentives")
    async def incentives(request: Request, session: SignedInSession) -> Response:
        user = user_of(session)
        state = state_of(request, user)
        problems = Problems()
        year = _year(request, problems)
        district = _district(request, reads_every_district(user))
        params = {"year": year} | ({"district": district} if district else {})
        rows, total, outage = None, "", None
        if not problems:
            try:
                api = api_of(request)
                answer = await api.incentive_report(user.access_token, state, params)
                names = {p["program_id"]: p["name"] for p in await api.recognition_programs(user.access_token, state)}
                rows, total = recognitions.incentive_rows(answer, names), recognitions.owed_total(answer)
            except ServiceDown as exc:
                outage = outage_notice(exc)
            except Refused as exc:
                problems = problems_of(exc.refusal, {"year": "year", "district": "district"}, dict(params))
        return render(request, "agency_incentives.html", {
            "title": "Incentives report", "form": {"year": year, "district": district}, "rows": rows,
            "total": total, "problems": problems, "outage": outage, "download": params | {"state": state},
            **area(request, user, state, "incentives")}, status_code=422 if problems else 503 if outage else 200)

    @router.get("/reports/incentives.csv")
    async def incentives_csv(request: Request, session: SignedInSession) -> Response:
        user = user_of(session)
        state = state_of(request, user)
        problems = Problems()
        year = _year(request, problems)
        if problems:
            return render(request, "error.html", {"title": "Not a year", "message": problems.fields["year"][0]}, 422)
        district = _district(request, reads_every_district(user))
        params = {"year": year} | ({"district": district} if district else {})
        stream = await api_of(request).incentive_report_csv(user.access_token, state, params)
        return StreamingResponse(stream, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{state}-incentives-{year}.csv"', "Cache-Control": "no-store"})

    return router
