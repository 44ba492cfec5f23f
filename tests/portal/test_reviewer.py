"""The reviewer's pages in Chromium: the queue (blind, counts, overdue in words, sort, filter, pages), a review with
the evidence beside the rubric (a real H.264 video playing from its short-lived URL, the prompt answers and a text
document inline), scoring "not yet" refused without feedback and then recorded, a decline with a reason, and the
scoring walked with the keyboard alone."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from portal_browser import PortalWorld, assert_accessible, collect_browser_errors, offer_sign_in, screenshot, sign_in

from microcred.devstack.client import PlatformClient, wait_for
from microcred.devstack.platform import Platform
from microcred.runtime.auth import Role
from microcred.runtime.dev_oidc import Person

REFLECTION = "Most students had it; three did not, so I regrouped them."


def h264_video(path: Path, seconds: float = 1.0) -> bytes:
    """A real MP4 Chromium can decode. The e2e fixture (devstack.samples.tiny_video) is MPEG-4 Part 2, which
    Chromium's demuxer refuses ("no supported streams"), so a <video> of it never reaches its metadata."""
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for index in range(round(seconds * 10)):
            frame = av.VideoFrame(160, 120, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([index * 20 % 256]) * (plane.line_size * plane.height))
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path.read_bytes()


class ReviewerWorld:
    def __init__(self, client: PlatformClient, platform: Platform, portal_world: PortalWorld, video: bytes) -> None:
        self.client = client
        unique = uuid.uuid4().hex[:6]
        self.operator = client.operator(f"rq-op-{unique}")
        self.admin = client.actor(f"rq-admin-{unique}", Role.ISSUER_ADMIN, organization=portal_world.issuer_id)
        from microcred.devstack.samples import credential_definition

        self.credential_name = f"Responsive Teaching {unique}"
        draft = client.draft_credential(self.admin, portal_world.issuer_id, credential_definition(self.credential_name))
        client.approve_and_publish(self.admin, self.operator, draft["credential_id"], 1)
        self.credential_id = str(draft["credential_id"])
        # A reviewer of this test's own, offered at sign-in beside the sample people, certified for this credential
        # alone: no other test's work reaches their queue and no other test's reviewer takes this work.
        self.subject = f"queue-reviewer-{unique}"
        self.label = f"Queue reviewer ({self.subject})"
        offer_sign_in(platform.tokens.directory, Person(key=f"rq-{unique}", label=self.label, subject=self.subject,
                                                        roles=[Role.REVIEWER], name="Queue Reviewer"))
        client.register_reviewer(self.operator, self.subject, [self.credential_id], max_open=30)
        self.reviewer = client.actor(self.subject, Role.REVIEWER)
        self.video = video

    def submitted(self, note: str = "The exit tickets showed the gap.") -> dict[str, Any]:
        teacher = self.client.actor(f"teacher-{uuid.uuid4().hex[:8]}", Role.TEACHER, states=("TN",))
        submission_id = str(self.client.start_submission(teacher, self.credential_id)["submission_id"])
        self.client.upload(teacher, submission_id, "classroom-video", self.video, "video/mp4", "lesson.mp4")
        self.client.upload(teacher, submission_id, "reflection", note.encode(), "text/plain", "notes.txt")
        self.client.answer_prompts(teacher, submission_id, {("reflection", 0): REFLECTION})
        self.client.submit(teacher, submission_id)
        review = self.client.assigned_review(self.reviewer, submission_id, attempt=1)
        # The submission service lets the reviewer read the evidence once it has heard of the assignment (an event).
        wait_for(lambda: self.client.attempt("GET", "submission", f"/submissions/{submission_id}",
                                             self.reviewer).status_code == 200 or None,
                 "the submission service to let the reviewer read the evidence", 30)
        return review | {"teacher": teacher}


@pytest.fixture(scope="module")
def reviewer_world(client: PlatformClient, platform: Platform, portal_world: PortalWorld,
                   tmp_path_factory: pytest.TempPathFactory) -> ReviewerWorld:
    video = h264_video(tmp_path_factory.mktemp("video") / "lesson.mp4")
    return ReviewerWorld(client, platform, portal_world, video)


