"""The whole story in one browser test (issue 20, point 9): every step through the portal's pages, as each person
would take it, with axe-core on every page and a screenshot of each (test-artifacts/portal/story-NN-*.png).

1. The issuer administrator drafts a credential in the editor (the six components, a two-criterion rubric) and
   submits it; the operator approves it through the stress-test checklist, publishes it, and certifies two
   reviewers of the story's own for it in the reviewer registry.
2. A teacher of the story's own finds it in the catalog, applies, uploads a real 12 MiB video in parts over a slow
   connection, pauses, reloads the page, picks the file again and resumes; answers the prompts, leaves, comes
   back to find them saved, and submits.
3. The first reviewer finds the review in their queue and scores "not yet" with feedback on each criterion.
4. The teacher reads the feedback on the timeline, changes an answer and resubmits with a note to the reviewer.
5. The second reviewer gets the resubmission (review routes an attempt away from whoever scored an earlier one:
   "fresh eyes"), reads the note, and passes it.
6. The teacher sees the credential on /earned and the Tennessee credit on /licenses.
7. Pulaski County's district administrator approves the Arkansas credit (Arkansas's rule set has the district
   approve a credit before its hours post), and the teacher's Arkansas progress shows the hours.

Only what no page offers is done through the APIs: the story's people are added to the development provider's
people.json (as tests/portal/test_reviewer.py adds its reviewer), and the teacher's Tennessee and Arkansas licenses
are registered with licensure (a license comes from the state's records; no portal page registers one). Waiting for
the platform's events (the assignment, the award, the credit) is done by reloading the page the person would.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, expect
from portal_browser import (
    PortalWorld,
    assert_accessible,
    collect_browser_errors,
    large_video,
    offer_sign_in,
    screenshot,
    signed_in_page,
    throttle_uploads,
)

from microcred.devstack.client import PlatformClient, wait_for
from microcred.devstack.platform import Platform
from microcred.devstack.samples import QUICK_SERVICE_ENV
from microcred.runtime.auth import Role
from microcred.runtime.dev_oidc import Person

ADMIN = "Issuer administrator"
OPERATOR = "Platform operator"
DISTRICT_ADMIN = "District administrator"
DISTRICT = "Pulaski County"
PART_SIZE = int(QUICK_SERVICE_ENV["MICROCRED_PART_SIZE_BYTES"])
CRITERIA = ("Elicits evidence", "Acts on it")
PROMPTS = ("What did the whiteboards show you?", "What did you do next?")
FIRST_ANSWERS = ("Most of the class had it; five did not.", "I moved on and came back to it the next day.")
REVISED = "I regrouped the five at once and re-taught with a number line while the rest went on."
NOTE = "I now say what I did in the lesson itself, at minute two of the video."


class Story:
    """The story's names and the page of whoever is acting, one screenshot number after another."""

    def __init__(self, world: PortalWorld, browser: Browser) -> None:
        self.world = world
        self.browser = browser
        self.unique = uuid.uuid4().hex[:6]
        self.name = f"Whiteboard Checks {self.unique}"
        self.shots = 0

    def page_of(self, person: str) -> Page:
        return signed_in_page(self.browser, self.world, person)

    def seen(self, page: Page, what: str, *, full_page: bool = True, at: Locator | None = None) -> None:
        """Every page of the story: axe finds nothing, and it is photographed; a long page to the window's height,
        from its top or from ``at``."""
        assert_accessible(page)
        if at is not None:
            at.evaluate("element => element.scrollIntoView()")  # its top at the window's top
        elif not full_page:
            page.evaluate("window.scrollTo(0, 0)")
        self.shots += 1
        screenshot(page, f"story-{self.shots:02d}-{what}", full_page=full_page)

    @staticmethod
    def nav(page: Page, link: str) -> None:
        """A link of the main navigation (a breadcrumb may name the same place)."""
        page.get_by_role("navigation", name="Main").get_by_role("link", name=link).click()

    def go(self, page: Page, path: str) -> None:
        page.goto(self.world.url + path)


