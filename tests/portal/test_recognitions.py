"""Recognitions in Chromium: a Pulaski County teacher reads "2 of 3" toward a district's hard-to-staff eligibility with
the missing credential named, then holds it; the district administrator walks by keyboard alone from the agency
overview to the programs, finds the teacher in the eligibility list, opens the incentive report and downloads its
CSV with the ledger entries; an Arkansas state administrator filters the list by district. Every page is checked with
axe-core and photographed at desktop and phone width.

The programs are files licensure reads at start: this test writes an eligibility and an incentive over a stack of
its own (so no other test's teacher holds anything under them) and restarts licensure, as tests/e2e does.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect
from portal_browser import PortalWorld, assert_accessible, offer_sign_in, screenshot, sign_in, tab_to

from microcred.devstack.client import PlatformClient, wait_for
from microcred.devstack.platform import Platform
from microcred.runtime.auth import Role
from microcred.runtime.dev_oidc import Person

DISTRICT = "Pulaski County"


def program_file(program_id: str, version: dict[str, Any], district: str = DISTRICT) -> str:
    return json.dumps({
        "program_id": program_id, "state": "AR", "district": district, "agency": "portal test district",
        "confirm_with_agency": True, "note": "written by tests/portal/test_recognitions.py",
        "versions": [{"version": 1, "effective_from": "2024-07-01", **version}],
    })


def checked(page: Page, name: str, shot: str) -> None:
    """The page's one h1, no axe violation, and its photograph at desktop width then at 390 px (a phone)."""
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(name))
    assert page.locator("h1").count() == 1
    assert_accessible(page)
    screenshot(page, f"recognitions-{shot}")
    size = page.viewport_size or {"width": 1200, "height": 900}
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page is wider than a phone"
    assert_accessible(page)
    screenshot(page, f"recognitions-{shot}-phone")
    page.set_viewport_size(size)


def signed_in(browser: Browser, world: PortalWorld, person: str) -> Page:
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, world, person)
    return page


