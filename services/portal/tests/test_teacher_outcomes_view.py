"""The teacher's outcomes as the pages word them: the status timeline, earned credentials, license progress."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from microcred.portal.domain import earned, licenses, timeline

FEEDBACK = [{"criterion_key": "overview", "criterion_name": "Overview", "level_key": "not-yet",
             "level_name": "Not Yet", "feedback": "Say more about the class."},
            {"criterion_key": "adjustment", "criterion_name": "Adjustment", "level_key": "proficient",
             "level_name": "Proficient", "feedback": ""}]
NOTE = "I added the exit tickets and rewrote the reflection."


def attempt(number: int, submitted: str, **more: Any) -> dict[str, Any]:
    return {"attempt": number, "submitted_at": submitted, "feedback": [], "feedback_received_at": None,
            "expected_decision_at": None, "note_to_reviewer": None} | more


AWARDED = {"status": "awarded", "attempt": 2, "created_at": "2026-12-01T09:00:00+00:00",
           "finalized_at": "2026-12-20T10:00:00+00:00", "attempts": [
               attempt(1, "2026-12-02T09:00:00+00:00", feedback=FEEDBACK,
                       feedback_received_at="2026-12-05T09:00:00+00:00"),
               attempt(2, "2026-12-06T09:00:00+00:00", note_to_reviewer=NOTE,
                       expected_decision_at="2026-12-24T09:00:00+00:00")]}


def test_the_timeline_tells_submitted_revise_with_feedback_resubmitted_with_the_note_and_earned() -> None:
    entries = timeline.timeline(AWARDED)
    assert [e.label for e in entries] == ["Started", "Submitted", "Revision requested", "Resubmitted (attempt 2)",
                                          "Earned"]
    assert (entries[2].feedback, entries[2].feedback_attempt) == (FEEDBACK, 1)
    assert entries[1].note is None and entries[3].note == NOTE
    assert [e.current for e in entries] == [False, False, False, False, True]
    assert entries[-1].link == ("/earned", "See it in My credentials")


def test_under_review_the_expected_date_is_the_reviewers_due_date() -> None:
    waiting = AWARDED | {"status": "under_review", "finalized_at": None}
    last = timeline.timeline(waiting)[-1]
    assert (last.label, last.detail, last.current) == (
        "Under review", "Decision expected by 24 December 2026: the reviewer's due date.", True)


def test_before_a_reviewer_is_assigned_the_date_is_fourteen_working_days_from_the_submit() -> None:
    # Submitted on Wednesday 2 December 2026: fourteen weekdays later is Tuesday 22 December.
    submitted = {"status": "submitted", "attempt": 1, "created_at": "2026-12-01T09:00:00+00:00",
                 "attempts": [attempt(1, "2026-12-02T09:00:00+00:00")]}
    last = timeline.timeline(submitted)[-1]
    assert (last.label, last.detail) == (
        "Waiting for a reviewer", "Decision expected by 22 December 2026: within 14 working days of your submit.")
    # From a Saturday the count starts on Monday: 14 working days after Saturday 5 December is Thursday 24th.
    assert timeline.add_working_days(datetime(2026, 12, 5, 9, tzinfo=UTC), 14) == datetime(2026, 12, 24, 9, tzinfo=UTC)


def test_a_revision_request_is_where_the_submission_stands_with_the_feedback_per_criterion() -> None:
    revise = {"status": "revise_requested", "attempt": 1, "created_at": "2026-12-01T09:00:00+00:00",
              "attempts": [attempt(1, "2026-12-02T09:00:00+00:00", feedback=FEEDBACK,
                                   feedback_received_at="2026-12-05T09:00:00+00:00")]}
    last = timeline.timeline(revise)[-1]
    assert (last.label, last.current, [f["criterion_name"] for f in last.feedback]) == (
        "Revision requested", True, ["Overview", "Adjustment"])


NOW = datetime(2027, 3, 1, tzinfo=UTC)
AWARD = {"award_id": "3f0e6d2a-0000-4000-8000-000000000001", "kind": "micro_credential", "status": "issued",
         "standing": "active", "standing_reason": None, "standing_changed_at": None,
         "credential_name": "Checking for Understanding", "issued_at": "2026-12-20T10:00:00+00:00",
         "valid_until": "2029-12-20T10:00:00+00:00",
         "page_url": "http://awards.test/credentials/3f0e6d2a-0000-4000-8000-000000000001",
         "credential": {"issuer": {"name": "Digital Promise"}}}


def test_an_active_credential_has_its_share_page_downloads_and_a_prefilled_linkedin_link() -> None:
    shown = earned.earned(AWARD, NOW)
    assert (shown.status.words, shown.status.detail) == ("Active", "Valid until 20 December 2029.")
    assert (shown.issuer, shown.issued_on, shown.kind) == ("Digital Promise", "20 December 2026", "Micro-credential")
    assert shown.share_url == AWARD["page_url"]
    assert [d.href.rsplit("/", 1)[1] for d in shown.downloads] == [
        "credential.json", "credential.jwt", "badge.png", "badge.svg"]
    assert shown.downloads[0].href == AWARD["page_url"] + "/credential.json"
    link = urlsplit(shown.linkedin_url or "")
    assert (link.scheme, link.netloc, link.path) == ("https", "www.linkedin.com", "/profile/add")
    assert parse_qs(link.query) == {
        "startTask": ["CERTIFICATION_NAME"], "name": ["Checking for Understanding"],
        "organizationName": ["Digital Promise"], "issueYear": ["2026"], "issueMonth": ["12"],
        "expirationYear": ["2029"], "expirationMonth": ["12"], "certUrl": [AWARD["page_url"]],
        "certId": [AWARD["award_id"]]}


def test_status_is_said_in_words_and_only_an_active_credential_goes_to_linkedin() -> None:
    suspended = earned.earned(AWARD | {"standing": "suspended", "standing_reason": "Under investigation.",
                                       "standing_changed_at": "2027-01-05T00:00:00+00:00"}, NOW)
    assert (suspended.status.key, suspended.status.words) == ("suspended", "Suspended")
    assert suspended.status.detail == "Suspended on 5 January 2027. Under investigation."
    assert suspended.linkedin_url is None and suspended.share_url
    revoked = earned.earned(AWARD | {"standing": "revoked", "standing_changed_at": "2027-01-05T00:00:00+00:00"}, NOW)
    assert (revoked.status.words, revoked.linkedin_url) == ("Revoked", None)
    expired = earned.earned(AWARD | {"valid_until": "2027-02-01T00:00:00+00:00"}, NOW)
    assert (expired.status.words, expired.status.detail) == ("Expired", "Expired on 1 February 2027.")
    pending = earned.earned(AWARD | {"status": "pending"}, NOW)
    assert (pending.status.words, pending.share_url, pending.downloads) == ("Being issued", None, ())
    assert earned.earned(AWARD | {"valid_until": None}, NOW).status.detail == "Does not expire."


def test_credentials_are_listed_newest_first() -> None:
    older = AWARD | {"award_id": "older", "issued_at": "2026-01-01T00:00:00+00:00"}
    assert [c.award_id for c in earned.earned_list([older, AWARD], NOW)] == [AWARD["award_id"], "older"]


PROGRESS = {
    "license": {"license_id": "lic-1", "state": "TN", "license_number": "TN-123", "license_type": "Practitioner",
                "cycle_start": "2025-09-01", "cycle_end": "2031-08-31"},
    "unit": "points", "required": "60", "earned": "6", "remaining": "54",
    "entries": [{"kind": "credit", "amount": "6", "earned_on": "2026-12-20", "reason": None,
                 "credential": {"name": "Checking for Understanding"}}],
    "decisions": [{"status": "posted", "credential_name": "Checking for Understanding", "earned_on": "2026-12-20"},
                  {"status": "pending_approval", "credential_name": "Student Voice", "earned_on": "2027-01-10"},
                  {"status": "capped", "credential_name": "Feedback Loops", "earned_on": "2027-02-01",
                   "reason": "the cycle's cap of 30 is reached"}],
}


def test_license_progress_reads_six_of_sixty_points_with_the_credits_named() -> None:
    shown = licenses.progress(PROGRESS)
    assert (shown.state_name, shown.summary, shown.remaining) == ("Tennessee", "6 of 60 points",
                                                                  "54 points to go this cycle.")
    assert (shown.bar_value, shown.bar_max) == (6.0, 60.0)
    assert shown.license_words == "Practitioner TN-123"
    assert shown.cycle == "1 September 2025 to 31 August 2031"
    assert [(c.name, c.amount, c.kind, c.earned_on) for c in shown.credits] == [
        ("Checking for Understanding", "6", "Credit", "20 December 2026")]
    assert [(p.name, p.words) for p in shown.pending] == [("Student Voice", "Waiting for your district's approval")]
    assert [(p.name, p.reason) for p in shown.not_credited] == [("Feedback Loops", "the cycle's cap of 30 is reached")]


def test_a_met_requirement_and_a_state_without_rules_say_so() -> None:
    met = licenses.progress(PROGRESS | {"earned": "66", "remaining": "0"})
    assert (met.summary, met.remaining, met.bar_value) == ("66 of 60 points",
                                                           "The renewal requirement is met for this cycle.", 60.0)
    ruleless = licenses.progress(PROGRESS | {"required": None, "remaining": None, "unit": None, "earned": "1"})
    assert ruleless.summary == "1 credit earned; TN has no renewal rule in force to count against."
    assert ruleless.bar_max == 0.0
