"""The teacher's application in Chromium: start, upload a document and a real video straight to the object store,
answers that save as they are typed and survive leaving the page, the missing checklist, submit, the timeline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from portal_browser import PortalWorld, assert_accessible, collect_browser_errors, screenshot, sign_in

from microcred.devstack.client import PlatformClient
from microcred.devstack.samples import credential_definition, tiny_video
from microcred.runtime.auth import Role

CRITERIA = {"items": [
    {"key": "lesson-plan", "kind": "document", "title": "Lesson plan", "accepted_content_types": ["text/plain"],
     "max_size_bytes": 1024 * 1024, "prompts": ["Where in the lesson does each check happen?"]},
    {"key": "classroom-video", "kind": "video", "title": "Classroom video", "max_duration_seconds": 120,
     "prompts": ["What did the class show you, and what did you do about it?", "What would you change?"]},
]}


@pytest.fixture(scope="module")
def application_credential(client: PlatformClient, portal_world: PortalWorld) -> tuple[str, str]:
    """A published credential whose video requirement a one-second video meets (the sample catalog's ask for
    five minutes and more), under the portal world's issuer."""
    operator = client.operator(f"portal-app-op-{portal_world.unique}")
    admin = client.actor(f"portal-app-admin-{portal_world.unique}", Role.ISSUER_ADMIN,
                         organization=portal_world.issuer_id)
    name = f"Formative Checks in Practice {portal_world.unique}"
    definition = credential_definition(name) | {"submission_criteria": CRITERIA}
    draft = client.draft_credential(admin, portal_world.issuer_id, definition)
    client.approve_and_publish(admin, operator, draft["credential_id"], 1)
    return name, str(draft["credential_id"])


def upload(page: Page, key: str, path: Path) -> None:
    page.locator(f"#upload-{key}").set_input_files(str(path))
    page.locator(f"[data-upload-button='{key}']").click()