def reload_until(page: Page, found: Callable[[], Locator], what: str, timeout: float = 30) -> None:
    """Reloads the page, as the person would, until ``found()`` shows: the platform's events take a moment."""
    def there() -> bool:
        if found().count():
            return True
        page.reload()
        return False
    wait_for(there, what, timeout=timeout, interval=0.5)


def test_the_whole_story_through_the_pages(browser: Browser, platform: Platform, client: PlatformClient,
                                           portal_world: PortalWorld, tmp_path: Path) -> None:
    story = Story(portal_world, browser)
    teacher_id = f"story-teacher-{story.unique}"
    reviewers = (f"story-reviewer-a-{story.unique}", f"story-reviewer-b-{story.unique}")  # a < b: a is routed first
    teacher_label = f"Story teacher ({teacher_id})"
    offer_sign_in(platform.tokens.directory, Person(
        key=f"st-{story.unique}", label=teacher_label, subject=teacher_id, roles=[Role.TEACHER], states=["TN", "AR"],
        name="Story Teacher", email=f"{teacher_id}@schools.example", district=DISTRICT))
    for letter, reviewer_id in zip("ab", reviewers, strict=True):
        offer_sign_in(platform.tokens.directory, Person(
            key=f"sr{letter}-{story.unique}", label=f"Story reviewer ({reviewer_id})", subject=reviewer_id,
            roles=[Role.REVIEWER], name=f"Story Reviewer {letter.upper()}"))
    teacher = client.actor(teacher_id, Role.TEACHER, states=("TN", "AR"), district=DISTRICT,
                           email=f"{teacher_id}@schools.example")
    client.register_license(teacher, "TN")
    assert client.register_license(teacher, "AR")["district"] == DISTRICT

    credential_id = author_and_submit(story)
    approve_publish_and_certify(story, credential_id, reviewers)
    application_url = apply_upload_and_submit(story, teacher_label, tmp_path)
    score_not_yet(story, reviewers[0])
    revise_and_resubmit(story, teacher_label, application_url)
    pass_with_the_note(story, reviewers[1])
    earned_and_licenses(story, teacher_label, application_url)
    district_approves(story, teacher_id, teacher_label)


def author_and_submit(story: Story) -> str:
    page = story.browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    page.context.set_default_timeout(15_000)
    story.go(page, "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Microcred")
    story.seen(page, "home")
    page.get_by_role("link", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    story.seen(page, "sign-in")
    page.get_by_role("button", name=re.compile(ADMIN)).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Catalog")
    story.nav(page, "Authoring")
    expect(page.get_by_role("heading", level=1)).to_have_text("Authoring")
    story.seen(page, "authoring")

    page.get_by_role("link", name="Author a new credential").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New credential")
    page.get_by_label("Name", exact=True).fill(story.name)
    page.get_by_label("Description").fill("Mini whiteboards show, mid-lesson, who has it; the teacher acts on it.")
    # The six components: competency, key method, method components, research, submission criteria, rubric.
    page.get_by_label("Competency").fill("Adjusts instruction in the moment from every student's answer.")
    page.get_by_label("Key method").fill("Every student answers on a mini whiteboard; the teacher reads them all.")
    page.get_by_label("Method components").fill("Ask one hinge question\nRead every board\nRegroup at once")
    page.get_by_label("Supporting research").fill("Wiliam (2011) Embedded formative assessment "
                                                  "https://example.org/wiliam")
    page.locator("#req-0-title").fill("Classroom video")
    page.locator("#req-0-kind").select_option("video")
    page.locator("#req-0-prompts").fill("\n".join(PROMPTS))
    page.locator("#req-0-max_duration_seconds").fill("120")
    for index, criterion in enumerate(CRITERIA):
        if index:
            page.get_by_role("button", name="Add a criterion").click()
            expect(page.locator(f"#criterion-{index}-name")).to_be_focused()
        page.locator(f"#criterion-{index}-name").fill(criterion)
        for level, (name, points) in enumerate((("Not yet", "0"), ("Proficient", "2"))):
            page.locator(f"#criterion-{index}-level-{level}-name").fill(name)
            page.locator(f"#criterion-{index}-level-{level}-points").fill(points)
    page.get_by_label("Level every criterion must reach").fill("Proficient")
    page.get_by_label("Estimated hours").fill("15")
    story.seen(page, "authoring-editor", full_page=False)
    page.get_by_role("button", name="Save draft").first.click()
    expect(page.get_by_role("status")).to_contain_text("Draft saved.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Edit “{story.name}”")
    credential_id = re.search(r"/authoring/([0-9a-f-]{36})/", page.url).group(1)  # type: ignore[union-attr]
    page.get_by_label("Note to the operator (optional)").fill("For the spring catalog.")
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.get_by_role("status")).to_contain_text("Submitted for approval")
    story.seen(page, "authoring-submitted", full_page=False)
    page.context.close()
    return credential_id


