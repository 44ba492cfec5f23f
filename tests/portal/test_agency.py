"""State and district staff in Chromium: a state admin adds a webhook endpoint and sees what it was sent; a district
administrator decides an Arkansas credit with the keyboard alone (a rejection without a reason refused beside the
field, then an approval with one), reads the credit report as a table and a chart, downloads it as CSV, and finds
the teacher in the competency matrix. Every page is checked with axe-core and photographed.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, expect
from portal_browser import PortalWorld, checked, screenshot, sign_in, tab_to

from microcred.devstack.client import Actor, PlatformClient, wait_for
from microcred.runtime.auth import Role

DISTRICT = "Pulaski County"


def test_state_and_district_staff_decide_report_and_watch_their_webhooks(
    browser: Browser, portal_world: PortalWorld, client: PlatformClient, module_world: Any, receiver_url: str,
) -> None:
    unique = portal_world.unique + uuid.uuid4().hex[:4]
    competency = f"Checks for understanding in the moment ({unique})"
    credential_id = module_world.publish(f"District Approved Practice {unique}", competency=competency)
    credential_name = f"District Approved Practice {unique} {module_world.unique}"  # World.publish adds its own
    teacher: Actor = module_world.teacher(state="AR", licensed=False, also_in=("TN",), district=DISTRICT)
    ar_license = client.register_license(teacher, "AR")
    client.register_license(teacher, "TN")
    assert ar_license["district"] == DISTRICT

    # -- the state administrator of Tennessee adds a webhook endpoint before the award ---------------------------
    state_context = browser.new_context(viewport={"width": 1200, "height": 900})
    state_context.set_default_timeout(15_000)
    page = state_context.new_page()
    sign_in(page, portal_world, "State administrator")
    page.get_by_role("link", name="Approvals and reports").click()
    checked(page, "Approvals and reports")
    screenshot(page, "agency-01-overview-state")
    page.get_by_role("navigation", name="Approvals and reports").get_by_role("link", name="Webhook endpoints").click()
    checked(page, "Webhook endpoints")
    page.get_by_label("Endpoint address").fill("ftp://example.org/hook")
    page.get_by_role("button", name="Add the endpoint").click()
    expect(page.locator("#url-error")).to_contain_text("http")  # refused beside the field, the input kept
    expect(page.get_by_label("Endpoint address")).to_have_value("ftp://example.org/hook")
    checked(page, "Webhook endpoints")
    screenshot(page, "agency-02-webhook-refused")
    page.get_by_label("Endpoint address").fill(receiver_url)
    page.get_by_role("button", name="Add the endpoint").click()
    checked(page, "Webhook endpoint created")
    secret = page.get_by_label("Signing secret").input_value()
    assert len(secret) >= 32
    screenshot(page, "agency-03-webhook-created")
    page.get_by_role("link", name="See this endpoint's deliveries").click()
    checked(page, "Webhook deliveries")
    expect(page.get_by_text("Nothing has been sent to this endpoint yet")).to_be_visible()
    endpoint_url = page.url
    assert secret not in page.content(), "the secret is shown once, at creation"

    # -- the teacher earns the credential: Tennessee credits it at once, Arkansas waits for the district ---------
    award = module_world.earn(teacher, credential_id)
    district_actor = client.actor(f"pulaski-{unique}", Role.DISTRICT_ADMIN, states=("AR",), district=DISTRICT)
    wait_for(lambda: any(p["award_id"] == award["award_id"] for p in client.call(
        "GET", "licensure", "/states/AR/pending-credits", district_actor)), "the Arkansas credit waiting")

    def delivered() -> bool:
        page.goto(endpoint_url.split("?")[0] + "?state=TN&status=delivered")
        return page.get_by_role("row").filter(has_text="credit posted").count() > 0

    wait_for(delivered, "the Tennessee credit delivered to the endpoint", timeout=60, interval=1)
    checked(page, "Webhook deliveries")
    expect(page.get_by_role("row").filter(has_text="award").first).to_be_visible()
    screenshot(page, "agency-04-webhook-deliveries")
    page.get_by_role("row").filter(has_text="credit posted").first.get_by_role("checkbox").check()
    page.get_by_role("button", name="Replay the chosen deliveries").click()
    expect(page.get_by_role("status")).to_contain_text("1 delivery queued to be sent again")
    checked(page, "Webhook deliveries")
    page.get_by_label("Replay from").fill("2999-01-01")
    page.get_by_role("button", name="Replay from this day").click()
    expect(page.locator("#since-error")).to_contain_text("not in the future")
    checked(page, "Webhook deliveries")
    screenshot(page, "agency-05-webhook-replay-refused")
    page.get_by_role("button", name="Delete this endpoint").click()
    checked(page, "Webhook endpoints")
    expect(page.get_by_role("status")).to_contain_text("The endpoint is deleted")
    expect(page.get_by_role("row").filter(has_text=receiver_url)).to_contain_text("No (deleted)")
    screenshot(page, "agency-06-webhook-endpoints")
    state_context.close()

    # -- the district administrator of Pulaski County decides, keyboard only ------------------------------------
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, portal_world, "District administrator")
    tab_to(page, "^Approvals and reports$")
    page.keyboard.press("Enter")
    checked(page, "Approvals and reports")
    expect(page.get_by_text(re.compile(r"\d+ credits? waiting for a decision"))).to_be_visible()
    screenshot(page, "agency-07-overview-district")
    tab_to(page, "^Waiting for approval$")
    page.keyboard.press("Enter")
    checked(page, "Credits waiting for approval")
    row = page.get_by_role("row").filter(has_text=credential_name)
    expect(row).to_contain_text(teacher.subject)
    expect(row).to_contain_text(DISTRICT)
    screenshot(page, "agency-08-approvals")
    tab_to(page, f"^Decide on {re.escape(credential_name)}")
    page.keyboard.press("Enter")
    checked(page, "Decide a credit")
    expect(page.get_by_text(credential_name)).to_be_visible()
    tab_to(page, "^Approve")
    page.keyboard.press("ArrowDown")  # the radio group: the arrow moves to and chooses "Reject"
    expect(page.get_by_label(re.compile("^Reject"))).to_be_checked()
    tab_to(page, "^Send the decision$")
    page.keyboard.press("Enter")
    # The service requires a reason to reject: said beside the field, the choice kept, the summary first.
    expect(page.locator("#reason-error")).to_contain_text("Give the reason for rejecting")
    expect(page.get_by_label(re.compile("^Reject"))).to_be_checked()
    expect(page.get_by_role("alert")).to_contain_text("Reason")
    assert page.title().startswith("Error: ")
    checked(page, "Decide a credit")
    screenshot(page, "agency-09-reject-without-reason")
    tab_to(page, "^Reject")
    page.keyboard.press("ArrowUp")
    expect(page.get_by_label(re.compile("^Approve"))).to_be_checked()
    tab_to(page, "^Reason$")
    page.keyboard.type("In the teacher's growth plan for this year.")
    tab_to(page, "^Send the decision$")
    page.keyboard.press("Enter")
    checked(page, "Credits waiting for approval")
    expect(page.get_by_role("status")).to_contain_text("Approved")
    expect(page.get_by_role("row").filter(has_text=credential_name)).to_have_count(0)
    screenshot(page, "agency-10-approved")
    progress = client.call("GET", "licensure", f"/licenses/{ar_license['license_id']}/progress", teacher)
    assert (progress["earned"], progress["unit"]) == ("15", "hours")
    assert progress["decisions"][0]["decided_by"] == "district-admin-pulaski"

    # -- the credit report: table, chart, CSV ---------------------------------------------------------------------
    page.get_by_role("navigation", name="Approvals and reports").get_by_role("link", name="Credits report").click()
    checked(page, "Credits by district and credential")
    table_row = page.get_by_role("row").filter(has_text=credential_name)
    expect(table_row).to_contain_text(DISTRICT)
    expect(table_row).to_contain_text("15 hours")
    chart = page.get_by_role("img", name=re.compile("Credits posted by district and credential"))
    expect(chart).to_be_visible()
    assert f"{DISTRICT}: {credential_name}, 1 credit;" in (chart.locator("desc").text_content() or "")
    screenshot(page, "agency-11-credits-report")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download this report as CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("AR-credits-") and download.suggested_filename.endswith(
        "-district_credential.csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    mine = [r for r in rows if r["credential_name"] == credential_name]
    assert mine == [{"district": DISTRICT, "credential_id": credential_id, "credential_name": credential_name,
                     "credits": "1", "reversals": "0", "net_amount": "15", "unit": "hours"}]
    assert {r["district"] for r in rows} == {DISTRICT}, "a district admin's report is their district's alone"
    page.get_by_label("From", exact=True).fill("2026-02-01")
    page.get_by_label("To", exact=True).fill("2026-01-01")
    page.get_by_role("button", name="Show the report").click()
    expect(page.locator("#end-error")).to_contain_text("on or after the start date")
    expect(page.get_by_label("From", exact=True)).to_have_value("2026-02-01")
    checked(page, "Credits by district and credential")

    # -- who holds which competency -------------------------------------------------------------------------------
    page.get_by_role("navigation", name="Approvals and reports").get_by_role(
        "link", name="Competencies by district").click()
    checked(page, "Competencies held by district")
    header = page.get_by_role("columnheader", name=competency)
    expect(header).to_be_visible()
    # The row's cells: the licensed teachers first, then one per competency (the header's id counts from 1).
    column = int(str(header.get_attribute("id")).rsplit("-", 1)[1])
    pulaski = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=DISTRICT))
    licensed = int(pulaski.get_by_role("cell").nth(0).inner_text())
    expect(pulaski.get_by_role("cell").nth(column)).to_have_text(f"1 of {licensed}")
    expect(page.get_by_text(credential_name)).to_be_visible()
    screenshot(page, "agency-12-competencies")
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("navigation", name="Approvals and reports").get_by_role("link", name="Credits report").click()
    checked(page, "Credits by district and credential")
    screenshot(page, "agency-13-credits-report-phone")
    context.close()
