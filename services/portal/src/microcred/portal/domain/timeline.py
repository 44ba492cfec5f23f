"""A submission's status timeline as the teacher reads it: submitted, under review with the expected decision
date, revise with the feedback per criterion, resubmitted with the note to the reviewer, earned. Pure: built from
what the submission service answers for the owner (``attempts`` with ``feedback``, ``expected_decision_at`` and
``note_to_reviewer``).

The expected decision date: the submission service records the reviewer's due date once review assigns the
attempt (``expected_decision_at``, from review.assigned). Before that it has none, so the page counts the
platform's promise from the submit instead: a decision within :data:`DECISION_PROMISE_WORKING_DAYS` working days
(review's ``decision_promise_business_days``, counted Monday to Friday from the submit as review counts it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

# The review service's promise to teachers (ReviewSettings.decision_promise_business_days, default 14).
DECISION_PROMISE_WORKING_DAYS = 14


@dataclass
class TimelineEntry:
    label: str
    at: str | None
    detail: str = ""
    feedback: list[dict[str, Any]] = field(default_factory=list)
    feedback_attempt: int | None = None
    note: str | None = None  # the teacher's note to the reviewer that came with this submit
    current: bool = False  # where the submission stands now (marked in words, not only by style)
    link: tuple[str, str] | None = None  # (href, words)


def add_working_days(start: datetime, days: int) -> datetime:
    """``start`` moved forward by ``days`` weekdays; from a weekend the count starts on Monday (as review's
    ``add_business_days``)."""
    moved, remaining = start, days
    while remaining > 0:
        moved += timedelta(days=1)
        if moved.weekday() < 5:
            remaining -= 1
    return moved


def day(moment: str | None) -> str:
    """A date (or the date of a timestamp) from a service as a person reads it: 24 December 2026."""
    if not moment:
        return ""
    parsed = datetime.fromisoformat(moment)
    return f"{parsed.day} {parsed:%B %Y}"


def expected_decision(attempt: dict[str, Any]) -> str:
    """The sentence that says when the decision is due, and where that date comes from."""
    assigned = attempt.get("expected_decision_at")
    if assigned:
        return f"Decision expected by {day(assigned)}: the reviewer's due date."
    promised = add_working_days(datetime.fromisoformat(attempt["submitted_at"]), DECISION_PROMISE_WORKING_DAYS)
    return (f"Decision expected by {day(promised.isoformat())}: within {DECISION_PROMISE_WORKING_DAYS} working "
            "days of your submit.")


def timeline(submission: dict[str, Any]) -> list[TimelineEntry]:
    """What happened to the submission, oldest first; the last entry is where it stands now."""
    entries = [TimelineEntry("Started", submission.get("created_at"))]
    status = submission["status"]
    current_number = submission.get("attempt")
    for attempt in sorted(submission.get("attempts", []), key=lambda a: a["attempt"]):
        number = attempt["attempt"]
        entries.append(TimelineEntry("Submitted" if number == 1 else f"Resubmitted (attempt {number})",
                                     attempt["submitted_at"], note=attempt.get("note_to_reviewer")))
        current = number == current_number
        if attempt.get("feedback_received_at"):
            entries.append(TimelineEntry(
                "Revision requested", attempt["feedback_received_at"],
                "The reviewer asked for a revision. Their feedback on each criterion:"
                if attempt.get("feedback") else "The reviewer asked for a revision.",
                feedback=list(attempt.get("feedback") or []), feedback_attempt=number))
        elif current and status in ("submitted", "under_review"):
            label = "Waiting for a reviewer" if status == "submitted" else "Under review"
            entries.append(TimelineEntry(label, None, expected_decision(attempt)))
    if status == "passed":
        entries.append(TimelineEntry("Passed", None, "Your credential is being issued."))
    elif status == "awarded":
        entries.append(TimelineEntry("Earned", submission.get("finalized_at"), "Your credential is issued.",
                                     link=("/earned", "See it in My credentials")))
    elif status == "withdrawn":
        entries.append(TimelineEntry("Withdrawn", submission.get("finalized_at"),
                                     submission.get("withdrawal_reason") or ""))
    entries[-1].current = True
    return entries
