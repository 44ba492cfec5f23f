"""The reviewer's pages as they show what the review and submission services answered. Pure: no HTTP here.

The queue's sort, filters and page come from the address (so a filtered page can be bookmarked and works without
JavaScript); anything the page does not offer falls back to the default instead of reaching the service as a
refusal. The review page puts the evidence of each requirement (files and prompt answers) beside the rubric, one
level and feedback per criterion; the review service decides what it takes (feedback below passing), and
:func:`score_problems` puts its refusal beside the criterion it names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from microcred.portal.domain.refusals import Problems, Refusal, sentence

PAGE_SIZE = 25
SORTS = {"due": "Soonest due first", "-due": "Latest due first",
         "-assigned": "Newest assigned first", "assigned": "Oldest assigned first"}
DUE_FILTERS = {"": "Any due date", "overdue": "Overdue only", "on_time": "Not overdue"}
ROLE_WORDS = {"primary": "Review", "second": "Second scoring", "adjudicator": "Adjudication"}
ROLE_FILTERS = {"": "Any kind", **ROLE_WORDS}
# A text file up to this size is shown in the page; a larger one is linked.
INLINE_TEXT_BYTES = 200_000
TEXT_TYPES = ("text/plain", "text/markdown", "text/csv")


def _uuid(value: str) -> str:
    try:
        return str(UUID(value))
    except ValueError:
        return ""


@dataclass(frozen=True)
class QueueQuery:
    sort: str = "due"
    credential: str = ""
    due: str = ""
    role: str = ""
    page: int = 1

    @property
    def filtered(self) -> bool:
        return bool(self.credential or self.due or self.role)

    def api_params(self, size: int = PAGE_SIZE) -> dict[str, Any]:
        params: dict[str, Any] = {"sort": self.sort, "limit": size, "offset": (self.page - 1) * size}
        if self.credential:
            params["credential_id"] = self.credential
        if self.due:
            params["overdue"] = "true" if self.due == "overdue" else "false"
        if self.role:
            params["role"] = self.role
        return params

    def link(self, **changes: Any) -> str:
        """The queue's address with this query, changed as told (a pager link keeps the filters)."""
        changed = replace(self, **changes)
        pairs = {"sort": changed.sort if changed.sort != "due" else "", "credential": changed.credential,
                 "due": changed.due, "role": changed.role, "page": str(changed.page) if changed.page > 1 else ""}
        query = urlencode({k: v for k, v in pairs.items() if v})
        return "/reviews" + (f"?{query}" if query else "")


def queue_query(params: Mapping[str, str]) -> QueueQuery:
    page = params.get("page", "1")
    return QueueQuery(
        sort=params.get("sort", "due") if params.get("sort", "due") in SORTS else "due",
        credential=_uuid(params.get("credential", "")),
        due=params.get("due", "") if params.get("due", "") in DUE_FILTERS else "",
        role=params.get("role", "") if params.get("role", "") in ROLE_WORDS else "",
        # Past a hundred thousand nobody is paging by hand; the bound keeps the offset inside the API's range.
        page=min(int(page), 100_000) if page.isdigit() and int(page) >= 1 else 1,
    )


@dataclass(frozen=True)
class Pager:
    page: int
    pages: int
    total: int
    first_item: int
    last_item: int


def pager(total: int, page: int, size: int = PAGE_SIZE) -> Pager:
    pages = max(1, math.ceil(total / size))
    first = (page - 1) * size + 1 if total else 0
    return Pager(page, pages, total, min(first, total), min(page * size, total))


@dataclass(frozen=True)
class Due:
    words: str
    overdue: bool


def due(due_at: str | None, now: datetime) -> Due:
    """How long is left, or how late it is, in words: the queue marks overdue work with text, not colour alone."""
    if not due_at:
        return Due("No due date", False)
    left = datetime.fromisoformat(due_at) - now
    hours = abs(left.total_seconds()) / 3600
    span = f"{round(hours)} hour{'s' if round(hours) != 1 else ''}" if hours < 48 else \
        f"{round(hours / 24)} days"
    if left.total_seconds() < 0:
        return Due(f"Overdue by {span}", True)
    return Due(f"Due in {span}", False)