def approve_publish_and_certify(story: Story, credential_id: str, reviewers: tuple[str, str]) -> None:
    page = story.page_of(OPERATOR)
    story.nav(page, "Operations")
    expect(page.get_by_role("heading", level=1)).to_have_text("Operations")
    story.seen(page, "operations")
    page.get_by_role("link", name="Approval queue").click()
    story.seen(page, "approval-queue")
    page.get_by_role("link", name=story.name).click()
    checks = page.get_by_label("Yes to every question above")
    expect(checks).to_have_count(3)  # the research, the evidence asked for, the rubric
    for check in checks.all():
        check.check()
    story.seen(page, "stress-test", full_page=False)
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("Approved.")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_contain_text("Published")

    story.nav(page, "Operations")
    page.get_by_role("link", name="Reviewer registry").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reviewer registry")
    for reviewer_id in reviewers:
        page.get_by_label("Add a reviewer by their sign-in id").fill(reviewer_id)
        page.get_by_label("Add a reviewer by their sign-in id").press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Reviewer {reviewer_id}")
        expect(page.get_by_text("This reviewer is not in the registry yet")).to_be_visible()
        page.get_by_label("Add a certification").select_option(label=story.name)
        if reviewer_id == reviewers[0]:
            story.seen(page, "reviewer-new")
        page.get_by_role("button", name="Save reviewer").click()
        expect(page.get_by_role("status")).to_contain_text("Reviewer saved.")
        row = page.get_by_role("row", name=re.compile(reviewer_id))
        expect(row).to_contain_text(story.name)
    story.seen(page, "reviewer-registry", full_page=False)
    page.context.close()


def apply_upload_and_submit(story: Story, teacher_label: str, tmp_path: Path) -> str:
    video = large_video(tmp_path / "whiteboards.webm")
    assert video.stat().st_size > 2 * PART_SIZE, "the video must go up in three parts"
    page = story.page_of(teacher_label)
    errors = collect_browser_errors(page)
    page.get_by_label("Search").fill(story.name)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", level=2, name="1 credential")).to_be_visible()
    story.seen(page, "catalog-search")
    page.get_by_role("link", name=story.name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(story.name)
    story.seen(page, "credential")
    page.get_by_role("button", name="Start an application").click()
    application_url = page.url
    assert re.search(r"/applications/[0-9a-f-]{36}$", application_url)

    # Up in parts over a slow connection; paused in the second part; the page reloaded; the same file again.
    lift = throttle_uploads(page, 3 * 1024 * 1024)
    status = page.locator("#upload-classroom-video-status")
    page.get_by_label("Add a file to “Classroom video”").set_input_files(str(video))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(status).to_have_text("Uploading whiteboards.webm…")  # hashed: the bar now counts bytes sent
    expect(page.locator("#progress-classroom-video")).to_have_attribute("value", re.compile(r"^(4[5-9]|[5-8]\d)$"),
                                                                        timeout=60_000)
    page.get_by_role("button", name="Pause upload").click()
    expect(status).to_have_text(re.compile(r"^Paused at (4[5-9]|[5-8]\d)%\."))  # the first of three parts is in
    section = page.get_by_role("heading", level=2, name=re.compile("^Classroom video"))
    story.seen(page, "upload-paused", full_page=False, at=section)
    lift()
    page.reload()
    expect(page.get_by_text(re.compile(r"An upload of “whiteboards\.webm” \(1\d\.\d MB\) was stopped"))).to_be_visible()
    story.seen(page, "upload-after-reload", full_page=False, at=section)
    page.get_by_label("Add a file to “Classroom video”").set_input_files(str(video))
    page.get_by_role("button", name="Resume upload").click()
    expect(status).to_have_text(re.compile(r"whiteboards\.webm: verified, 1\d\.\d MB, video/webm, 3\.0 seconds long"),
                                timeout=60_000)

    # Answers save as they are typed; the teacher leaves and comes back to them.
    for index, answer in enumerate(FIRST_ANSWERS):
        page.get_by_label(f"{index + 1}. {PROMPTS[index]}").fill(answer)
    expect(page.locator("#save-status")).to_have_text(re.compile(r"^Saved at "))
    story.nav(page, "My applications")
    expect(page.get_by_role("heading", level=1)).to_have_text("My applications")
    story.seen(page, "applications")
    page.get_by_role("link", name=story.name).click()
    for index, answer in enumerate(FIRST_ANSWERS):
        expect(page.get_by_label(f"{index + 1}. {PROMPTS[index]}")).to_have_value(answer)
    expect(page.get_by_text("Everything required is here.")).to_be_visible()
    story.seen(page, "application-ready", full_page=False)
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_role("status").filter(has_text="Submitted for review.")).to_be_visible()
    story.seen(page, "application-submitted", full_page=False)
    assert not errors, errors
    page.context.close()
    return application_url


