"""The portal in a real browser: Debian's Chromium driven by Playwright against the test platform's portal.

Chromium is a system tool (``require_tool``): absent locally the tests skip, absent in CI they fail; ``.ci/run``
installs it. Screenshots go to test-artifacts/portal/ (gitignored), one per page a test visits.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from portal_browser import CHROMIUM_ARGS, DEFINITION_FIELDS, PortalWorld
from system_tools import require_tool

from microcred.devstack.client import PlatformClient
from microcred.devstack.platform import Platform
from microcred.devstack.seed import load_catalog, sample_people
from microcred.runtime.auth import Role
from microcred.runtime.dev_oidc import write_people


@pytest.fixture(scope="session")
def portal_world(platform: Platform, client: PlatformClient) -> PortalWorld:
    """Two credentials of the sample catalog, published under an issuer of this run's own (names made unique, so
    other tests' credentials never match its searches), and the sample people offered at sign-in."""
    unique = uuid.uuid4().hex[:6]
    operator = client.operator(f"portal-op-{unique}")
    issuer_name = f"Digital Promise ({unique})"
    issuer_id = client.create_issuer(operator, issuer_name, url="https://digitalpromise.org")
    admin = client.actor(f"portal-admin-{unique}", Role.ISSUER_ADMIN, organization=issuer_id)
    credentials = {}
    for source in load_catalog()["credentials"][:2]:
        definition = {k: v for k, v in source.items() if k in DEFINITION_FIELDS}
        definition["name"] = f"{source['name']} {unique}"
        draft = client.draft_credential(admin, issuer_id, definition)
        client.approve_and_publish(admin, operator, draft["credential_id"], 1)
        credentials[definition["name"]] = str(draft["credential_id"])
    write_people(platform.tokens.directory, sample_people({f"dp-{unique}": issuer_id}))
    return PortalWorld(platform.url("portal"), unique, issuer_id, issuer_name, credentials)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module. Playwright's sync API keeps its event loop marked as running on this thread
    while it is open, so any ``asyncio.run`` in the same process (the devstack client's topic readers, async unit
    tests) fails until it closes: per module, the loop never outlives the browser tests that need it."""
    chromium = require_tool("chromium", "the portal's browser tests drive Debian's Chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    fresh = browser.new_context(viewport={"width": 1200, "height": 900})
    fresh.set_default_timeout(15_000)
    yield fresh
    fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


class Receiver(BaseHTTPRequestHandler):
    """An agency's webhook receiver that takes everything (signatures are the e2e tests' business)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet: the test's output is the assertions'."""


@pytest.fixture
def receiver_url() -> Iterator[str]:
    """A webhook endpoint a state or district registers through the pages; it accepts every delivery."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/microcred/{uuid.uuid4().hex[:6]}"
    server.shutdown()
    server.server_close()
