"""The district administrator decides a recognition in Chromium, with the keyboard alone: a Pulaski County teacher's
fifth credential earns the sample salary schedule's lane step (AR-PULASKI-LANE-STEPS, which the district
approves); the sample district administrator finds it from the approvals overview, is refused a decline without a
reason beside the field, and approves it. Every page is checked with axe-core and photographed at desktop and
phone width.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.sync_api import Browser, Page, expect
from portal_browser import PortalWorld, assert_accessible, checked, screenshot, sign_in, tab_to

from microcred.devstack.client import PlatformClient, wait_for
from microcred.runtime.auth import Role

DISTRICT = "Pulaski County"
LANE = "AR-PULASKI-LANE-STEPS"


def both_widths(page: Page, name: str) -> None:
    """The page photographed at desktop width and at a phone's 390 px, and checked at both."""
    screenshot(page, f"{name}-desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    assert_accessible(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page is wider than the phone"
    screenshot(page, f"{name}-phone")
    page.set_viewport_size({"width": 1200, "height": 900})


def test_the_district_admin_approves_a_lane_step_with_the_keyboard(
    browser: Browser, portal_world: PortalWorld, client: PlatformClient, module_world: Any,
) -> None:
    unique = portal_world.unique + uuid.uuid4().hex[:4]
    teacher = module_world.teacher(state="AR", district=DISTRICT)
    # Five credentials earned while the schedule is in force: one lane step, which Pulaski County approves.
    for n in range(1, 6):
        module_world.earn(teacher, module_world.publish(f"Lane Practice {n} {unique}"))
    district_actor = client.actor(f"pulaski-{unique}", Role.DISTRICT_ADMIN, states=("AR",), district=DISTRICT)
    wait_for(lambda: [p for p in client.call("GET", "licensure", "/states/AR/pending-recognitions", district_actor,
                                             params={"limit": "200"})
                      if p["teacher_id"] == teacher.subject and p["program_id"] == LANE],
             "the lane step waiting for Pulaski County")

    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, portal_world, "District administrator")
    tab_to(page, "^Approvals and reports$")
    page.keyboard.press("Enter")
    checked(page, "Approvals and reports")
    tab_to(page, "^Recognitions waiting for approval$")
    page.keyboard.press("Enter")
    checked(page, "Recognitions waiting for approval")
    row = page.get_by_role("row").filter(has_text=teacher.subject)
    expect(row).to_contain_text("Lane step")
    expect(row).to_contain_text("1000 USD")
    expect(row).to_contain_text("Pulaski County salary schedule")
    both_widths(page, "recognitions-01-pending")

    tab_to(page, f"^Decide on Lane step step-1 for {re.escape(teacher.subject)}")
    page.keyboard.press("Enter")
    checked(page, "Decide a recognition")
    expect(page.get_by_text(f"Lane Practice 5 {unique}", exact=False)).to_be_visible()
    tab_to(page, "^Approve")
    page.keyboard.press("ArrowDown")  # the radio group: the arrow moves to and chooses "Decline"
    expect(page.get_by_label(re.compile("^Decline"))).to_be_checked()
    tab_to(page, "^Send the decision$")
    page.keyboard.press("Enter")
    expect(page.locator("#reason-error")).to_contain_text("Give the reason for declining")
    expect(page.get_by_label(re.compile("^Decline"))).to_be_checked()
    expect(page.get_by_role("alert")).to_contain_text("Reason")
    assert page.title().startswith("Error: ")
    checked(page, "Decide a recognition")
    both_widths(page, "recognitions-02-decline-without-reason")

    tab_to(page, "^Decline")
    page.keyboard.press("ArrowUp")
    expect(page.get_by_label(re.compile("^Approve"))).to_be_checked()
    tab_to(page, "^Reason$")
    page.keyboard.type("Five credentials in the teacher's growth plan.")
    tab_to(page, "^Send the decision$")
    page.keyboard.press("Enter")
    checked(page, "Recognitions waiting for approval")
    expect(page.get_by_role("status")).to_contain_text("Approved")
    expect(page.get_by_role("row").filter(has_text=teacher.subject)).to_have_count(0)
    both_widths(page, "recognitions-03-approved")
    context.close()
    # Gone from the service's list too (what was published is the e2e test's: tests/e2e/test_recognition_decisions.py).
    assert not [p for p in client.call("GET", "licensure", "/states/AR/pending-recognitions", district_actor,
                                       params={"limit": "200"}) if p["teacher_id"] == teacher.subject]
