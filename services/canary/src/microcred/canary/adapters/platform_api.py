"""The platform's public HTTP APIs as the canary calls them: one typed method per route it walks.

Nothing here retries or waits: the probe decides what a failure means (until the SLA passes, try again).
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from microcred.canary.adapters.tokens import Identity, TokenSource
from microcred.runtime.client_settings import ServiceUrls


class ApiError(Exception):
    def __init__(self, method: str, url: str, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        super().__init__(f"{method} {url} -> {status}: {body}")

    @property
    def code(self) -> str | None:
        return self.body.get("error") if isinstance(self.body, dict) else None


class PlatformApi:
    def __init__(self, urls: ServiceUrls, tokens: TokenSource, http: httpx.AsyncClient, *,
                 upload_via: str | None = None) -> None:
        self.urls = urls
        self.upload_via = upload_via
        self.tokens = tokens
        self.http = http

    def subject(self, who: Identity) -> str:
        return self.tokens.subject(who)

    async def _call(self, method: str, base: str, path: str, who: Identity, *, expect: tuple[int, ...] = (200,),
                    **kwargs: Any) -> Any:
        url = base + path
        response = await self.http.request(
            method, url, headers={"Authorization": f"Bearer {self.tokens.token(who)}"}, **kwargs)
        if response.status_code not in expect:
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text[:500]
            raise ApiError(method, url, response.status_code, body)
        return response.json() if response.content else None

    # -- catalog --------------------------------------------------------------------------------

    async def issuers(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._call("GET", self.urls.catalog, "/issuers", Identity.OPERATOR)
        return found

    async def create_issuer(self, name: str, **profile: Any) -> dict[str, Any]:
        created: dict[str, Any] = await self._call("POST", self.urls.catalog, "/issuers", Identity.OPERATOR,
                                                   expect=(201,), json={"name": name, **profile})
        return created

    async def staff(self, issuer_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._call("GET", self.urls.catalog, f"/issuers/{issuer_id}/staff",
                                                       Identity.OPERATOR)
        return found

    async def add_staff(self, issuer_id: str, subject: str, role: str) -> None:
        await self._call("POST", self.urls.catalog, f"/issuers/{issuer_id}/staff", Identity.OPERATOR,
                         expect=(201,), json={"subject": subject, "role": role})

    async def credentials(self, issuer_id: str, status: str) -> list[dict[str, Any]]:
        found = await self._call("GET", self.urls.catalog, "/credentials", Identity.OPERATOR,
                                 params={"issuer_id": issuer_id, "status": status, "limit": 200})
        items: list[dict[str, Any]] = found["items"]
        return items

    async def draft_credential(self, issuer_id: str, definition: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = await self._call("POST", self.urls.catalog, "/credentials", Identity.ISSUER_ADMIN,
                                                   expect=(201,), json={"issuer_id": issuer_id, **definition})
        return created

    async def advance_version(self, credential_id: str, version: int, step: str, who: Identity,
                              body: dict[str, Any] | None = None) -> None:
        await self._call("POST", self.urls.catalog, f"/credentials/{credential_id}/versions/{version}/{step}", who,
                         json=body)

    # -- review ---------------------------------------------------------------------------------

    async def register_reviewer(self, subject: str, credential_ids: list[str], max_open: int) -> None:
        await self._call("PUT", self.urls.review, f"/reviewers/{subject}", Identity.OPERATOR, json={
            "credential_ids": credential_ids, "max_open": max_open, "active": True})

    async def assigned(self, reviewer: Identity) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._call("GET", self.urls.review, "/reviews/assigned", reviewer)
        return found

    async def score(self, reviewer: Identity, review_id: str, results: list[dict[str, str]]) -> None:
        await self._call("POST", self.urls.review, f"/reviews/{review_id}/score", reviewer,
                         json={"results": results})

    # -- submission -----------------------------------------------------------------------------

    async def start_submission(self, credential_id: str) -> dict[str, Any]:
        created: dict[str, Any] = await self._call("POST", self.urls.submission, "/submissions", Identity.TEACHER,
                                                   expect=(201,), json={"credential_id": credential_id})
        return created

    async def answer(self, submission_id: str, requirement_key: str, answer: str) -> None:
        await self._call("PUT", self.urls.submission, f"/submissions/{submission_id}/responses", Identity.TEACHER,
                         json={"responses": [{"requirement_key": requirement_key, "prompt_index": 0,
                                              "answer": answer}]})

    async def upload_text(self, submission_id: str, requirement_key: str, text: str) -> None:
        """Declares a small text file, PUTs it to the presigned URL (one part) and completes it."""
        content = text.encode()
        slot = await self._call("POST", self.urls.submission, f"/submissions/{submission_id}/evidence",
                                Identity.TEACHER, expect=(201,), json={
                                    "requirement_key": requirement_key, "filename": "canary.txt",
                                    "content_type": "text/plain", "size_bytes": len(content),
                                    "sha256": hashlib.sha256(content).hexdigest()})
        url, headers = httpx.URL(slot["upload"]["url"]), {"Content-Type": "text/plain"}
        if self.upload_via:
            via = httpx.URL(self.upload_via)
            headers["Host"] = url.netloc.decode()
            url = url.copy_with(scheme=via.scheme, host=via.host, port=via.port)
        put = await self.http.put(url, content=content, headers=headers)
        if put.status_code not in (200, 204):
            raise ApiError("PUT", "<presigned evidence URL>", put.status_code, put.text[:500])
        await self._call("POST", self.urls.submission,
                         f"/submissions/{submission_id}/evidence/{slot['evidence_id']}/complete", Identity.TEACHER)

    async def submit(self, submission_id: str) -> None:
        await self._call("POST", self.urls.submission, f"/submissions/{submission_id}/submit", Identity.TEACHER)

    async def submission(self, submission_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._call("GET", self.urls.submission, f"/submissions/{submission_id}",
                                                 Identity.TEACHER)
        return found

    # -- licensure ------------------------------------------------------------------------------

    async def licenses(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._call("GET", self.urls.licensure, "/licenses", Identity.TEACHER,
                                                       params={"limit": 200})
        return found

    async def register_license(self, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = await self._call("POST", self.urls.licensure, "/licenses", Identity.TEACHER,
                                                   expect=(201,), json=body)
        return created

    async def progress(self, license_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._call("GET", self.urls.licensure, f"/licenses/{license_id}/progress",
                                                 Identity.TEACHER)
        return found
