"""The five services' public HTTP APIs, called with the signed-in person's own bearer token.

The portal decides nothing about who may do what: a refusal comes back as :class:`Refused` with the service's
error shape, an outage (connection refused, timeout, 503 with Retry-After) as :class:`ServiceDown`.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

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
        url = getattr(self._urls, service) + path
        try:
            response = await self._http.request(method, url, params=params, json=json,
                                                headers={"Authorization": f"Bearer {token}"})
        except httpx.TransportError as exc:  # refused, reset, timed out: the service is not answering
            log.warning("%s did not answer %s %s: %r", service, method, path, exc)
            raise ServiceDown(service, None, type(exc).__name__) from exc
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
        return response.json() if response.content else None

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

    async def submit(self, token: str, submission_id: str, note_to_reviewer: str | None = None) -> dict[str, Any]:
        body = {"note_to_reviewer": note_to_reviewer} if note_to_reviewer else None
        submitted: dict[str, Any] = await self.call("POST", "submission", f"/submissions/{submission_id}/submit",
                                                    token, json=body)
        return submitted

    # -- review (reviewer pages; registry and waiting queue for operators) ------------------------------------

    # -- award (earned credentials; revoke, suspend, reinstate) ---------------------------------------------------

    async def my_awards(self, token: str) -> list[dict[str, Any]]:
        """The signed-in teacher's own awards (the service filters a teacher's list to the caller)."""
        found: list[dict[str, Any]] = await self.call("GET", "award", "/awards", token, params={"limit": 200})
        return found

    # -- licensure (license progress; approvals, reports and webhooks for state and district staff) ------------

    async def licenses(self, token: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.call("GET", "licensure", "/licenses", token, params={"limit": 200})
        return found

    async def license_progress(self, token: str, license_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self.call("GET", "licensure", f"/licenses/{license_id}/progress", token)
        return found

    # -- catalog authoring (issuer admins' drafts; operators' approvals, import and export) ---------------------


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"error": "unreadable", "detail": response.text[:300]}
    return body if isinstance(body, dict) else {"error": "unreadable", "detail": str(body)[:300]}


def _detail(response: httpx.Response) -> str:
    return str(_body(response).get("detail", ""))
