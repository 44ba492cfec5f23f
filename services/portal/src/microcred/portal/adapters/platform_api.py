"""The five services' public HTTP APIs, called with the signed-in person's own bearer token.

The portal decides nothing about who may do what: a refusal comes back as :class:`Refused` with the service's
error shape, an outage (connection refused, timeout, 503 with Retry-After) as :class:`ServiceDown`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, Literal
from urllib.parse import quote

import httpx

from microcred.portal.domain.refusals import Refusal
from microcred.runtime.client_settings import ServiceUrls

log = logging.getLogger(__name__)

Service = Literal["catalog", "submission", "review", "award", "licensure"]


class Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"{refusal.service} refused ({refusal.status} {refusal.code}): {refusal.detail}")
        self.refusal = refusal


class ServiceDown(Exception):
    """The service did not answer, or answered that it cannot right now (503)."""

    def __init__(self, service: str, retry_after: int | None, reason: str) -> None:
        super().__init__(f"{service} is unavailable: {reason}")
        self.service = service
        self.retry_after = retry_after
        self.reason = reason


class SignInExpired(Exception):
    """A service answered 401: the token expired or was revoked; the person signs in again."""


def _retry_after(response: httpx.Response) -> int | None:
    value = response.headers.get("Retry-After", "")
    return int(value) if value.isdigit() else None


class PlatformApi:
    def __init__(self, urls: ServiceUrls, http: httpx.AsyncClient) -> None:
        self._urls = urls
        self._http = http

    async def call(self, method: str, service: Service, path: str, token: str, *,
                   params: dict[str, Any] | None = None, json: Any = None) -> Any:
        response = await self.respond(method, service, path, token, params=params, json=json)
        return response.json() if response.content else None

    async def respond(self, method: str, service: Service, path: str, token: str, *,
                      params: dict[str, Any] | None = None, json: Any = None) -> httpx.Response:
        """Like :meth:`call`, for a caller that reads more than the body (a header such as X-Total-Count)."""
        url = getattr(self._urls, service) + path
        try:
            response = await self._http.request(method, url, params=params, json=json,
                                                headers={"Authorization": f"Bearer {token}"})
        except httpx.TransportError as exc:  # refused, reset, timed out: the service is not answering
            log.warning("%s did not answer %s %s: %r", service, method, path, exc)
            raise ServiceDown(service, None, type(exc).__name__) from exc
        _raise_unless_answered(service, method, path, response)
        return response

    # -- catalog ---------------------------------------------------------------------------------------------

    async def search_credentials(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = await self.call("GET", "catalog", "/credentials", token, params=params)
        return found

    async def credential(self, token: str, credential_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self.call("GET", "catalog", f"/credentials/{credential_id}", token)
        return found

    async def issuers(self, token: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.call("GET", "catalog", "/issuers", token)
        return found

    async def credential_version(self, token: str, credential_id: str, version: int) -> dict[str, Any]:
        found: dict[str, Any] = await self.call("GET", "catalog", f"/credentials/{credential_id}", token,
                                                params={"version": version})
        return found

    # -- submission ------------------------------------------------------------------------------------------

    async def start_submission(self, token: str, credential_id: str) -> dict[str, Any]:
        started: dict[str, Any] = await self.call("POST", "submission", "/submissions", token,
                                                  json={"credential_id": credential_id})
        return started

    async def submissions(self, token: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.call("GET", "submission", "/submissions", token,
                                                      params={"limit": 200})
        return found

    async def submission(self, token: str, submission_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self.call("GET", "submission", f"/submissions/{submission_id}", token)
        return found

    async def answer_prompts(self, token: str, submission_id: str, responses: list[dict[str, Any]]) -> dict[str, Any]:
        saved: dict[str, Any] = await self.call("PUT", "submission", f"/submissions/{submission_id}/responses",
                                                token, json={"responses": responses})
        return saved

    async def declare_evidence(self, token: str, submission_id: str, declaration: dict[str, Any]) -> dict[str, Any]:
        ticket: dict[str, Any] = await self.call("POST", "submission", f"/submissions/{submission_id}/evidence",
                                                 token, json=declaration)
        return ticket

    async def complete_evidence(self, token: str, submission_id: str, evidence_id: str) -> dict[str, Any]:
        evidence: dict[str, Any] = await self.call(
            "POST", "submission", f"/submissions/{submission_id}/evidence/{evidence_id}/complete", token)
        return evidence

    # uploads: resuming a multipart upload, and short-lived URLs of the teacher's own files for the preview

    async def uploaded_parts(self, token: str, submission_id: str, evidence_id: str) -> dict[str, Any]:
        parts: dict[str, Any] = await self.call(
            "GET", "submission", f"/submissions/{submission_id}/evidence/{evidence_id}/parts", token)
        return parts

    async def fresh_part_urls(self, token: str, submission_id: str, evidence_id: str,
                              part_numbers: list[int]) -> dict[str, Any]:
        ticket: dict[str, Any] = await self.call(
            "POST", "submission", f"/submissions/{submission_id}/evidence/{evidence_id}/parts", token,
            json={"part_numbers": part_numbers})
        return ticket

    async def withdraw_evidence(self, token: str, submission_id: str, evidence_id: str) -> dict[str, Any]:
        withdrawn: dict[str, Any] = await self.call(
            "DELETE", "submission", f"/submissions/{submission_id}/evidence/{evidence_id}", token)
        return withdrawn

    async def evidence_download_url(self, token: str, submission_id: str, evidence_id: str) -> str:
        ticket: dict[str, Any] = await self.call(
            "GET", "submission", f"/submissions/{submission_id}/evidence/{evidence_id}/download", token)
        return str(ticket["download_url"])

    async def submit(self, token: str, submission_id: str, note_to_reviewer: str | None = None) -> dict[str, Any]:
        body = {"note_to_reviewer": note_to_reviewer} if note_to_reviewer else None
        submitted: dict[str, Any] = await self.call("POST", "submission", f"/submissions/{submission_id}/submit",
                                                    token, json=body)
        return submitted

    # -- review (reviewer pages; registry and waiting queue for operators) ------------------------------------

    # The operator's registry and waiting queue (issue 20, point 5).

    async def reviewers(self, token: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.call("GET", "review", "/reviewers", token)
        return found

    async def save_reviewer(self, token: str, reviewer_id: str, body: dict[str, Any]) -> dict[str, Any]:
        saved: dict[str, Any] = await self.call("PUT", "review", f"/reviewers/{quote(reviewer_id, safe='')}", token,
                                                json=body)
        return saved

    async def waiting_reviews(self, token: str, params: dict[str, Any] | None = None) -> Any:
        """The queue of work waiting for a reviewer: a list, or a page object once the endpoint pages."""
        return await self.call("GET", "review", "/reviews/queue", token, params=params)

    # The reviewer's own queue and reviews (issue 20, point 4).

    async def assigned_reviews(self, token: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
        """One page of the signed-in reviewer's open reviews and how many match in all."""
        response = await self.respond("GET", "review", "/reviews/assigned", token, params=params)
        found: list[dict[str, Any]] = response.json()
        total = response.headers.get("X-Total-Count", "")
        return found, int(total) if total.isdigit() else len(found)

    async def assigned_summary(self, token: str) -> dict[str, Any]:
        found: dict[str, Any] = await self.call("GET", "review", "/reviews/assigned/summary", token)
        return found

    async def own_reliability(self, token: str) -> dict[str, Any]:
        found: dict[str, Any] = await self.call("GET", "review", "/reliability/me", token)
        return found

    async def review(self, token: str, review_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self.call("GET", "review", f"/reviews/{review_id}", token)
        return found

    async def score_review(self, token: str, review_id: str, results: list[dict[str, str]]) -> dict[str, Any]:
        scored: dict[str, Any] = await self.call("POST", "review", f"/reviews/{review_id}/score", token,
                                                 json={"results": results})
        return scored

    async def decline_review(self, token: str, review_id: str, reason: str) -> dict[str, Any]:
        declined: dict[str, Any] = await self.call("POST", "review", f"/reviews/{review_id}/decline", token,
                                                   json={"reason": reason})
        return declined

    async def evidence_download(self, token: str, submission_id: str, evidence_id: str) -> dict[str, Any]:
        """A short-lived URL for one evidence file (the submission service checks the reviewer holds the review)."""
        ticket: dict[str, Any] = await self.call(
            "GET", "submission", f"/submissions/{submission_id}/evidence/{evidence_id}/download", token)
        return ticket

    async def fetch_evidence_text(self, url: str, max_bytes: int) -> str | None:
        """A small text file's content from its short-lived URL, or None if it is larger, unreadable or the store
        does not answer: the page then links to it instead of showing it inline."""
        try:
            async with self._http.stream("GET", url) as response:
                if response.status_code != 200:
                    return None
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        return None
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            log.warning("evidence text not fetched: %r", exc)
            return None
        try:
            return b"".join(chunks).decode("utf-8")
        except UnicodeDecodeError:
            return None

    # -- award (earned credentials; revoke, suspend, reinstate) ---------------------------------------------------

    # The operator's side: find an award, change its standing (issue 20, point 5).

    async def awards(self, token: str, limit: int, offset: int, teacher: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit, "offset": offset} | ({"teacher": teacher} if teacher else {})
        found: list[dict[str, Any]] = await self.call("GET", "award", "/awards", token, params=params)
        return found

    async def award(self, token: str, award_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self.call("GET", "award", f"/awards/{award_id}", token)
        return found

    async def change_standing(self, token: str, award_id: str, action: str, reason: str) -> dict[str, Any]:
        changed: dict[str, Any] = await self.call("POST", "award", f"/credentials/{award_id}/{action}", token,
                                                  json={"reason": reason})
        return changed

    async def my_awards(self, token: str) -> list[dict[str, Any]]:
        """The signed-in teacher's own awards (the service filters a teacher's list to the caller)."""
        return await self.awards(token, limit=200, offset=0)

    # -- licensure (license progress; approvals, reports and webhooks for state and district staff) ------------

    async def licenses(self, token: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.call("GET", "licensure", "/licenses", token, params={"limit": 200})
        return found

    async def license_progress(self, token: str, license_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self.call("GET", "licensure", f"/licenses/{license_id}/progress", token)
        return found

    async def pending_credits(self, token: str, state: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.call("GET", "licensure", f"/states/{state}/pending-credits", token,
                                                      params={"limit": 500})
        return found

    async def decide_credit(self, token: str, license_id: str, award_id: str, *, approve: bool,
                            reason: str) -> dict[str, Any]:
        decided: dict[str, Any] = await self.call(
            "POST", "licensure", f"/licenses/{license_id}/credits/{award_id}/decision", token,
            json={"approve": approve, "reason": reason})
        return decided

    async def credit_report(self, token: str, state: str, params: dict[str, str]) -> AsyncIterator[bytes]:
        """The credit report's CSV as the service streams it, so a large report never sits whole in the portal.
        Refusals and outages are raised before the first byte, while the page can still say so."""
        return await self.stream("licensure", f"/states/{state}/reports/credits", token, params)

    async def stream(self, service: Service, path: str, token: str, params: dict[str, str]) -> AsyncIterator[bytes]:
        """A GET's body as the service streams it (a CSV report); refusals and outages before the first byte."""
        request = self._http.build_request("GET", getattr(self._urls, service) + path, params=params,
                                           headers={"Authorization": f"Bearer {token}"})
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise ServiceDown(service, None, type(exc).__name__) from exc
        if response.status_code >= 300:
            try:
                await response.aread()
            finally:
                await response.aclose()
            _raise_unless_answered(service, "GET", path, response)

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.aiter_bytes():
                    yield chunk
            finally:
                await response.aclose()

        return chunks()

    async def competencies_report(self, token: str, state: str, district: str | None) -> dict[str, Any]:
        found: dict[str, Any] = await self.call("GET", "licensure", f"/states/{state}/reports/competencies", token,
                                                params={"district": district} if district else None)
        return found

    async def webhooks(self, token: str, state: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.call("GET", "licensure", "/webhooks", token, params={"state": state})
        return found

    async def create_webhook(self, token: str, state: str, url: str) -> dict[str, Any]:
        created: dict[str, Any] = await self.call("POST", "licensure", "/webhooks", token,
                                                  json={"state": state, "url": url})
        return created

    async def delete_webhook(self, token: str, subscription_id: str) -> None:
        await self.call("DELETE", "licensure", f"/webhooks/{subscription_id}", token)

    async def webhook_deliveries(self, token: str, subscription_id: str, status: str | None,
                                 offset: int) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": 50, "offset": offset} | ({"status": status} if status else {})
        found: list[dict[str, Any]] = await self.call("GET", "licensure", f"/webhooks/{subscription_id}/deliveries",
                                                      token, params=params)
        return found

    async def replay_webhook(self, token: str, subscription_id: str, replay: dict[str, Any]) -> int:
        answered: dict[str, int] = await self.call("POST", "licensure", f"/webhooks/{subscription_id}/replay", token,
                                                   json=replay)
        return answered["requeued"]

    # -- licensure: recognitions (issue 21: a teacher's progress; holders and incentives for staff) ---------------

    async def my_recognitions(self, token: str) -> dict[str, Any]:
        found: dict[str, Any] = await self.call("GET", "licensure", "/recognitions/me", token)
        return found

    async def recognition_programs(self, token: str, state: str, district: str | None = None) -> list[dict[str, Any]]:
        """The state's programs; with ``district``, only the state's own and that district's."""
        params = {"state": state} | ({"district": district} if district else {})
        found: list[dict[str, Any]] = await self.call("GET", "licensure", "/recognitions/programs", token,
                                                      params=params)
        return found

    async def recognition_holders(self, token: str, state: str, program_id: str,
                                  params: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
        """One page of a program's holders, and how many there are in all (X-Total-Count)."""
        response = await self.respond("GET", "licensure", f"/states/{state}/recognitions/{quote(program_id, safe='')}/holders",
                                      token, params=params)
        total = response.headers.get("X-Total-Count", "")
        found: list[dict[str, Any]] = response.json()
        return (int(total) if total.isdigit() else len(found)), found

    async def incentive_report(self, token: str, state: str, params: dict[str, str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.call("GET", "licensure", f"/states/{state}/reports/incentives", token,
                                                      params=params)
        return found

    async def incentive_report_csv(self, token: str, state: str, params: dict[str, str]) -> AsyncIterator[bytes]:
        return await self.stream("licensure", f"/states/{state}/reports/incentives.csv", token, params)

    # -- catalog authoring (issuer admins' drafts; operators' approvals, import and export) ---------------------

    async def manageable_issuers(self, token: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.call("GET", "catalog", "/issuers", token,
                                                      params={"manageable": "true"})
        return found

    async def versions(self, token: str, credential_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.call("GET", "catalog", f"/credentials/{credential_id}/versions",
                                                      token)
        return found

    async def draft_credential(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        drafted: dict[str, Any] = await self.call("POST", "catalog", "/credentials", token, json=body)
        return drafted

    async def edit_version(self, token: str, credential_id: str, version: int, body: dict[str, Any]) -> dict[str, Any]:
        saved: dict[str, Any] = await self.call("PUT", "catalog", f"/credentials/{credential_id}/versions/{version}",
                                                token, json=body)
        return saved

    async def open_version(self, token: str, credential_id: str) -> dict[str, Any]:
        opened: dict[str, Any] = await self.call("POST", "catalog", f"/credentials/{credential_id}/versions", token)
        return opened

    async def version_step(self, token: str, credential_id: str, version: int, step: str,
                           body: dict[str, Any] | None = None) -> dict[str, Any]:
        """submit-for-review, request-changes, approve or publish: the catalog's workflow moves."""
        moved: dict[str, Any] = await self.call(
            "POST", "catalog", f"/credentials/{credential_id}/versions/{version}/{step}", token, json=body)
        return moved

    async def history(self, token: str, credential_id: str, version: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.call(
            "GET", "catalog", f"/credentials/{credential_id}/versions/{version}/history", token)
        return found

    async def export_catalog(self, token: str) -> dict[str, Any]:
        found: dict[str, Any] = await self.call("GET", "catalog", "/catalog/export", token)
        return found

    async def import_catalog(self, token: str, document: Any) -> dict[str, Any]:
        summary: dict[str, Any] = await self.call("POST", "catalog", "/catalog/import", token, json=document)
        return summary


    # -- recognition decisions (district staff approve or decline a pending salary step, incentive...) ------------

    async def pending_recognitions(self, token: str, state: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.call("GET", "licensure", f"/states/{state}/pending-recognitions",
                                                      token, params={"limit": 200})
        return found

    async def decide_recognition(self, token: str, *, teacher_id: str, program_id: str, key: str, approve: bool,
                                 reason: str) -> dict[str, Any]:
        decided: dict[str, Any] = await self.call(
            "POST", "licensure", "/recognitions/decisions", token,
            json={"teacher_id": teacher_id, "program_id": program_id, "key": key, "approve": approve,
                  "reason": reason})
        return decided

def _raise_unless_answered(service: Service, method: str, path: str, response: httpx.Response) -> None:
    """A 2xx passes; anything else becomes :class:`ServiceDown`, :class:`SignInExpired`, :class:`Refused` or, for
    a service's bug, a RuntimeError. ``response`` must have been read."""
    if response.status_code == 503:
        raise ServiceDown(service, _retry_after(response), _detail(response))
    if response.status_code == 401:
        raise SignInExpired(_detail(response))
    if response.status_code >= 500:
        # A bug in a service: the person gets the general error page, the log gets the answer.
        raise RuntimeError(f"{service} answered {response.status_code} to {method} {path}: {response.text[:500]}")
    if response.status_code >= 400:
        body = _body(response)
        raise Refused(Refusal(service=service, status=response.status_code, code=str(body.get("error", "")),
                              detail=str(body.get("detail", "")), details=body.get("details")))


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"error": "unreadable", "detail": response.text[:300]}
    return body if isinstance(body, dict) else {"error": "unreadable", "detail": str(body)[:300]}


def _detail(response: httpx.Response) -> str:
    return str(_body(response).get("detail", ""))
