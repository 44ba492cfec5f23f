"""A state's webhook endpoints: create one (its signing secret shown once, on the page that answers the creation),
list them, see each one's deliveries (pending, delivered, dead), replay some, delete one. A district administrator
does the same with their own district's endpoints, which licensure sends the records of that district's licenses
(it scopes what they create and list; the page only says so).

The secret is never put in a URL or a redirect: the creation's answer renders it directly, with no-store, and
licensure shows it in no other answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from microcred.portal.adapters.platform_api import Refused, ServiceDown
from microcred.portal.adapters.sessions import Session
from microcred.portal.domain import agency
from microcred.portal.domain.refusals import Problems, problems_of
from microcred.portal.entrypoints.agency import area, reads_every_district, state_of
from microcred.portal.entrypoints.failures import outage_notice
from microcred.portal.entrypoints.web import (
    Checked,
    SignedInSession,
    api_of,
    canonical_uuid,
    not_found,
    render,
    user_of,
)

PAGE_SIZE = 50  # what PlatformApi.webhook_deliveries asks for
NOT_FOUND = "There is no webhook endpoint at this address."


def create_router() -> APIRouter:
    router = APIRouter(prefix="/agency/webhooks")

    async def list_page(request: Request, session: Session, *, url: str = "", problems: Problems | None = None,
                        outage: str | None = None, status_code: int = 200) -> Response:
        user = user_of(session)
        state = state_of(request, user)
        endpoints: list[dict[str, Any]] | None = None
        problems = problems or Problems()
        try:
            endpoints = await api_of(request).webhooks(user.access_token, state)
        except ServiceDown as exc:
            outage = outage or outage_notice(exc)
        except Refused as exc:  # not theirs to manage: said on the page, the form kept
            problems.add(None, problems_of(exc.refusal, {}).general[0])
        notice = {"deleted": "The endpoint is deleted: nothing more is sent to it."}.get(
            request.query_params.get("done", ""), "")
        return render(request, "agency_webhooks.html", {
            "title": "Webhook endpoints", "endpoints": endpoints, "url": url, "problems": problems,
            "outage": outage, "notice": notice, "own_district": not reads_every_district(user),
            **area(request, user, state, "webhooks")}, status_code=status_code)

    @router.get("")
    async def endpoints(request: Request, session: SignedInSession) -> Response:
        return await list_page(request, session)

    @router.post("", dependencies=[Checked])
    async def create(request: Request, session: SignedInSession) -> Response:
        user = user_of(session)
        state = state_of(request, user)
        url = str((await request.form()).get("url", "")).strip()
        try:
            created = await api_of(request).create_webhook(user.access_token, state, url)
        except ServiceDown as exc:
            return await list_page(request, session, url=url, outage=outage_notice(exc), status_code=503)
        except Refused as exc:
            problems = problems_of(exc.refusal, {"url": "url"}, {"url": url})
            if exc.refusal.code.startswith("webhook_url"):
                # A URL the service will not send to (not https, a private address) is refused without a location.
                problems = Problems()
                problems.add("url", problems_of(exc.refusal, {}).general[0])
            return await list_page(request, session, url=url, problems=problems,
                                   status_code=exc.refusal.status if exc.refusal.status < 500 else 400)
        return render(request, "agency_webhook_created.html", {
            "title": "Webhook endpoint created", "created": created, **area(request, user, state, "webhooks")},
            status_code=201)

    async def endpoint_page(request: Request, session: Session, subscription_id: str, *,
                            problems: Problems | None = None, notice: str = "", since: str = "",
                            status_code: int = 200) -> Response:
        user = user_of(session)
        state = state_of(request, user)
        api = api_of(request)
        endpoint = next((e for e in await api.webhooks(user.access_token, state)
                         if e["subscription_id"] == subscription_id), None)
        if endpoint is None:
            return not_found(request, NOT_FOUND)
        status = request.query_params.get("status", "")
        status = status if status in agency.DELIVERY_STATUSES else ""
        raw_page = request.query_params.get("page", "1")
        page = int(raw_page) if raw_page.isdigit() and 0 < int(raw_page) < 100_000 else 1
        deliveries = await api.webhook_deliveries(user.access_token, subscription_id, status or None,
                                                  (page - 1) * PAGE_SIZE)
        return render(request, "agency_webhook.html", {
            "title": "Webhook deliveries", "endpoint": endpoint, "deliveries": deliveries, "status": status,
            "statuses": agency.DELIVERY_STATUSES, "page": page, "more": len(deliveries) == PAGE_SIZE,
            "problems": problems or Problems(), "notice": notice, "since": since,
            **area(request, user, state, "webhooks")}, status_code=status_code)

    @router.get("/{subscription_id}")
    async def endpoint(request: Request, subscription_id: str, session: SignedInSession) -> Response:
        if not canonical_uuid(subscription_id):
            return not_found(request, NOT_FOUND)
        done = request.query_params.get("requeued", "")
        notice = f"{agency.plural(int(done), 'delivery', 'deliveries')} queued to be sent again." if done.isdigit() else ""
        return await endpoint_page(request, session, subscription_id, notice=notice)

    @router.post("/{subscription_id}/replay", dependencies=[Checked])
    async def replay(request: Request, subscription_id: str, session: SignedInSession) -> Response:
        if not canonical_uuid(subscription_id):
            return not_found(request, NOT_FOUND)
        form = await request.form()
        since = str(form.get("since", "")).strip()
        body: dict[str, Any] = {}
        if form.get("what") == "selected":
            body["delivery_ids"] = [str(v) for v in form.getlist("delivery_id")]
            if not body["delivery_ids"]:
                problems = Problems()
                problems.add("delivery-0", "Choose at least one delivery to replay.")
                return await endpoint_page(request, session, subscription_id, problems=problems, status_code=422)
        else:
            # A day as the date field gives it is the start of that day in UTC; anything else goes as typed.
            body["since"] = f"{since}T00:00:00Z" if agency.parse_day(since) else since
        try:
            requeued = await api_of(request).replay_webhook(user_of(session).access_token, subscription_id, body)
        except ServiceDown as exc:
            problems = Problems()
            problems.add(None, outage_notice(exc))
            return await endpoint_page(request, session, subscription_id, problems=problems, since=since,
                                       status_code=503)
        except Refused as exc:
            problems = problems_of(exc.refusal, {"since": "since", "delivery_ids": "delivery-0"}, {"since": since})
            if exc.refusal.code == "replay_since_in_future":
                problems = Problems()
                problems.add("since", "Choose a day that is not in the future.")
            return await endpoint_page(request, session, subscription_id, problems=problems, since=since,
                                       status_code=exc.refusal.status if exc.refusal.status < 500 else 400)
        state = state_of(request, user_of(session))
        return RedirectResponse(f"/agency/webhooks/{subscription_id}?state={state}&requeued={requeued}",
                                status_code=303)

    @router.post("/{subscription_id}/delete", dependencies=[Checked])
    async def delete(request: Request, subscription_id: str, session: SignedInSession) -> Response:
        if not canonical_uuid(subscription_id):
            return not_found(request, NOT_FOUND)
        await api_of(request).delete_webhook(user_of(session).access_token, subscription_id)
        state = state_of(request, user_of(session))
        return RedirectResponse(f"/agency/webhooks?state={state}&done=deleted", status_code=303)

    return router