def video_ready_state(page: Page, within: float = 15.0) -> int:
    """The video's readyState once it reaches HAVE_METADATA, or where it stood at the deadline. Polled from here:
    wait_for_function evaluates its predicate with eval, which the page's own CSP (rightly) refuses."""
    deadline = time.monotonic() + within
    while True:
        state = int(page.evaluate("document.querySelector('video').readyState"))
        if state >= 1 or time.monotonic() > deadline:
            return state
        page.wait_for_timeout(100)


def test_a_reviewer_works_through_the_queue_scores_not_yet_and_declines(
        page: Page, portal_world: PortalWorld, reviewer_world: ReviewerWorld) -> None:
    browser_errors = collect_browser_errors(page)
    first = reviewer_world.submitted()
    second = reviewer_world.submitted()
    sign_in(page, portal_world, reviewer_world.label)

    page.get_by_role("link", name="Review queue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review queue")
    counts = page.locator(".review-counts")
    expect(counts).to_contain_text("Open")
    expect(counts.locator("div").first.locator("dd")).to_have_text("2")
    table = page.get_by_role("table", name="Reviews assigned to you")
    expect(table.get_by_role("link", name=reviewer_world.credential_name)).to_have_count(2)
    expect(page.get_by_text("The teacher's name is not shown: reviews are blind.")).to_be_visible()
    # Blind: nothing on the queue names the teachers whose work it lists.
    for teacher in (first["teacher"], second["teacher"]):
        expect(page.locator("main")).not_to_contain_text(teacher.subject)
    expect(page.get_by_role("heading", name="Your scoring agreement")).to_be_visible()
    expect(page.get_by_text("No figures yet")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "30-reviewer-queue")

    # Filtered by "overdue only": nothing is late yet, and the page says so in words.
    page.get_by_label("Due").select_option("overdue")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("No open review matches.")).to_be_visible()
    assert "due=overdue" in page.url
    page.get_by_label("Due").select_option("")
    page.get_by_label("Sort by").select_option("-assigned")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#queue-range")).to_contain_text("1 to 2 of 2, newest assigned first")

    page.goto(portal_world.url + f"/reviews/{first['review_id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(reviewer_world.credential_name)
    expect(page.get_by_role("heading", level=2, name="Evidence")).to_be_visible()
    expect(page.locator("blockquote.answer")).to_have_text(REFLECTION)
    expect(page.locator("pre.evidence-text")).to_have_text("The exit tickets showed the gap.")
    video = page.locator("video")
    expect(video).to_have_count(1)
    # The browser's own player loads the real video's metadata from the object store's short-lived URL (the page's
    # Content-Security-Policy names the store in media-src; without it Chromium refuses the load).
    assert video_ready_state(page) >= 1
    assert page.evaluate("document.querySelector('video').duration") > 0.5
    expect(page.locator("main")).not_to_contain_text(first["teacher"].subject)
    assert_accessible(page)
    screenshot(page, "31-reviewer-review")

    # "Not yet" without feedback: refused by the review service, said beside the criterion, choices kept.
    page.locator("#level-overview-not-yet").check()
    page.locator("#level-adjustment-not-yet").check()
    page.get_by_label("Feedback on “Adjusting instruction”").fill("Show what you changed after the exit ticket.")
    page.get_by_role("button", name="Record scores").click()
    expect(page.locator("#feedback-overview-error")).to_contain_text("Write feedback: the level you chose is below "
                                                                      "passing")
    expect(page.get_by_label("Feedback on “Overview of the lesson”")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#feedback-adjustment")).to_have_value("Show what you changed after the exit ticket.")
    expect(page.locator("#level-overview-not-yet")).to_be_checked()
    expect(page.locator(".error-summary")).to_contain_text("Feedback on “Overview of the lesson”: Write feedback")
    assert page.title().startswith("Error: ")
    assert_accessible(page)
    screenshot(page, "32-reviewer-feedback-required")

    page.get_by_label("Feedback on “Overview of the lesson”").fill("Say which lesson this was and what came before.")
    page.get_by_role("button", name="Record scores").click()
    expect(page.get_by_role("status").filter(has_text="Your scores are recorded.")).to_be_visible()
    expect(page.locator(".review-counts div").first.locator("dd")).to_have_text("1")
    scored = reviewer_world.client.call("GET", "review", f"/reviews/{first['review_id']}", reviewer_world.reviewer)
    assert scored["decision"] == "revise"
    assert {r["criterion_key"]: r["level_key"] for r in scored["results"]} == {"overview": "not-yet",
                                                                               "adjustment": "not-yet"}

    # Declining needs a reason: refused beside the field without one, then handed back with one.
    page.goto(portal_world.url + f"/reviews/{second['review_id']}")
    page.get_by_role("button", name="Decline", exact=True).click()
    expect(page.locator("#reason-error")).to_contain_text("Give a reason for declining.")
    assert_accessible(page)
    page.get_by_label("Reason for declining").fill("I coached this school last year: a conflict of interest.")
    page.get_by_role("button", name="Decline", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="The review was declined and handed back.")).to_be_visible()
    expect(page.get_by_text("You have no open reviews.")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "33-reviewer-queue-after")
    assert not browser_errors, browser_errors


def test_a_reviewer_scores_with_the_keyboard_alone(
        page: Page, portal_world: PortalWorld, reviewer_world: ReviewerWorld) -> None:
    review = reviewer_world.submitted()
    sign_in(page, portal_world, reviewer_world.label)
    page.goto(portal_world.url + f"/reviews/{review['review_id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(reviewer_world.credential_name)

    # The documented shortcut (Alt+Shift+N) reaches the first criterion; arrows choose its level.
    page.keyboard.press("Alt+Shift+KeyN")
    expect(page.locator("#level-overview-not-yet")).to_be_focused()
    expect(page.locator("#shortcut-status")).to_have_text("Criterion 1 of 2: Overview of the lesson")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#level-overview-proficient")).to_be_checked()
    page.keyboard.press("Alt+Shift+KeyN")
    expect(page.locator("#level-adjustment-not-yet")).to_be_focused()
    page.keyboard.press("Alt+Shift+KeyP")
    expect(page.locator("#level-overview-proficient")).to_be_focused()
    page.keyboard.press("Alt+Shift+KeyN")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#level-adjustment-proficient")).to_be_checked()

    # Turned off, the same keys do nothing (WCAG 2.1.4); the choice is a plain checkbox reached with Tab.
    page.locator(".shortcuts summary").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.locator("#shortcuts-on")).to_be_focused()
    page.keyboard.press("Space")
    expect(page.locator("#shortcuts-on")).not_to_be_checked()
    page.keyboard.press("Alt+Shift+KeyN")
    expect(page.locator("#shortcuts-on")).to_be_focused()

    # Tab order from the last level to the submit button, and Enter records the scores.
    page.locator("#level-adjustment-proficient").focus()
    page.keyboard.press("Tab")
    expect(page.locator("#feedback-adjustment")).to_be_focused()
    page.keyboard.type("Clear adjustment after the mid-lesson check.")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Record scores")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Your scores are recorded.")).to_be_visible()
    scored = reviewer_world.client.call("GET", "review", f"/reviews/{review['review_id']}", reviewer_world.reviewer)
    assert scored["decision"] == "passed"


def test_a_review_page_at_phone_width_and_a_bad_address(
        page: Page, portal_world: PortalWorld, reviewer_world: ReviewerWorld) -> None:
    review = reviewer_world.submitted()
    sign_in(page, portal_world, reviewer_world.label)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(portal_world.url + f"/reviews/{review['review_id']}")
    expect(page.get_by_role("heading", level=2, name="Rubric")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "34-reviewer-review-phone")
    page.goto(portal_world.url + "/reviews?page=999&sort=nonsense&role=boss")
    expect(page.get_by_text("No open review matches.")).to_be_visible()
    assert page.goto(portal_world.url + "/reviews/not-a-review").status == 404  # type: ignore[union-attr]
    assert page.goto(portal_world.url + f"/reviews/{uuid.uuid4()}").status == 404  # type: ignore[union-attr]
    # The reviewer hands it back, so this test leaves their queue as it found it.
    reviewer_world.client.call("POST", "review", f"/reviews/{review['review_id']}/decline", reviewer_world.reviewer,
                               json={"reason": "test clean-up"})

