"""The operator's pages as pure view logic: the stress-test checklist, the reviewer form, the waiting queue's pages.

The catalog's approval takes three confirmations (``checks``: research_base, evidence_requirements, rubric) and
refuses an approval without all three. The checklist shows each as the stress-test questions an approver asks
(after Digital Promise's micro-credential design guidance) and sends the operator's answer in those three fields:
nothing the catalog does not take.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

STRESS_TEST: dict[str, tuple[str, tuple[str, ...]]] = {
    "research_base": ("The research base holds", (
        "Is the competency one discrete, observable skill a teacher uses in the classroom?",
        "Is the key method backed by the research cited, and is each source real and findable?",
        "Do the method components describe what the teacher does, in an order that makes sense?",
    )),
    "evidence_requirements": ("The evidence asked for shows the competency", (
        "Does each requirement ask for evidence from the teacher's own classroom (video, student work, reflection)?",
        "Could a teacher meet every requirement without having used the key method? If so, it is not ready.",
        "Are the limits (how many files, how long a video) reasonable for a working teacher?",
    )),
    "rubric": ("The rubric lets reviewers agree", (
        "Does each criterion assess one thing the submission criteria ask the teacher to show?",
        "Do the levels describe observable differences, so two reviewers would choose the same level?",
        "Does the passing rule match what a proficient teacher would show?",
    )),
}
AVAILABILITY = {"available": "Available", "paused": "Paused", "on_leave": "On leave"}
STANDING_ACTIONS = {"suspend": "Suspend", "reinstate": "Reinstate", "revoke": "Revoke"}
WAITING_WORDS = {"eligible_reviewer": "A certified reviewer with free capacity",
                 "credential_published": "The credential's publication to reach the review service"}


def approval_checks(form: Mapping[str, Any]) -> dict[str, bool]:
    """The catalog's ``checks`` from the ticked boxes: a box not ticked is a check not confirmed."""
    return {name: form.get(f"check-{name}") == "yes" for name in STRESS_TEST}


def failing_checks(details: Any) -> list[str]:
    """The unconfirmed checks a ``checks_incomplete`` refusal names."""
    failing = details.get("failing") if isinstance(details, dict) else None
    return [str(name) for name in failing] if isinstance(failing, list) else []


def allowed_standing_actions(standing: str) -> list[str]:
    """The buttons that make sense for an award in this standing (the award service still decides)."""
    if standing == "revoked":
        return []
    if standing == "suspended":
        return ["reinstate", "revoke"]
    return ["suspend", "revoke"]


def _whole(text: str) -> object:
    text = text.strip()
    return int(text) if text.isdigit() else text


def reviewer_body(form: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
    """PUT /reviewers/{id} from the edit form. Certification is either every credential (``credential_ids``
    null) or the ticked ones, each keeping the date it was first granted; an added credential joins them."""
    body: dict[str, Any] = {
        "max_open": _whole(str(form.get("max_open", ""))),
        "availability": str(form.get("availability", "available")),
        "active": form.get("active") == "yes",
        "senior": form.get("senior") == "yes",
        "district": str(form.get("district", "")).strip() or None,
        "school": str(form.get("school", "")).strip() or None,
    }
    if form.get("certified") == "all":
        body["credential_ids"] = None
        return body
    known = {c["credential_id"]: c for c in (current or {}).get("certifications") or []}
    certifications = []
    for credential_id, held in known.items():
        entry = {"credential_id": credential_id,
                 "status": "active" if form.get(f"cert-{credential_id}") == "yes" else "revoked"}
        if held.get("certified_at"):
            entry["certified_at"] = held["certified_at"]
        certifications.append(entry)
    added = str(form.get("add_certification", "")).strip()
    if added and added not in known:
        certifications.append({"credential_id": added, "status": "active"})
    body["certifications"] = certifications
    return body


@dataclass(frozen=True)
class QueuePage:
    items: list[dict[str, Any]]
    total: int | None  # None: the service did not say
    offset: int
    limit: int

    @property
    def has_next(self) -> bool:
        if self.total is not None:
            return self.offset + len(self.items) < self.total
        return len(self.items) == self.limit


def queue_page(answer: Any, offset: int, limit: int) -> QueuePage:
    """The waiting queue, whichever way the review service answers: a page object (``items``, ``total``) from a
    service that pages, or the whole list from one that ignores ``limit``/``offset``, which is paged here."""
    if isinstance(answer, dict):
        items = list(answer.get("items") or [])
        total = answer.get("total")
        return QueuePage(items, total if isinstance(total, int) else None, offset, limit)
    items = list(answer or [])
    if len(items) > limit:  # the whole queue came back: this page is a slice of it
        return QueuePage(items[offset:offset + limit], len(items), offset, limit)
    return QueuePage(items, None if len(items) == limit else offset + len(items), offset, limit)