def test_teacher_progress_district_eligibility_list_and_incentive_csv(
    browser: Browser, platform: Platform, client: PlatformClient, portal_world: PortalWorld, module_world: Any,
    licensure_reads: Path,
) -> None:
    unique = portal_world.unique + module_world.unique[:4]
    names = [f"Lab Safety {n} {unique}" for n in range(1, 4)]
    three = [module_world.publish(name) for name in names]
    names = [f"{name} {module_world.unique}" for name in names]  # World.publish adds its own suffix
    stack = client.call("POST", "catalog", "/stacks", module_world.admin, expect=201, json={
        "issuer_id": module_world.issuer_id, "name": f"Lab Science {unique}", "description": "Three lab credentials.",
        "credential_ids": three})
    label = f"Lab science, hard to staff ({unique})"
    eligibility, incentive = f"AR-PORTAL-LAB-{unique}", f"AR-PORTAL-LAB-INCENTIVE-{unique}"
    (licensure_reads / "lab.json").write_text(program_file(eligibility, {
        "name": f"Pulaski County hard-to-staff lab science {unique}",
        "outcome": {"kind": "eligibility", "label": label,
                    "role": {"title": "Science teacher", "subject": "Science", "grade_band": "6-12"}},
        "rule": {"kind": "eligibility", "stacks": [stack["stack_id"]]}}))
    (licensure_reads / "lab-incentive.json").write_text(program_file(incentive, {
        "name": f"Pulaski County lab incentive {unique}",
        "outcome": {"kind": "incentive", "label": "Lab incentive", "amount": "100", "unit": "USD"},
        "rule": {"kind": "incentive_per_credential", "from_set": {"stacks": [stack["stack_id"]]}}}))
    # Another district's program: Pulaski's administrator is not shown it, the state's administrator is.
    benton = f"Benton County lab bonus {unique}"
    (licensure_reads / "benton.json").write_text(program_file(f"AR-PORTAL-BENTON-{unique}", {
        "name": benton, "outcome": {"kind": "incentive", "label": "Benton lab bonus", "amount": "50", "unit": "USD"},
        "rule": {"kind": "incentive_per_credential", "from_set": {"stacks": [stack["stack_id"]]}}},
        district="Benton County"))
    platform.stop_service("licensure")
    platform.restart_service("licensure")

    teacher_id = f"lab-teacher-{unique}"
    teacher_label = f"Lab teacher ({teacher_id})"
    offer_sign_in(platform.tokens.directory, Person(
        key=f"lt-{unique}", label=teacher_label, subject=teacher_id, roles=[Role.TEACHER], states=["AR"],
        name="Lab Teacher", email=f"{teacher_id}@schools.example", district=DISTRICT))
    offer_sign_in(platform.tokens.directory, Person(
        key=f"ar-{unique}", label=f"Arkansas administrator ({unique})", subject=f"ar-admin-{unique}",
        roles=[Role.STATE_ADMIN], states=["AR"], name="Arkansas Administrator"))
    teacher = client.actor(teacher_id, Role.TEACHER, states=("AR",), district=DISTRICT,
                           email=f"{teacher_id}@schools.example")
    license_number = client.register_license(teacher, "AR")["license_number"]
    for credential_id in three[:2]:
        module_world.earn(teacher, credential_id)

    def mine() -> dict[str, Any]:
        return {p["program_id"]: p for p in client.call("GET", "licensure", "/recognitions/me", teacher)["programs"]}

    wait_for(lambda: mine()[eligibility]["progress"]["have"] == "2", "two credentials counted", timeout=60)

    # -- the teacher: progress and what is missing, keyboard only ------------------------------------------------
    page = signed_in(browser, portal_world, teacher_label)
    tab_to(page, "^Recognitions$")
    page.keyboard.press("Enter")
    section = page.get_by_role("region", name=f"Pulaski County hard-to-staff lab science {unique}")
    expect(section).to_contain_text(f"2 of 3 for {label}")
    expect(section.get_by_role("list").filter(has_text=names[2])).to_be_visible()
    expect(section).to_contain_text("Still missing")
    expect(section.get_by_role("progressbar")).to_have_attribute("value", "2")
    expect(page.get_by_role("region", name=f"Pulaski County lab incentive {unique}")).to_contain_text(
        re.compile(r"200 USD in \d{4} for Lab incentive"))
    checked(page, "Recognitions", "01-teacher-two-of-three")

    module_world.earn(teacher, three[2])
    wait_for(lambda: mine()[eligibility]["held"], "the eligibility granted", timeout=60)
    page.reload()
    expect(section).to_contain_text(f"3 of 3 for {label}")
    expect(section).to_contain_text("Granted since")
    expect(section).not_to_contain_text("Still missing")
    checked(page, "Recognitions", "02-teacher-eligible")
    page.context.close()

    # -- the district administrator: the eligibility list and the incentive report, keyboard only ----------------
    page = signed_in(browser, portal_world, "District administrator")
    tab_to(page, "^Approvals and reports$")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Approvals and reports"))
    tab_to(page, "^Recognition programs$")
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"Pulaski County hard-to-staff lab science {unique}")).to_be_visible()
    expect(page.get_by_text(benton)).to_have_count(0)
    checked(page, "Recognition programs", "03-programs")
    tab_to(page, f"^Pulaski County hard-to-staff lab science {re.escape(unique)}$")
    page.keyboard.press("Enter")
    row = page.get_by_role("row").filter(has_text=teacher_id)
    expect(row).to_contain_text(license_number)
    expect(row).to_contain_text(DISTRICT)
    expect(row).to_contain_text("Granted")
    expect(page.get_by_text("1 teacher of your district: holding it now.")).to_be_visible()
    checked(page, f"Pulaski County hard-to-staff lab science {unique}", "04-eligibility-list")

    tab_to(page, "^Incentives report$")
    page.keyboard.press("Enter")
    year = str(datetime.now(UTC).year)
    line = page.locator("tbody").filter(has=page.get_by_role("rowheader", name=teacher_id))
    expect(line.locator("tr.line")).to_contain_text("300 USD")
    expect(line.locator("tr.entry")).to_have_count(3)
    checked(page, "Incentives report", "05-incentives")
    tab_to(page, "^Download this report as CSV")
    with page.expect_download() as download_info:
        page.keyboard.press("Enter")
    download = download_info.value
    assert download.suggested_filename == f"AR-incentives-{year}.csv"
    rows = [r for r in csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8")))
            if r["teacher_id"] == teacher_id]
    assert [r["row"] for r in rows] == ["line", "entry", "entry", "entry"]
    assert (rows[0]["program_id"], rows[0]["owed"], rows[0]["license_numbers"]) == (incentive, "300", license_number)
    assert sum(int(r["entry_amount"]) for r in rows[1:]) == 300 and all(r["entry_id"] for r in rows[1:])
    page.get_by_label("Year", exact=True).fill("20x6")
    page.get_by_role("button", name="Show the report").click()
    expect(page.locator("#year-error")).to_contain_text("Enter a year from 2000 to 2100")
    expect(page.get_by_label("Year", exact=True)).to_have_value("20x6")
    checked(page, "Incentives report", "06-incentives-bad-year")
    page.context.close()

    # -- a state administrator reads every district's list, or one district's ------------------------------------
    page = signed_in(browser, portal_world, f"Arkansas administrator ({unique})")
    page.goto(f"{portal_world.url}/agency/recognitions?state=AR")
    expect(page.get_by_role("link", name=benton, exact=True)).to_be_visible()
    page.goto(f"{portal_world.url}/agency/recognitions/{eligibility}?state=AR")
    page.get_by_label("District", exact=True).fill("Benton County")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("Nobody here yet.")).to_be_visible()
    page.get_by_label("District", exact=True).fill(DISTRICT)
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("row").filter(has_text=teacher_id)).to_contain_text(license_number)
    checked(page, f"Pulaski County hard-to-staff lab science {unique}", "07-state-district-filter")
    page.goto(f"{portal_world.url}/agency/recognitions/NO-SUCH-PROGRAM?state=AR")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    page.context.close()
