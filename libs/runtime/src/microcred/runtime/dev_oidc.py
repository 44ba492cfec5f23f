"""The development OpenID Connect provider: sign in as any sample person, for a stack with no identity provider.

Local mode only. It speaks the same protocol the operator's provider does (discovery, authorization code with
PKCE S256, token endpoint, JWKS), so the portal's sign-in code is the production code; only who answers differs.
Its access tokens are :class:`DevTokenIssuer` tokens, the ones the services already accept locally; its ID tokens
are signed with the same key for the portal alone (``aud`` = the client id, ``iss`` = this provider's URL).

Where it runs, and why: mounted inside the portal process at ``/dev-oidc`` when the portal runs in local mode with
no provider named (``PortalSettings.local_provider``). One process fewer for ``make up``, docker-compose and the
test platform to start and wait for; same origin as the portal, so no cross-site cookie questions locally; and a
production portal cannot mount it, since production mode requires an https:// provider and refuses to start
otherwise. It lives here, beside the development token issuer whose key it uses, not in the portal, so that any
other client of the platform could host it the same way.

Who can sign in is read from ``people.json`` in the issuer's directory on every sign-in page (``microcred up``
writes it after seeding: the issuer admin's ``org`` claim is the seeded issuer's id), a list of :class:`Person`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, TypeAdapter

from microcred.runtime.auth import DevTokenIssuer, Role

PEOPLE_FILE = "people.json"
CODE_SECONDS = 60
PENDING_SECONDS = 600
# Access tokens as short as an operator's provider would make them, so the portal's refresh runs locally as it
# does in production; a refresh token keeps the sign-in alive for a working day, rotated at every use.
TOKEN_SECONDS = 15 * 60
REFRESH_SECONDS = 12 * 3600


class Person(BaseModel):
    """A sample person and the claims their tokens carry (see runtime.auth for what each claim means)."""

    key: str = Field(min_length=1, max_length=80, pattern=r"^[a-z0-9-]+$")
    label: str
    subject: str
    roles: list[Role]
    states: list[str] = []
    org: str | None = None
    name: str | None = None
    email: str | None = None
    district: str | None = None
    school: str | None = None


PEOPLE = TypeAdapter(list[Person])


def write_people(directory: Path, people: list[Person]) -> Path:
    path = directory / PEOPLE_FILE
    partial = directory / f".{PEOPLE_FILE}.partial"
    partial.write_bytes(PEOPLE.dump_json(people, indent=2))
    partial.replace(path)
    return path


def read_people(directory: Path) -> list[Person]:
    path = directory / PEOPLE_FILE
    return PEOPLE.validate_json(path.read_bytes()) if path.exists() else []


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    state: str
    nonce: str | None
    code_challenge: str
    scope: str
    expires: float


@dataclass(frozen=True)
class Grant:
    request: AuthorizationRequest
    person: Person
    expires: float


@dataclass(frozen=True)
class RefreshGrant:
    person_key: str
    scope: str
    expires: float


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def create_dev_oidc_app(issuer: DevTokenIssuer, *, base_url: str, client_id: str, redirect_uris: set[str]) -> FastAPI:
    """The provider as an app to mount at ``base_url`` (its issuer identifier)."""
    pending: dict[str, AuthorizationRequest] = {}
    codes: dict[str, Grant] = {}
    refreshes: dict[str, RefreshGrant] = {}
    app = FastAPI(title="Microcred development OpenID provider", docs_url=None, redoc_url=None, openapi_url=None)

    def forget_expired() -> None:
        now = time.time()
        for store in (pending, codes, refreshes):
            for key in [k for k, v in store.items() if v.expires < now]:  # type: ignore[attr-defined]
                del store[key]

    def oauth_error(code: str, description: str, status: int = 400) -> JSONResponse:
        return JSONResponse({"error": code, "error_description": description}, status_code=status,
                            headers={"Cache-Control": "no-store"})

    @app.get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, Any]:
        return {
            "issuer": base_url,
            "authorization_endpoint": f"{base_url}/authorize",
            "token_endpoint": f"{base_url}/token",
            "jwks_uri": f"{base_url}/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["EdDSA"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["openid", "profile", "email"],
        }

    @app.get("/jwks")
    async def jwks() -> Response:
        return Response(issuer.jwks_path.read_bytes(), media_type="application/json")

    @app.get("/authorize")
    async def authorize(request: Request) -> Response:
        forget_expired()
        q = request.query_params
        # Before anything is shown: a wrong client or redirect URI must not redirect anywhere (RFC 6749 4.1.2.1).
        if q.get("client_id") != client_id or q.get("redirect_uri") not in redirect_uris:
            return sign_in_page([], "", "This sign-in request names an unknown client or return address.", 400)
        problem = None
        if q.get("response_type") != "code":
            problem = "unsupported_response_type"
        elif q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            problem = "invalid_request"  # PKCE with S256 is required, never plain
        elif "openid" not in q.get("scope", "").split():
            problem = "invalid_scope"
        if problem:
            query = urlencode({"error": problem, "state": q.get("state", "")})
            return RedirectResponse(f"{q['redirect_uri']}?{query}", status_code=303)
        request_id = secrets.token_urlsafe(24)
        pending[request_id] = AuthorizationRequest(
            client_id=client_id, redirect_uri=q["redirect_uri"], state=q.get("state", ""), nonce=q.get("nonce"),
            code_challenge=q["code_challenge"], scope=q.get("scope", ""), expires=time.time() + PENDING_SECONDS,
        )
        return sign_in_page(read_people(issuer.directory), request_id, None, 200)

    @app.post("/authorize")
    async def choose(request: Request) -> Response:
        # The request id is this form's CSRF token: random, single use, known only to the page that showed it.
        form = await request.form()
        found = pending.pop(str(form.get("request", "")), None)
        person = next((p for p in read_people(issuer.directory) if p.key == form.get("person")), None)
        if found is None or found.expires < time.time() or person is None:
            return sign_in_page([], "", "This sign-in page has expired. Go back to the portal and sign in again.", 400)
        code = secrets.token_urlsafe(32)
        codes[code] = Grant(found, person, time.time() + CODE_SECONDS)
        return RedirectResponse(f"{found.redirect_uri}?{urlencode({'code': code, 'state': found.state})}",
                                status_code=303)

    @app.post("/token")
    async def token(request: Request) -> Response:
        forget_expired()
        form = await request.form()
        if form.get("grant_type") == "refresh_token":
            return refreshed(str(form.get("refresh_token", "")), str(form.get("client_id", "")))
        if form.get("grant_type") != "authorization_code":
            return oauth_error("unsupported_grant_type", "only authorization_code and refresh_token")
        grant = codes.pop(str(form.get("code", "")), None)  # single use, whatever the outcome
        if grant is None or grant.expires < time.time():
            return oauth_error("invalid_grant", "unknown, used or expired code")
        if form.get("client_id") != grant.request.client_id or form.get("redirect_uri") != grant.request.redirect_uri:
            return oauth_error("invalid_grant", "client_id or redirect_uri differs from the authorization request")
        verifier = str(form.get("code_verifier", ""))
        if not 43 <= len(verifier) <= 128 or not secrets.compare_digest(s256(verifier), grant.request.code_challenge):
            return oauth_error("invalid_grant", "code_verifier does not match the code_challenge")
        return tokens_for(grant.person, grant.request.scope, grant.request.nonce)

    def refreshed(refresh_token: str, sent_client_id: str) -> Response:
        # Rotation (OAuth 2.0 Security BCP, RFC 9700 2.2.2): a refresh token works once and its answer carries the
        # next, so a stolen one is worth one use at most. The person is read again: a changed role applies now.
        grant = refreshes.pop(refresh_token, None)
        if grant is None or grant.expires < time.time() or sent_client_id != client_id:
            return oauth_error("invalid_grant", "unknown, used or expired refresh token")
        person = next((p for p in read_people(issuer.directory) if p.key == grant.person_key), None)
        if person is None:
            return oauth_error("invalid_grant", "this person can no longer sign in")
        return tokens_for(person, grant.scope, None)

    def tokens_for(person: Person, scope: str, nonce: str | None) -> Response:
        access = issuer.mint(person.subject, person.roles, states=person.states, organization=person.org,
                             name=person.name, email=person.email, district=person.district, school=person.school,
                             ttl_seconds=TOKEN_SECONDS)
        now = int(time.time())
        id_claims: dict[str, Any] = {
            "iss": base_url, "sub": person.subject, "aud": client_id, "iat": now, "exp": now + TOKEN_SECONDS,
            "name": person.name or person.label, "roles": [r.value for r in person.roles], "states": person.states,
        }
        if nonce:
            id_claims["nonce"] = nonce
        if person.email:
            id_claims["email"] = person.email
        if person.district:
            id_claims["district"] = person.district  # what a district admin administers, for the pages they see
        refresh_token = secrets.token_urlsafe(32)
        refreshes[refresh_token] = RefreshGrant(person.key, scope, time.time() + REFRESH_SECONDS)
        body = {"access_token": access, "token_type": "Bearer", "expires_in": TOKEN_SECONDS,
                "id_token": issuer.sign(id_claims), "scope": scope, "refresh_token": refresh_token}
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    return app


def sign_in_page(people: list[Person], request_id: str, problem: str | None, status: int) -> HTMLResponse:
    """One button per person. Plain HTML with its own small style: this page belongs to the provider, not to the
    portal's layout, and it must meet the same accessibility rules (landmark, one h1, visible focus)."""
    if problem:
        body = f'<p role="alert">{html.escape(problem)}</p>'
    elif not people:
        body = ("<p>No sample people yet: <code>microcred up</code> writes them once it has seeded the sample "
                "catalog.</p>")
    else:
        buttons = "\n".join(
            f'<li><button type="submit" name="person" value="{html.escape(p.key)}">{html.escape(p.label)}</button>'
            f'<span class="roles">{html.escape(", ".join(r.value.replace("_", " ") for r in p.roles))}'
            f'{" · " + html.escape(", ".join(p.states)) if p.states else ""}</span></li>'
            for p in people
        )
        body = (f'<p>Choose who to sign in as. Anyone may pick anyone: this provider exists only on a local stack.</p>'
                f'<form method="post" action="authorize"><input type="hidden" name="request" '
                f'value="{html.escape(request_id)}"><ul class="people">{buttons}</ul></form>')
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Microcred development sign-in</title>
<style>
body {{ font: 1.05rem/1.5 system-ui, sans-serif; margin: 0; color: #1b1b1b; background: #fff; }}
header, main {{ max-width: 40rem; margin: 0 auto; padding: 1rem; }}
header {{ border-bottom: 1px solid #6b6b6b; }}
.people {{ list-style: none; padding: 0; }}
.people li {{ margin: .5rem 0; display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }}
button {{ font: inherit; padding: .5rem 1rem; border: 2px solid #1a4480; background: #1a4480; color: #fff;
  border-radius: 4px; cursor: pointer; min-width: 18rem; text-align: left; }}
button:focus-visible {{ outline: 3px solid #d54309; outline-offset: 3px; }}
.roles {{ color: #454545; }}
</style></head>
<body><header><p>Microcred development sign-in</p></header>
<main><h1>Sign in</h1>{body}</main></body></html>"""
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})
