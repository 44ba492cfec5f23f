"""The portal without a platform: its settings, the development provider's PKCE check, and its failure pages."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from pydantic import ValidationError

from microcred.portal.bootstrap import build_app
from microcred.portal.domain.refusals import Refusal, problems_of
from microcred.portal.settings import PortalSettings
from microcred.runtime.auth import DevTokenIssuer, JwtVerifier, Role
from microcred.runtime.dev_oidc import Person, create_dev_oidc_app, write_people

REDIRECT = "http://portal.test/auth/callback"


def test_production_refuses_the_local_shortcuts() -> None:
    with pytest.raises(ValidationError, match="OIDC_ISSUER_URL"):
        PortalSettings(mode="production", portal_public_url="https://portal.example.org")
    with pytest.raises(ValidationError, match="PORTAL_PUBLIC_URL"):
        PortalSettings(mode="production", oidc_issuer_url="https://idp.example.org",
                       portal_public_url="http://portal.example.org")
    settings = PortalSettings(mode="production", oidc_issuer_url="https://idp.example.org",
                              portal_public_url="https://portal.example.org")
    assert settings.secure_cookies and not settings.local_provider


async def test_the_development_provider_checks_the_pkce_verifier_and_codes_are_single_use(tmp_path: Path) -> None:
    issuer = DevTokenIssuer(tmp_path)
    write_people(tmp_path, [Person(key="teacher", label="Sample Teacher", subject="teacher-1", roles=[Role.TEACHER],
                                   states=["TN"])])
    app = create_dev_oidc_app(issuer, base_url="http://portal.test/dev-oidc", client_id="portal",
                              redirect_uris={REDIRECT})
    verifier = "v" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal.test") as http:

        async def code() -> str:
            page = await http.get("/authorize", params={
                "response_type": "code", "client_id": "portal", "redirect_uri": REDIRECT, "scope": "openid",
                "state": "s1", "nonce": "n1", "code_challenge": challenge, "code_challenge_method": "S256"})
            assert page.status_code == 200 and "Sample Teacher" in page.text
            request_id = page.text.split('name="request" value="', 1)[1].split('"', 1)[0]
            chosen = await http.post("/authorize", data={"request": request_id, "person": "teacher"})
            assert chosen.status_code == 303
            query = parse_qs(urlparse(chosen.headers["location"]).query)
            assert query["state"] == ["s1"]
            return query["code"][0]

        def exchange(code: str, verifier: str) -> dict[str, str]:
            return {"grant_type": "authorization_code", "code": code, "client_id": "portal", "redirect_uri": REDIRECT,
                    "code_verifier": verifier}

        wrong = await http.post("/token", data=exchange(await code(), "w" * 64))
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        good_code = await code()
        granted = await http.post("/token", data=exchange(good_code, verifier))
        assert granted.status_code == 200
        principal = JwtVerifier(issuer.jwks_url, issuer=issuer.issuer, audience=issuer.audience).verify(
            granted.json()["access_token"])
        assert principal.subject == "teacher-1" and principal.roles == {Role.TEACHER} and principal.states == ("TN",)
        again = await http.post("/token", data=exchange(good_code, verifier))
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        # Without S256 there is no code at all; a foreign redirect URI is never redirected to.
        plain = await http.get("/authorize", params={
            "response_type": "code", "client_id": "portal", "redirect_uri": REDIRECT, "scope": "openid",
            "state": "s", "code_challenge": verifier, "code_challenge_method": "plain"})
        assert plain.status_code == 303 and "error=invalid_request" in plain.headers["location"]
        foreign = await http.get("/authorize", params={"client_id": "portal", "redirect_uri": "https://evil.example/"})
        assert foreign.status_code == 400 and "location" not in foreign.headers


async def test_an_unexpected_error_is_a_plain_page_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = build_app(PortalSettings(portal_dev_key_dir=tmp_path))

    @app.get("/boom")
    async def boom() -> None:
        raise ZeroDivisionError("a bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as http:
        answer = await http.get("/boom")
    assert answer.status_code == 500
    assert "Something went wrong" in answer.text
    assert "ZeroDivisionError" not in answer.text and "Traceback" not in answer.text
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)


def test_refusals_land_beside_their_fields_in_plain_words() -> None:
    refusal = Refusal("catalog", 422, "invalid_request", "the request does not match the API schema", [
        {"loc": ["query", "issuer_id"], "msg": "Input should be a valid UUID", "type": "uuid_parsing"},
        {"loc": ["query", "limit"], "msg": "Input should be less than or equal to 200", "type": "less_than_equal"},
        {"loc": ["body", "rubric"], "msg": "levels must ascend", "type": "value_error"},
    ])
    problems = problems_of(refusal, {"issuer_id": "issuer", "limit": "page"})
    assert problems.fields == {"issuer": ["This is not one of the choices offered."], "page": ["Enter 200 or less."]}
    assert problems.general == ["rubric: Levels must ascend."]
    assert problems_of(Refusal("catalog", 403, "forbidden", "requires role operator"), {}).general == [
        "You are not allowed to do this with the role you signed in with."]
