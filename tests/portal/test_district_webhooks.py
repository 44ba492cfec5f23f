"""A district administrator manages their own district's webhook endpoints in Chromium (issue 21): the area offers
them, an endpoint they add (keyboard only) is their district's and sends only their district's records, the
state's own endpoints are not among theirs, and they delete it again. Every page is checked with axe-core and
photographed at desktop and phone width.
"""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Browser, expect
from portal_browser import PortalWorld, assert_accessible, checked, screenshot, sign_in, tab_to

from microcred.devstack.client import PlatformClient
from microcred.runtime.auth import Role

DISTRICT = "Pulaski County"  # the sample district administrator's (devstack.seed)


def test_a_district_administrator_adds_and_deletes_their_districts_endpoint_with_the_keyboard(
    browser: Browser, portal_world: PortalWorld, client: PlatformClient, receiver_url: str,
) -> None:
    ar_admin = client.actor(f"ar-admin-{uuid.uuid4().hex[:6]}", Role.STATE_ADMIN, states=("AR",))
    states_own = client.call("POST", "licensure", "/webhooks", ar_admin, expect=201,
                             json={"state": "AR", "url": receiver_url + "/state"})
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, portal_world, "District administrator")
        tab_to(page, "^Approvals and reports$")
        page.keyboard.press("Enter")
        checked(page, "Approvals and reports")
        expect(page.locator(".lead")).to_contain_text("your district's records")
        tab_to(page, "^Webhook endpoints$")
        page.keyboard.press("Enter")
        checked(page, "Webhook endpoints")
        expect(page.get_by_text("Every record of your district's licensees in AR")).to_be_visible()
        expect(page.get_by_role("link", name=receiver_url + "/state")).to_have_count(0)  # the state's, not theirs
        screenshot(page, "district-webhooks-01-endpoints")

        tab_to(page, "^Endpoint address$")
        page.keyboard.type(receiver_url)
        page.keyboard.press("Enter")
        checked(page, "Webhook endpoint created")
        expect(page.get_by_role("status")).to_contain_text(f"Records of {DISTRICT}'s licensees in AR")
        assert len(page.get_by_label("Signing secret").input_value()) >= 32
        screenshot(page, "district-webhooks-02-created")
        tab_to(page, "^Back to the webhook endpoints$")
        page.keyboard.press("Enter")
        checked(page, "Webhook endpoints")
        row = page.get_by_role("row").filter(has_text=receiver_url)
        expect(row).to_contain_text(DISTRICT)
        expect(row).to_contain_text("Yes")
        screenshot(page, "district-webhooks-03-listed")
        page.set_viewport_size({"width": 390, "height": 844})
        checked(page, "Webhook endpoints")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling on a phone"
        screenshot(page, "district-webhooks-04-listed-phone")
        page.set_viewport_size({"width": 1200, "height": 900})

        tab_to(page, f"^{re.escape(receiver_url)}$")  # the link, not the table region around it
        page.keyboard.press("Enter")
        checked(page, "Webhook deliveries")
        expect(page.locator(".facts")).to_contain_text(re.compile(rf"Records of\s*{DISTRICT}"))
        screenshot(page, "district-webhooks-05-deliveries")
        tab_to(page, "^Delete this endpoint$")
        page.keyboard.press("Enter")
        checked(page, "Webhook endpoints")
        expect(page.get_by_role("status")).to_contain_text("The endpoint is deleted")
        expect(page.get_by_role("row").filter(has_text=receiver_url)).to_contain_text("No (deleted)")
        # Another district's administrator, or the state's own endpoint: not theirs, so not there.
        page.goto(f"{portal_world.url}/agency/webhooks/{states_own['subscription_id']}?state=AR")
        expect(page.get_by_role("heading", level=1)).not_to_have_text("Webhook deliveries")
        assert_accessible(page)
    finally:
        context.close()
        client.attempt("DELETE", "licensure", f"/webhooks/{states_own['subscription_id']}", ar_admin)
