"""What the canary is, as data and pure rules: its credential, what passing means, what counts as its credit.

Everything it makes is named as synthetic, so a person who meets it in a list knows it is not real work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

ISSUER_KEY = "microcred-canary"
ISSUER_NAME = "Microcred Canary (synthetic, not a real issuer)"
CREDENTIAL_NAME = "Microcred Canary Probe"
REQUIREMENT_KEY = "reflection"
#: The canary's reviewers always score every criterion at the passing level.
PASSING = {"probe": "passed"}
# Room for every canary that can be in flight at once (SLA / interval) and then some.
REVIEWER_MAX_OPEN = 1000
LICENSE_YEARS = 5

CREDENTIAL_DEFINITION: dict[str, Any] = {
    "name": CREDENTIAL_NAME,
    "description": "A synthetic credential the platform's end-to-end canary earns to measure submit-to-credit "
                   "time. Not a real micro-credential: nobody else can be assigned, earn or be credited for it.",
    "competency": "None: the canary proves the pipeline works, not a teaching practice.",
    "key_method": "The canary answers one text prompt and is scored passing by its own reviewers.",
    "method_components": ["Answer the prompt"],
    "research": [{"title": "kminion end-to-end monitoring (the idea this follows)"}],
    # One small text file and one answer: no video, so the canary needs no media library, while the evidence
    # path (presigned upload to the object store) is still walked. A submission must carry at least one file
    # (submission.submitted requires evidence), so the file is required rather than optional.
    "submission_criteria": {"items": [
        {"key": REQUIREMENT_KEY, "kind": "reflection", "title": "Canary note",
         "prompts": ["Which canary run is this?"]},
    ]},
    "rubric": {
        "criteria": [{"key": "probe", "name": "Probe answered", "levels": [
            {"key": "not-yet", "name": "Not yet", "points": 0, "descriptor": "No answer."},
            {"key": "passed", "name": "Passed", "points": 1, "descriptor": "Answered."}]}],
        "passing_rule": {"kind": "all_criteria_at_least", "level": "passed"},
    },
}



def passing_results() -> list[dict[str, str]]:
    return [{"criterion_key": key, "level_key": level, "feedback": ""} for key, level in PASSING.items()]


def credit_posted(entries: Iterable[Mapping[str, Any]], award_id: str) -> bool:
    """The license's ledger holds the credit of this award (a reversal or an adjustment is not a credit)."""
    return any(entry.get("award_id") == award_id and entry.get("kind") == "credit" for entry in entries)
