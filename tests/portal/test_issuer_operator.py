"""The issuer admin's and the operator's pages in Chromium: a credential drafted through the editor (a criterion and
a level added), refused beside a field with the input kept, submitted, approved through the stress-test checklist
and published; a reviewer's capacity edited; an award suspended and reinstated; the catalog exported and imported."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from playwright.sync_api import Browser, Page, expect
from portal_browser import PortalWorld, assert_accessible, screenshot, signed_in_page, tab_to

from microcred.devstack.client import PlatformClient

ADMIN = "Issuer administrator"
OPERATOR = "Platform operator"


def fill_level(page: Page, criterion: int, level: int, name: str, points: str) -> None:
    page.locator(f"#criterion-{criterion}-level-{level}-name").fill(name)
    page.locator(f"#criterion-{criterion}-level-{level}-points").fill(points)


def test_an_issuer_drafts_with_the_rubric_editor_and_an_operator_approves_and_publishes(
        browser: Browser, portal_world: PortalWorld) -> None:
    name = f"Checking for understanding {uuid.uuid4().hex[:6]}"
    page = signed_in_page(browser, portal_world, ADMIN)
    page.get_by_role("link", name="Authoring").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Authoring")
    expect(page.get_by_role("table")).to_contain_text(next(iter(portal_world.credentials)))  # the issuer's published
    assert_accessible(page)
    screenshot(page, "issuer-01-authoring")

    page.get_by_role("link", name="Author a new credential").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New credential")
    expect(page.get_by_label("Issuer")).to_have_value(portal_world.issuer_id)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Description").fill("Teachers check what every student understood before moving on.")
    page.get_by_label("Key method").fill("Exit tickets read the same day.")
    page.get_by_label("Method components").fill("Write one question\nRead every answer\nRegroup the next day")
    page.get_by_label("Supporting research").fill("Wiliam (2011) Embedded formative assessment https://example.org/w")
    page.locator("#req-0-title").fill("Lesson video")
    page.locator("#req-0-prompts").fill("What did the tickets show?")
    page.locator("#criterion-0-name").fill("Elicits evidence")
    fill_level(page, 0, 0, "Not yet", "0")
    fill_level(page, 0, 1, "Proficient", "2")
    page.get_by_role("button", name="Add a level to criterion 1").click()
    expect(page.locator("#criterion-0-level-2-name")).to_be_focused()  # the new row, ready to type in
    expect(page.locator("#criterion-0-level-1-name")).to_have_value("Proficient")  # nothing typed was lost
    fill_level(page, 0, 2, "Exemplary", "3")
    page.get_by_role("button", name="Add a criterion").click()
    expect(page.locator("#criterion-1-name")).to_be_focused()
    page.locator("#criterion-1-name").fill("Acts on it")
    fill_level(page, 1, 0, "Not yet", "0")
    fill_level(page, 1, 1, "Proficient", "ten")  # the catalog refuses this, beside the field
    page.get_by_label("Level every criterion must reach").fill("Proficient")
    page.get_by_role("button", name="Save draft").first.click()  # competency left empty: refused too

    expect(page.locator("#competency-error")).to_contain_text("Use at least 1 character")
    expect(page.locator("#criterion-1-level-1-points-error")).to_contain_text("Enter a whole number")
    expect(page.get_by_label("Competency")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    expect(page.get_by_label("Name", exact=True)).to_have_value(name)
    expect(page.locator("#criterion-0-level-2-name")).to_have_value("Exemplary")
    expect(page.locator("#criterion-1-level-1-points")).to_have_value("ten")
    assert page.title().startswith("Error: ")
    assert_accessible(page)
    screenshot(page, "issuer-02-editor-refused")

    page.get_by_label("Competency").fill("Checks, during the lesson, what each student understood.")
    page.locator("#criterion-1-level-1-points").fill("1")
    page.get_by_role("button", name="Save draft").first.click()
    expect(page.get_by_role("status")).to_contain_text("Draft saved.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Edit “{name}”")
    expect(page.locator("#criterion-1-name")).to_have_value("Acts on it")
    assert_accessible(page)
    screenshot(page, "issuer-03-draft-saved")

    page.get_by_label("Note to the operator (optional)").fill("Ready for the spring catalog.")
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.get_by_role("status")).to_contain_text("Submitted for approval")
    history = page.get_by_role("table").last
    expect(history).to_contain_text("Draft → Waiting for approval")
    expect(history).to_contain_text("Ready for the spring catalog.")
    assert_accessible(page)
    screenshot(page, "issuer-04-submitted")
    page.context.close()

    operator = signed_in_page(browser, portal_world, OPERATOR)
    operator.get_by_role("link", name="Operations").click()
    expect(operator.get_by_role("heading", level=1)).to_have_text("Operations")
    assert_accessible(operator)
    screenshot(operator, "operator-01-operations")
    operator.get_by_role("link", name="Approval queue").click()
    assert_accessible(operator)
    screenshot(operator, "operator-02-approval-queue")
    operator.get_by_role("link", name=name).click()
    operator.get_by_label("Yes to every question above").nth(0).check()
    operator.get_by_label("Yes to every question above").nth(2).check()
    operator.get_by_role("button", name="Approve").click()  # one check left unticked: refused beside it
    expect(operator.locator("#check-evidence_requirements-error")).to_contain_text("Confirm this check")
    expect(operator.locator("#check-research_base")).to_be_checked()
    assert_accessible(operator)
    screenshot(operator, "operator-03-stress-test-refused")
    operator.locator("#check-evidence_requirements").check()
    operator.get_by_label("Note for the history (optional)").fill("Stress-tested: clear levels.")
    operator.get_by_role("button", name="Approve").click()
    expect(operator.get_by_role("status")).to_contain_text("Approved.")
    operator.get_by_role("button", name="Publish").click()
    expect(operator.get_by_role("status")).to_contain_text("Published")
    expect(operator.get_by_role("table").last).to_contain_text("Approved, not yet published → Published")
    assert_accessible(operator)
    screenshot(operator, "operator-04-published")
    operator.goto(portal_world.url + f"/catalog?q={re.escape(name.split()[-1])}")
    expect(operator.get_by_role("link", name=name)).to_be_visible()
    operator.context.close()


def test_an_operator_edits_a_reviewer_sees_the_waiting_work_and_moves_the_catalog(
        browser: Browser, portal_world: PortalWorld, client: PlatformClient) -> None:
    operator_actor = client.operator(f"portal-op-{portal_world.unique}")
    reviewer_id = f"portal-reviewer-{uuid.uuid4().hex[:6]}"
    client.register_reviewer(operator_actor, reviewer_id, list(portal_world.credentials.values())[:1], max_open=3)
    page = signed_in_page(browser, portal_world, OPERATOR)
    page.goto(portal_world.url + "/operations/reviewers")
    row = page.get_by_role("row", name=re.compile(reviewer_id))
    expect(row).to_contain_text("0 / 3")
    assert_accessible(page)
    screenshot(page, "operator-05-reviewers")
    page.get_by_role("link", name=reviewer_id).click()
    page.get_by_label("Capacity").fill("lots")
    page.get_by_label("Availability").select_option("paused")
    page.get_by_role("button", name="Save reviewer").click()
    expect(page.locator("#max_open-error")).to_contain_text("Enter a whole number")
    expect(page.get_by_label("Availability")).to_have_value("paused")  # kept
    assert_accessible(page)
    screenshot(page, "operator-06-reviewer-refused")
    page.get_by_label("Capacity").fill("7")
    page.get_by_role("button", name="Save reviewer").click()
    expect(page.get_by_role("status")).to_contain_text("Reviewer saved.")
    row = page.get_by_role("row", name=re.compile(reviewer_id))
    expect(row).to_contain_text("0 / 7")
    expect(row).to_contain_text("Paused")
    saved = next(r for r in client.call("GET", "review", "/reviewers", operator_actor) if r["reviewer_id"] == reviewer_id)
    assert saved["max_open"] == 7 and saved["availability"] == "paused"
    assert [c["status"] for c in saved["certifications"]] == ["active"]  # certification kept

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Operations").click()
    page.get_by_role("link", name="Work waiting for a reviewer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Work waiting for a reviewer")
    assert_accessible(page)
    screenshot(page, "operator-07-waiting")

    page.goto(portal_world.url + "/operations/catalog")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the catalog").click()
    exported = download.value.path()
    assert exported is not None and b'"credentials"' in exported.read_bytes()
    # Back in: this run's issuer and its credentials only. The whole catalog of the shared test platform holds other
    # tests' credentials, and the catalog rightly refuses a new version of one with a draft still open.
    document = json.loads(exported.read_bytes())
    [mine] = [i["key"] for i in document["issuers"] if i["name"] == portal_world.issuer_name]
    document = {**document, "issuers": [i for i in document["issuers"] if i["key"] == mine],
                "credentials": [c for c in document["credentials"] if c["issuer"] == mine and
                                c["name"] in portal_world.credentials],
                "stacks": [], "pathways": []}
    assert len(document["credentials"]) == len(portal_world.credentials)
    page.get_by_label("Catalog file").set_input_files(files=[{"name": "catalog.json", "mimeType": "application/json",
                                                              "buffer": json.dumps(document).encode()}])
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("status")).to_contain_text("Unchanged")
    assert_accessible(page)
    screenshot(page, "operator-08-catalog-imported")
    page.get_by_label("Catalog file").set_input_files(files=[{"name": "bad.json", "mimeType": "application/json",
                                                              "buffer": b'{"format": "nonsense"}'}])
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#document-error")).to_contain_text("nothing was imported")
    assert_accessible(page)
    screenshot(page, "operator-09-catalog-refused")
    page.context.close()


def test_an_operator_suspends_and_reinstates_an_award_with_a_reason(browser: Browser, portal_world: PortalWorld,
                                                                     world: Any) -> None:
    teacher = world.teacher()
    award = world.earn(teacher, world.publish("Portal standing"))
    page = signed_in_page(browser, portal_world, OPERATOR)
    page.goto(portal_world.url + "/operations/awards")
    assert_accessible(page)
    screenshot(page, "operator-10-awards")
    # Found by the teacher who asks (their awards only), or by the award's id.
    page.get_by_label("A teacher's awards").fill(teacher.subject)
    page.get_by_role("button", name="Show their awards").click()
    table = page.get_by_role("table", name=f"Awards of {teacher.subject}, newest first")
    expect(table.get_by_role("row")).to_have_count(2)  # the header and the one award
    assert_accessible(page)
    table.get_by_role("link", name=re.compile("Portal standing")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Portal standing")
    assert award["award_id"] in page.url
    page.goto(portal_world.url + "/operations/awards")
    page.get_by_label("Find an award by its id").fill(award["award_id"])
    page.get_by_role("button", name="Find", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Portal standing")
    page.get_by_role("button", name="Suspend").click()  # no reason: refused beside the field
    expect(page.locator("#reason-error")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Reason").fill("Evidence under investigation.")
    page.get_by_role("button", name="Suspend").click()
    expect(page.get_by_role("status")).to_contain_text("now suspended")
    expect(page.get_by_text("Evidence under investigation.")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "operator-11-award-suspended")
    page.get_by_label("Reason").fill("Investigation closed.")
    page.get_by_role("button", name="Reinstate").click()
    expect(page.get_by_role("status")).to_contain_text("now active")
    assert world.client.call("GET", "award", f"/awards/{award['award_id']}")["standing"] == "active"
    page.context.close()


def test_keyboard_only_authoring_of_a_draft(page: Page, portal_world: PortalWorld) -> None:
    page.goto(portal_world.url + "/sign-in")
    tab_to(page, ADMIN)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Catalog")
    tab_to(page, "^Authoring$")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Authoring")
    tab_to(page, "^Author a new credential$")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("New credential")
    name = f"Keyboard credential {uuid.uuid4().hex[:6]}"
    typed: list[tuple[str, str]] = [
        ("^name$", name), ("^description$", "Made with the keyboard alone."), ("^competency$", "A competency."),
        ("^key_method$", "A method."), ("^method_components$", "One"), ("^research$", "A source"),
        ("^req-0-title$", "Lesson video"), ("^criterion-0-name$", "Criterion"),
        ("^criterion-0-level-0-name$", "Not yet"), ("^criterion-0-level-0-points$", "0"),
        ("^criterion-0-level-1-name$", "Proficient"), ("^criterion-0-level-1-points$", "1"),
    ]
    for target, text in typed:
        tab_to(page, target)
        page.keyboard.type(text)
    tab_to(page, "^Add a level to criterion 1$")
    page.keyboard.press("Enter")
    expect(page.locator("#criterion-0-level-2-name")).to_be_focused()
    page.keyboard.type("Exemplary")
    tab_to(page, "^criterion-0-level-2-points$")
    page.keyboard.type("2")
    tab_to(page, "^passing_level$")
    page.keyboard.type("Proficient")
    page.keyboard.press("Enter")  # Enter in a text field saves: the form's first button is "Save draft"
    expect(page.get_by_role("status")).to_contain_text("Draft saved.")
    expect(page.locator("#criterion-0-level-2-name")).to_have_value("Exemplary")