# -- the review page ----------------------------------------------------------------------------------------------


@dataclass
class Level:
    key: str
    name: str
    points: int
    descriptor: str
    below_passing: bool


@dataclass
class Criterion:
    key: str
    name: str
    description: str
    levels: list[Level]
    chosen: str = ""
    feedback: str = ""

    @property
    def level_field(self) -> str:
        return f"level-{self.key}"

    @property
    def feedback_field(self) -> str:
        return f"feedback-{self.key}"


def passing_words(rubric: Mapping[str, Any]) -> str:
    rule = rubric.get("passing_rule") or {}
    if rule.get("kind") == "minimum_total":
        return (f"Passing: at least {rule.get('points')} points in total. Feedback is required on every criterion "
                "below its top level when the total falls short.")
    level = rule.get("level", "")
    names = {lv["key"]: lv["name"] for c in rubric.get("criteria", []) for lv in c.get("levels", [])}
    gated = rule.get("criteria")
    scope = "every criterion" if not gated else f"{len(gated)} of the criteria"
    return (f"Passing: {scope} at “{names.get(level, level)}” or above. Feedback is required on any criterion "
            "scored below that.")


def criteria(rubric: Mapping[str, Any], results: list[Mapping[str, Any]] | None = None,
             typed: Mapping[str, str] | None = None) -> list[Criterion]:
    """The rubric's criteria with their levels lowest first, each with the level and feedback already chosen: the
    scores recorded (a scored review) or what the reviewer typed (a refused form, kept)."""
    rule = rubric.get("passing_rule") or {}
    gated = set(rule.get("criteria") or [c["key"] for c in rubric.get("criteria", [])])
    recorded = {r.get("criterion_key"): r for r in results or []}
    built = []
    for c in rubric.get("criteria", []):
        passing_points = next((lv["points"] for lv in c["levels"] if lv["key"] == rule.get("level")), None)
        below = rule.get("kind") == "all_criteria_at_least" and c["key"] in gated and passing_points is not None
        levels = [Level(lv["key"], lv["name"], lv["points"], lv.get("descriptor", ""),
                        below and passing_points is not None and lv["points"] < passing_points) for lv in c["levels"]]
        criterion = Criterion(c["key"], c["name"], c.get("description", ""), levels)
        if c["key"] in recorded:
            criterion.chosen = str(recorded[c["key"]].get("level_key", ""))
            criterion.feedback = str(recorded[c["key"]].get("feedback", ""))
        if typed is not None:
            criterion.chosen = typed.get(criterion.level_field, "")
            criterion.feedback = typed.get(criterion.feedback_field, "")
        built.append(criterion)
    return built


def results_from_form(form: Mapping[str, str], built: list[Criterion]) -> tuple[list[dict[str, str]], dict[str, str]]:
    """What the reviewer chose, as the score request and as the typed values to keep. A criterion left without a
    level is sent without one, so the service's own refusal names it."""
    typed: dict[str, str] = {}
    results = []
    for criterion in built:
        level = form.get(criterion.level_field, "")
        feedback = form.get(criterion.feedback_field, "")
        typed[criterion.level_field], typed[criterion.feedback_field] = level, feedback
        if level:
            results.append({"criterion_key": criterion.key, "level_key": level, "feedback": feedback})
    return results, typed