def test_a_teacher_applies_uploads_answers_leaves_returns_and_submits(
        page: Page, portal_world: PortalWorld, application_credential: tuple[str, str], tmp_path: Path) -> None:
    name, credential_id = application_credential
    # The script's own failures and anything the page's Content-Security-Policy blocked (the refused answers the
    # test provokes are logged by the browser as failed loads, which are expected).
    browser_errors = collect_browser_errors(page)
    sign_in(page, portal_world)
    page.goto(portal_world.url + f"/credentials/{credential_id}")
    page.get_by_role("button", name="Start an application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    application_url = page.url
    assert re.search(r"/applications/[0-9a-f-]{36}$", application_url)
    expect(page.get_by_role("heading", level=2, name=re.compile("^Lesson plan"))).to_be_visible()
    expect(page.get_by_role("heading", level=2, name=re.compile("^Classroom video"))).to_be_visible()
    expect(page.get_by_text("Accepted types: text/plain.")).to_be_visible()
    expect(page.get_by_text("At most 2 minutes long.")).to_be_visible()
    checklist = page.locator(".checklist")
    for missing in ("Lesson plan: upload 1 more verified file.", "Classroom video: answer prompt 2."):
        expect(checklist.get_by_role("link", name=missing)).to_be_visible()
    assert_accessible(page)
    screenshot(page, "10-application-started")

    # Submitting now: the service's own list of everything missing, beside a kept page.
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_text("The submission service did not take it yet.")).to_be_visible()
    expect(checklist.get_by_role("alert")).to_contain_text("Classroom video: upload 1 more verified file.")
    expect(checklist.get_by_role("alert")).to_contain_text("Lesson plan: answer prompt 1.")
    assert_accessible(page)
    screenshot(page, "11-application-incomplete")

    # A file the requirement does not take is refused in plain words beside the upload.
    page.goto(application_url)
    picture = tmp_path / "photo.mp4"
    picture.write_bytes(b"this is text pretending to be a video " * 10)
    upload(page, "lesson-plan", picture)
    expect(page.locator("#upload-lesson-plan-status")).to_contain_text("Not uploaded:")
    expect(page.locator("#upload-lesson-plan-status")).to_contain_text("text/plain")

    plan = tmp_path / "lesson-plan.txt"
    plan.write_text("Warm-up: thumbs up/down check on equivalent fractions.\nMid-lesson: mini whiteboards.\n")
    upload(page, "lesson-plan", plan)
    expect(page.locator("#upload-lesson-plan-status")).to_have_text(
        re.compile(r"lesson-plan\.txt: verified, 0\.1 KB, text/plain\."))
    expect(page.locator("#progress-lesson-plan")).to_have_attribute("value", "100")
    video = tmp_path / "gesture-check.mp4"
    video.write_bytes(tiny_video())
    upload(page, "classroom-video", video)
    expect(page.locator("#upload-classroom-video-status")).to_have_text(
        re.compile(r"gesture-check\.mp4: verified, [\d.]+ KB, video/mp4, 1\.0 seconds long\."))

    # Answers save as they are typed: no button pressed, then the page is left and opened again.
    page.get_by_label("1. Where in the lesson does each check happen?").fill("At the warm-up and mid-lesson.")
    page.get_by_label("1. What did the class show you, and what did you do about it?").fill(
        "Half the class mixed up numerator and denominator, so I regrouped them for a quick re-teach.")
    expect(page.locator("#save-status")).to_have_text(re.compile(r"^Saved at "))
    page.get_by_label("2. What would you change?").fill("Check earlier.")  # left before the pause ends: a beacon
    page.get_by_role("link", name="Catalog").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Catalog")
    page.get_by_role("link", name="My applications").click()
    page.get_by_role("link", name=name).click()
    expect(page.get_by_label("1. Where in the lesson does each check happen?")).to_have_value(
        "At the warm-up and mid-lesson.")
    expect(page.get_by_label("2. What would you change?")).to_have_value("Check earlier.")
    expect(page.get_by_text(re.compile(r"gesture-check\.mp4: verified\. .*video/mp4, 1\.0 seconds long"))).to_be_visible()
    expect(page.get_by_text("Everything required is here.")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "12-application-ready")

    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_role("status").filter(has_text="Submitted for review.")).to_be_visible()
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("Started")
    expect(timeline).to_contain_text("Submitted")
    expect(timeline).to_contain_text(re.compile("Waiting for a reviewer|Under review"))
    expect(page.get_by_role("button", name="Submit for review")).to_have_count(0)
    expect(page.locator("#answer-classroom-video-1")).to_have_text("Check earlier.")
    assert_accessible(page)
    screenshot(page, "13-application-submitted")
    assert not browser_errors, browser_errors


def test_answers_save_without_javascript_and_a_refusal_keeps_them(
        browser: Browser, portal_world: PortalWorld, application_credential: tuple[str, str]) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1200, "height": 900})
    try:
        page = context.new_page()
        sign_in(page, portal_world)
        page.goto(portal_world.url + f"/credentials/{application_credential[1]}")
        page.get_by_role("button", name="Start an application").click()
        expect(page.get_by_text("Uploading needs JavaScript")).to_have_count(2)
        page.get_by_label("1. Where in the lesson does each check happen?").fill("Plain form, no script.")
        page.get_by_role("button", name="Save answers").click()
        expect(page.get_by_role("status").filter(has_text="Your answers are saved.")).to_be_visible()
        expect(page.get_by_label("1. Where in the lesson does each check happen?")).to_have_value(
            "Plain form, no script.")

        too_long = "x" * 50_001  # the service takes at most 50,000 characters an answer
        page.get_by_label("2. What would you change?").fill(too_long)
        page.get_by_role("button", name="Save answers").click()
        expect(page.locator("#answer-classroom-video-1-error")).to_contain_text(
            "Use at most 50000 characters (you entered 50001).")
        expect(page.get_by_label("2. What would you change?")).to_have_value(too_long)
        expect(page.get_by_label("2. What would you change?")).to_have_attribute("aria-invalid", "true")
        assert page.title().startswith("Error: ")
        # No axe run here: axe-core is a script, and this context runs none (its evaluate never returns).
        screenshot(page, "14-application-answer-refused")
    finally:
        context.close()
