"""The teacher's outcomes in Chromium: a submission a reviewer sent back for revision, its feedback per criterion
on the timeline, a resubmission with a note to the reviewer (walked with the keyboard only, after a note too long
for the service was refused beside its field), and after a pass the credential on /earned with working links and
the license progress on /licenses. The reviewers are driven through the platform's APIs, as tests/e2e do."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect
from portal_browser import PortalWorld, assert_accessible, focused, screenshot, sign_in, tab_to

from microcred.devstack.client import Actor, PlatformClient, wait_for
from microcred.devstack.platform import Platform
from microcred.devstack.samples import NOT_YET, PROFICIENT, credential_definition, tiny_video
from microcred.devstack.seed import SAMPLE_STATE, SAMPLE_TEACHER
from microcred.runtime.auth import Role

FEEDBACK = "Show how the hinge question changed what you did next."
NOTE = "I added the exit tickets from the second lesson and say in the reflection how I regrouped students."


@dataclass
class Revised:
    name: str
    credential_id: str
    submission_id: str
    operator: Actor
    teacher: Actor


@pytest.fixture(scope="module")
def revised(client: PlatformClient, portal_world: PortalWorld) -> Revised:
    """The sample teacher (the person the portal signs in as), licensed in their state, with a submission whose
    first attempt a reviewer scored "not yet" with feedback on each criterion."""
    unique = f"{portal_world.unique}-{uuid.uuid4().hex[:4]}"
    operator = client.operator(f"outcomes-op-{unique}")
    admin = client.actor(f"outcomes-admin-{unique}", Role.ISSUER_ADMIN, organization=portal_world.issuer_id)
    name = f"Hinge Questions in Practice {unique}"
    draft = client.draft_credential(admin, portal_world.issuer_id, credential_definition(name))
    client.approve_and_publish(admin, operator, draft["credential_id"], 1)
    credential_id = str(draft["credential_id"])
    teacher = client.actor(SAMPLE_TEACHER, Role.TEACHER, states=(SAMPLE_STATE,),
                           email=f"{SAMPLE_TEACHER}@schools.example")
    # Other tests of the run may have licensed the sample teacher already; a license is registered once.
    if not [lic for lic in client.call("GET", "licensure", "/licenses", teacher) if lic["state"] == SAMPLE_STATE]:
        client.register_license(teacher, SAMPLE_STATE)

    first_reviewer = client.actor(f"outcomes-reviewer-a-{unique}", Role.REVIEWER)
    client.register_reviewer(operator, first_reviewer.subject, [credential_id])
    submission_id = str(client.start_submission(teacher, credential_id)["submission_id"])
    client.upload(teacher, submission_id, "classroom-video", tiny_video(), "video/mp4", "lesson.mp4")
    client.upload(teacher, submission_id, "reflection", b"The exit tickets showed ...", "text/plain", "reflection.txt")
    client.answer_prompts(teacher, submission_id, {("reflection", 0): "Most of the class had it; three did not."})
    client.submit(teacher, submission_id)
    review = client.assigned_review(first_reviewer, submission_id, attempt=1)
    client.score(first_reviewer, review["review_id"], NOT_YET, feedback=FEEDBACK)
    client.wait_status(teacher, submission_id, "revise_requested")
    return Revised(name, credential_id, submission_id, operator, teacher)


def test_a_teacher_reads_the_feedback_resubmits_with_a_note_and_sees_the_credential_and_license_progress(
        page: Page, client: PlatformClient, portal_world: PortalWorld, revised: Revised) -> None:
    sign_in(page, portal_world)
    application_url = f"{portal_world.url}/applications/{revised.submission_id}"
    page.goto(application_url)
    expect(page.get_by_role("heading", level=1)).to_have_text(revised.name)

    # The timeline: where it stands now, in words, and the reviewer's feedback on each criterion.
    now = page.locator(".timeline [aria-current='step']")
    expect(now).to_contain_text("Revision requested")
    expect(now).to_contain_text("Now")
    feedback = page.get_by_role("table", name="Feedback on attempt 1")
    for criterion in ("Overview of the lesson", "Adjusting instruction"):
        row = feedback.get_by_role("row").filter(has=page.get_by_role("rowheader", name=criterion))
        expect(row).to_contain_text("Not Yet")
        expect(row).to_contain_text(FEEDBACK)
    expect(page.get_by_role("heading", level=2, name="Before you resubmit")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "20-application-revise-feedback")
    page.set_viewport_size({"width": 390, "height": 844})
    assert_accessible(page)
    screenshot(page, "20-application-revise-feedback-phone")
    page.set_viewport_size({"width": 1200, "height": 900})

    # A note longer than the service takes is refused beside the field, the text kept.
    too_long = "The second lesson went differently. " * 56  # 2,016 characters: the service takes 2,000
    page.get_by_label("Note to the reviewer (optional)").fill(too_long)
    page.get_by_role("button", name="Resubmit for review").click()
    expect(page.locator("#note_to_reviewer-error")).to_contain_text(
        f"Use at most 2000 characters (you entered {len(too_long)}).")
    note_field = page.get_by_label("Note to the reviewer (optional)")
    expect(note_field).to_have_value(too_long)
    expect(note_field).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert").filter(has_text="There is a problem")).to_contain_text("Note to the reviewer")
    assert page.title().startswith("Error: ")
    assert client.submission(revised.teacher, revised.submission_id)["status"] == "revise_requested"
    assert_accessible(page)
    screenshot(page, "21-application-note-refused")

    # The resubmission with the keyboard only: to the note, type it, on to the button, Enter.
    page.goto(application_url)
    page.locator("body").focus()
    tab_to(page, "^note_to_reviewer$")
    page.keyboard.type(NOTE)
    page.keyboard.press("Tab")
    assert focused(page) == "Resubmit for review"
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Submitted for review.")).to_be_visible()
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("Resubmitted (attempt 2)")
    expect(timeline.locator(".note-sent")).to_have_text(f"Your note to the reviewer: {NOTE}")
    now = page.locator(".timeline [aria-current='step']")
    expect(now).to_contain_text(re.compile("Waiting for a reviewer|Under review"))
    expect(now).to_contain_text(re.compile(r"Decision expected by \d{1,2} [A-Z][a-z]+ \d{4}"))
    expect(page.get_by_label("Note to the reviewer (optional)")).to_have_count(0)
    assert_accessible(page)
    screenshot(page, "22-application-resubmitted")

    # A second reviewer (fresh eyes) reads the note beside the attempt, and passes it.
    second_reviewer = client.actor(f"outcomes-reviewer-b-{uuid.uuid4().hex[:6]}", Role.REVIEWER)
    client.register_reviewer(revised.operator, second_reviewer.subject, [revised.credential_id])
    review = client.assigned_review(second_reviewer, revised.submission_id, attempt=2)
    assert review["teacher_note"] == NOTE
    assert client.call("GET", "review", f"/reviews/{review['review_id']}", second_reviewer)["teacher_note"] == NOTE
    client.score(second_reviewer, review["review_id"], PROFICIENT)
    award_id = client.wait_status(revised.teacher, revised.submission_id, "awarded")["award_id"]

    page.goto(application_url)
    expect(page.locator(".timeline [aria-current='step']")).to_contain_text("Earned")
    page.get_by_role("link", name="See it in My credentials").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My credentials")
    card = page.get_by_role("article", name=revised.name)
    expect(card.locator(".standing")).to_have_text("Active")
    expect(card).to_contain_text(portal_world.issuer_name)
    share = card.get_by_role("link", name=f"Public page of “{revised.name}”")
    share_url = share.get_attribute("href") or ""
    assert share_url.endswith(f"/credentials/{award_id}")
    public = page.request.get(share_url)
    assert public.ok and revised.name in public.text()
    download = card.get_by_role("link", name=f"credential.json of “{revised.name}”").get_attribute("href") or ""
    document = page.request.get(download).json()
    issued = client.call("GET", "award", f"/awards/{award_id}")["credential"]
    assert "OpenBadgeCredential" in document["type"] and document == issued, "the download is the credential"
    for file in ("credential.jwt", "badge.png", "badge.svg"):
        href = card.get_by_role("link", name=f"{file} of “{revised.name}”").get_attribute("href") or ""
        assert page.request.get(href).ok, href
    linkedin = urlsplit(card.get_by_role("link", name=f"Add to LinkedIn profile for “{revised.name}”")
                        .get_attribute("href") or "")
    query = parse_qs(linkedin.query)
    assert (linkedin.netloc, linkedin.path) == ("www.linkedin.com", "/profile/add")
    assert (query["name"], query["organizationName"]) == ([revised.name], [portal_world.issuer_name])
    assert (query["certUrl"], query["certId"]) == ([share_url], [award_id])
    assert_accessible(page)
    screenshot(page, "23-earned")
    page.set_viewport_size({"width": 390, "height": 844})
    assert_accessible(page)
    screenshot(page, "23-earned-phone")
    page.set_viewport_size({"width": 1200, "height": 900})

    # The credit reaches the teacher's Tennessee license: its progress, with the credential named.
    license_id = next(lic["license_id"] for lic in client.call("GET", "licensure", "/licenses", revised.teacher)
                      if lic["state"] == SAMPLE_STATE)
    wait_for(lambda: any(e["award_id"] == award_id for e in client.call(
        "GET", "licensure", f"/licenses/{license_id}/progress", revised.teacher)["entries"]),
        "the credit to be posted")
    page.get_by_role("link", name="License progress").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("License progress")
    section = page.get_by_role("region", name="Tennessee")
    summary = section.locator(".progress-summary")
    expect(summary).to_contain_text(re.compile(r"^\d+ of 60 points"))
    earned_points = int(re.match(r"(\d+) of 60", summary.inner_text()).group(1))  # type: ignore[union-attr]
    assert earned_points >= 6 and earned_points % 6 == 0, "Tennessee counts each credential as 6 points"
    bar = section.get_by_role("progressbar", name="Progress toward renewal in Tennessee")
    expect(bar).to_have_attribute("max", "60.0")
    expect(bar).to_have_attribute("value", f"{float(earned_points)}")
    credits = section.get_by_role("table", name="Credits in Tennessee")
    row = credits.get_by_role("row").filter(has=page.get_by_role("rowheader", name=revised.name))
    expect(row).to_contain_text("Credit")
    expect(row.get_by_role("cell").last).to_have_text("6")
    assert_accessible(page)
    screenshot(page, "24-licenses")
    page.set_viewport_size({"width": 390, "height": 844})
    assert_accessible(page)
    screenshot(page, "24-licenses-phone")


def test_license_progress_while_licensure_is_down_says_so_and_comes_back(
        page: Page, platform: Platform, portal_world: PortalWorld) -> None:
    sign_in(page, portal_world)
    platform.stop_service("licensure")
    try:
        answer = page.goto(portal_world.url + "/licenses")
        assert answer is not None and answer.status == 503
        expect(page.get_by_role("heading", level=1)).to_have_text("License progress")
        expect(page.get_by_role("alert")).to_contain_text("The licensure service is not answering right now")
        assert "Traceback" not in page.content()
        assert_accessible(page)
        screenshot(page, "25-licenses-down")
    finally:
        platform.restart_service("licensure")
    page.reload()
    expect(page.get_by_role("alert")).to_have_count(0)