def score_problems(refusal: Refusal, built: list[Criterion]) -> Problems:
    """The review service's refusal of a score beside the criteria it names."""
    problems = Problems()
    details = refusal.details if isinstance(refusal.details, dict) else {}
    by_key = {c.key: c for c in built}
    if refusal.code == "feedback_required":
        for key in details.get("criteria", []):
            if key in by_key:
                problems.add(by_key[key].feedback_field,
                             "Write feedback: the level you chose is below passing, so the teacher needs to know what "
                             "to improve.")
    elif refusal.code == "incomplete_scores":
        for key in details.get("missing", []):
            if key in by_key:
                problems.add(by_key[key].level_field, "Choose a level for this criterion.")
    elif refusal.code == "unknown_level" and isinstance(refusal.details, list):
        for bad in refusal.details:
            key = bad.get("criterion_key") if isinstance(bad, dict) else None
            if key in by_key:
                problems.add(by_key[key].level_field, "Choose one of the levels offered.")
    elif refusal.code == "invalid_request" and isinstance(refusal.details, list):
        for detail in refusal.details:
            loc = detail.get("loc", []) if isinstance(detail, dict) else []
            # ["body", "results", i, "feedback"]: the i-th result sent, in rubric order of the criteria scored.
            if len(loc) >= 4 and loc[1] == "results" and isinstance(loc[2], int) and loc[3] == "feedback":
                scored = [c for c in built if c.chosen]
                if loc[2] < len(scored):
                    problems.add(scored[loc[2]].feedback_field, str(detail.get("msg", "This was refused.")))
    if not problems:
        problems.add(None, sentence(refusal))
    return problems


# -- evidence ----------------------------------------------------------------------------------------------------


@dataclass
class EvidenceFile:
    evidence_id: str
    filename: str
    content_type: str
    size_bytes: int | None
    duration_seconds: float | None
    captions: list[str] = field(default_factory=list)  # evidence ids of text/vtt tracks for this video

    @property
    def shown_as(self) -> str:
        if self.content_type.startswith("video/"):
            return "video"
        if self.content_type.startswith("image/"):
            return "image"
        if self.content_type in TEXT_TYPES and (self.size_bytes or 0) <= INLINE_TEXT_BYTES:
            return "text"
        return "link"


@dataclass
class EvidenceSection:
    key: str
    title: str
    kind: str
    files: list[EvidenceFile]
    answers: list[tuple[str, str]]  # (prompt, answer)


def _captions_target(item: Mapping[str, Any]) -> str | None:
    target = item.get("captions_for")
    content_type = str(item.get("content_type") or "").split(";")[0].strip()
    if isinstance(target, str) and target and content_type == "text/vtt":
        return target
    return None


def evidence_sections(credential: Mapping[str, Any], submission: Mapping[str, Any]) -> list[EvidenceSection]:
    """One section per requirement of the credential version: its verified files and the teacher's answers.

    A captions file (``captions_for`` naming a video of this submission, type text/vtt) becomes a track of that
    video instead of a file of its own; one naming no video here is listed as a file."""
    items = [e for e in submission.get("evidence", []) if e.get("status", "uploaded") == "uploaded"]
    files = {str(e["evidence_id"]): EvidenceFile(str(e["evidence_id"]), str(e.get("filename", "")),
                                                 str(e.get("content_type") or ""), e.get("size_bytes"),
                                                 e.get("duration_seconds")) for e in items}
    tracks: set[str] = set()
    for e in items:
        target = _captions_target(e)
        if target and target in files and files[target].shown_as == "video":
            files[target].captions.append(str(e["evidence_id"]))
            tracks.add(str(e["evidence_id"]))
    answers = {(r["requirement_key"], r["prompt_index"]): r.get("answer", "") for r in submission.get("responses", [])}
    sections = []
    for requirement in (credential.get("submission_criteria") or {}).get("items", []):
        key = requirement["key"]
        mine = [files[str(e["evidence_id"])] for e in items
                if e.get("requirement_key") == key and str(e["evidence_id"]) not in tracks]
        prompts = [(text, answers.get((key, i), "")) for i, text in enumerate(requirement.get("prompts", []))]
        sections.append(EvidenceSection(key, requirement.get("title") or key, requirement.get("kind", ""), mine,
                                        prompts))
    return sections


def caption_ids(sections: list[EvidenceSection]) -> set[str]:
    return {track for s in sections for f in s.files for track in f.captions}
