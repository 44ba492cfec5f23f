"""Renewal of the signed-in person's access token with a rotated refresh token, against the development provider.

The portal is served by uvicorn on a socket: sign-in goes through authlib's own HTTP client to the provider
mounted in the same process, as it does in `make up`.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from microcred.portal.adapters.sessions import SessionStore
from microcred.portal.bootstrap import build_app
from microcred.portal.settings import PortalSettings
from microcred.runtime.auth import DevTokenIssuer, Role
from microcred.runtime.dev_oidc import Person, write_people


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[tuple[str, FastAPI]]:
    DevTokenIssuer(tmp_path)  # the key the provider signs with
    write_people(tmp_path, [Person(key="teacher", label="Sample Teacher", subject="teacher-1", roles=[Role.TEACHER],
                                   states=["TN"], name="Sample Teacher")])
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # The services are not running: a page that calls one answers with the outage page (503), after sign-in.
    app = build_app(PortalSettings(portal_public_url=url, portal_dev_key_dir=tmp_path, http_timeout_seconds=2))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the portal did not start"
        time.sleep(0.05)
    try:
        yield url, app
    finally:
        server.should_exit = True
        thread.join(10)


def sign_in(http: httpx.Client) -> None:
    chooser = http.get("/sign-in", params={"next": "/applications"}, follow_redirects=True)
    request_id = re.search(r'name="request" value="([^"]+)"', chooser.text)
    assert request_id, chooser.text
    http.post("/dev-oidc/authorize", data={"request": request_id.group(1), "person": "teacher"},
              follow_redirects=True)


def test_an_expiring_token_is_renewed_once_and_a_refused_renewal_signs_out(portal: tuple[str, FastAPI]) -> None:
    url, app = portal
    store: SessionStore = app.state.sessions
    with httpx.Client(base_url=url, timeout=10) as http:
        sign_in(http)
        [session] = [s for s in store._sessions.values() if s.user is not None]
        assert session.user is not None and session.user.refresh_token
        first_access, first_refresh = session.user.access_token, session.user.refresh_token

        # Half a minute left: the next page renews before calling any service, and the provider rotates.
        session.user.expires_at = time.time() + 30
        page = http.get("/applications")
        assert page.status_code == 503  # signed in still: the submission service is simply not running here
        assert session.user.access_token != first_access and session.user.refresh_token != first_refresh
        assert session.user.expires_at > time.time() + 600

        # The spent refresh token is worth nothing now; a session holding it is signed out, back to sign-in.
        session.user.refresh_token, session.user.expires_at = first_refresh, time.time() + 30
        refused = http.get("/applications")
        assert refused.status_code == 303 and refused.headers["location"].startswith("/sign-in?next=")
        assert session.id not in store._sessions


def test_an_expired_token_without_a_refresh_token_ends_the_session(portal: tuple[str, FastAPI]) -> None:
    url, app = portal
    store: SessionStore = app.state.sessions
    with httpx.Client(base_url=url, timeout=10) as http:
        sign_in(http)
        [session] = [s for s in store._sessions.values() if s.user is not None]
        assert session.user is not None
        session.user.refresh_token, session.user.expires_at = None, time.time() - 1
        assert http.get("/applications").status_code == 303