def open_review(story: Story, page: Page, queue_shot: str) -> None:
    """From the reviewer's queue (once review has routed the attempt) to the review, once its evidence is readable
    (the submission service lets the reviewer read it when it hears of the assignment)."""
    story.nav(page, "Review queue")
    expect(page.get_by_role("heading", level=1)).to_have_text("Review queue")
    reload_until(page, lambda: page.get_by_role("link", name=story.name), "the attempt routed to the reviewer")
    story.seen(page, queue_shot)
    page.get_by_role("link", name=story.name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(story.name)
    reload_until(page, lambda: page.locator("video"), "the evidence readable by the reviewer")


def score(page: Page, levels: dict[str, str], feedback: dict[str, str]) -> None:
    for index, criterion in enumerate(CRITERIA):
        group = page.get_by_role("group", name=f"{index + 1}. {criterion}")
        group.get_by_label(re.compile(f"^{levels[criterion]}")).check()
        if criterion in feedback:
            page.get_by_label(f"Feedback on “{criterion}”").fill(feedback[criterion])
    page.get_by_role("button", name="Record scores").click()
    expect(page.get_by_role("status").filter(has_text="Your scores are recorded.")).to_be_visible()


def score_not_yet(story: Story, reviewer_id: str) -> None:
    page = story.page_of(f"Story reviewer ({reviewer_id})")
    open_review(story, page, "review-queue")
    expect(page.locator("main")).to_contain_text(FIRST_ANSWERS[0])
    story.seen(page, "review", full_page=False)
    score(page, dict.fromkeys(CRITERIA, "Not yet"), {c: f"{c}: say what the five did after you saw the boards."
                                                       for c in CRITERIA})
    story.seen(page, "review-scored", full_page=False)
    page.context.close()


def revise_and_resubmit(story: Story, teacher_label: str, application_url: str) -> None:
    page = story.page_of(teacher_label)
    story.nav(page, "My applications")
    page.get_by_role("link", name=story.name).click()
    reload_until(page, lambda: page.get_by_role("table", name="Feedback on attempt 1"), "the reviewer's feedback")
    assert page.url == application_url
    expect(page.locator(".timeline [aria-current='step']")).to_contain_text("Revision requested")
    feedback = page.get_by_role("table", name="Feedback on attempt 1")
    for criterion in CRITERIA:
        row = feedback.get_by_role("row").filter(has=page.get_by_role("rowheader", name=criterion))
        expect(row).to_contain_text("Not yet")
        expect(row).to_contain_text("say what the five did after you saw the boards")
    story.seen(page, "application-feedback", full_page=False)
    page.get_by_label(f"2. {PROMPTS[1]}").fill(REVISED)
    expect(page.locator("#save-status")).to_have_text(re.compile(r"^Saved at "))
    page.get_by_label("Note to the reviewer (optional)").fill(NOTE)
    page.get_by_role("button", name="Resubmit for review").click()
    expect(page.get_by_role("status").filter(has_text="Submitted for review.")).to_be_visible()
    expect(page.locator(".timeline")).to_contain_text("Resubmitted (attempt 2)")
    expect(page.locator(".timeline .note-sent")).to_have_text(f"Your note to the reviewer: {NOTE}")
    story.seen(page, "application-resubmitted", full_page=False)
    page.context.close()


def pass_with_the_note(story: Story, reviewer_id: str) -> None:
    page = story.page_of(f"Story reviewer ({reviewer_id})")
    open_review(story, page, "review-queue-second-reviewer")
    note = page.get_by_role("region", name="Note from the teacher on this resubmission")
    expect(note).to_contain_text(NOTE)
    expect(page.locator("main")).to_contain_text(REVISED)
    story.seen(page, "review-with-note", full_page=False)
    score(page, dict.fromkeys(CRITERIA, "Proficient"), {})
    page.context.close()


def earned_and_licenses(story: Story, teacher_label: str, application_url: str) -> None:
    page = story.page_of(teacher_label)
    page.goto(application_url)
    reload_until(page, lambda: page.get_by_role("link", name="See it in My credentials"), "the award")
    expect(page.locator(".timeline [aria-current='step']")).to_contain_text("Earned")
    story.seen(page, "application-earned", full_page=False)
    page.get_by_role("link", name="See it in My credentials").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My credentials")
    card = page.get_by_role("article", name=story.name)
    expect(card.locator(".standing")).to_have_text("Active")
    expect(card).to_contain_text(story.world.issuer_name)
    story.seen(page, "earned")
    story.nav(page, "License progress")
    expect(page.get_by_role("heading", level=1)).to_have_text("License progress")
    credits = page.get_by_role("table", name="Credits in Tennessee")
    reload_until(page, lambda: credits.get_by_role("rowheader", name=story.name), "the Tennessee credit")
    expect(page.get_by_role("region", name="Tennessee").locator(".progress-summary")).to_contain_text("6 of 60 points")
    story.seen(page, "licenses")
    page.context.close()


def district_approves(story: Story, teacher_id: str, teacher_label: str) -> None:
    page = story.page_of(DISTRICT_ADMIN)
    story.nav(page, "Approvals and reports")
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("^Approvals and reports"))
    story.seen(page, "agency")
    page.get_by_role("link", name="Waiting for approval").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("^Credits waiting for approval"))
    row = page.get_by_role("row").filter(has_text=story.name)
    reload_until(page, lambda: row, "the Arkansas credit waiting for the district")
    expect(row).to_contain_text(teacher_id)
    expect(row).to_contain_text(DISTRICT)
    story.seen(page, "agency-approvals", full_page=False)
    row.get_by_role("link", name=re.compile(f"^Decide on {re.escape(story.name)}")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("^Decide a credit"))
    page.get_by_label(re.compile("^Approve")).check()
    page.get_by_label("Reason").fill("In the teacher's growth plan for this year.")
    story.seen(page, "agency-decide")
    page.get_by_role("button", name="Send the decision").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("^Credits waiting for approval"))
    expect(page.get_by_role("status")).to_contain_text("Approved")
    expect(page.get_by_role("row").filter(has_text=story.name)).to_have_count(0)
    page.context.close()

    page = story.page_of(teacher_label)
    story.nav(page, "License progress")
    arkansas = page.get_by_role("table", name="Credits in Arkansas")
    reload_until(page, lambda: arkansas.get_by_role("rowheader", name=story.name), "the Arkansas credit posted")
    expect(page.get_by_role("region", name="Arkansas").locator(".progress-summary")).to_contain_text(
        re.compile(r"^15 of 36 hours"))
    story.seen(page, "licenses-arkansas")
    page.context.close()
