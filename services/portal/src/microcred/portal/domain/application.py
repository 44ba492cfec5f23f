"""A teacher's application as the page shows it: one section per evidence requirement and what is still missing
(its status timeline is :mod:`microcred.portal.domain.timeline`). Pure: built from what the catalog and the submission service answered.

The submission service decides what is complete (its ``422 incomplete`` lists everything missing at once); the
checklist here counts the same things from the same answer (verified items against ``min_count``, non-blank
answers to each prompt of a required requirement) so the teacher sees them before pressing submit, and
:func:`missing_from_refusal` words the service's own list when it refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

EDITABLE = {"draft", "revise_requested"}
KIND_WORDS = {"video": "Video", "document": "Document", "student_work": "Student work", "reflection": "Reflection",
              "image": "Image", "audio": "Audio", "link": "Link"}
STATUS_WORDS = {"draft": "Draft", "submitted": "Submitted", "under_review": "Under review",
                "revise_requested": "Revision requested", "passed": "Passed", "awarded": "Earned",
                "withdrawn": "Withdrawn"}


@dataclass
class Prompt:
    index: int
    text: str
    answer: str
    field: str  # the form field's name and id: answer-<requirement key>-<prompt index>


@dataclass
class Section:
    key: str
    title: str
    kind: str
    required: bool
    criteria: list[str]
    accept: str  # the file input's accept attribute
    verified: list[dict[str, Any]]
    pending: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    prompts: list[Prompt]
    min_count: int
    max_count: int | None

    @property
    def files_missing(self) -> int:
        return max(0, self.min_count - len(self.verified)) if self.required else 0

    @property
    def full(self) -> bool:
        return self.max_count is not None and len(self.verified) + len(self.pending) >= self.max_count


def answer_field(key: str, index: int) -> str:
    return f"answer-{key}-{index}"


def parse_answer_field(name: str, keys: list[str]) -> tuple[str, int] | None:
    """The requirement and prompt a form field answers; None for anything else. Keys may contain dashes."""
    if not name.startswith("answer-"):
        return None
    key, _, index = name[len("answer-"):].rpartition("-")
    return (key, int(index)) if key in keys and index.isdigit() else None


def _minutes(seconds: int) -> str:
    minutes = seconds / 60
    return f"{minutes:g} minute{'' if minutes == 1 else 's'}" if minutes >= 1 else f"{seconds} seconds"


def size_words(size: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def criteria_words(item: dict[str, Any]) -> list[str]:
    """The limits a requirement sets, each as a sentence the teacher can check a file against."""
    words = []
    low, high = item.get("min_count", 1), item.get("max_count")
    if high and high != low:
        words.append(f"{low} to {high} files.")
    elif (high == low and low > 1) or (not high and low > 1):
        words.append(f"At least {low} files." if not high else f"Exactly {low} files.")
    else:
        words.append("One file." if high == 1 else "At least one file.")
    types = item.get("accepted_content_types") or ()
    if types:
        words.append("Accepted types: " + ", ".join(types) + ".")
    elif item.get("kind") == "video":
        words.append("Any video format.")
    if item.get("max_size_bytes"):
        words.append(f"Each file up to {size_words(item['max_size_bytes'])}.")
    lo, hi = item.get("min_duration_seconds"), item.get("max_duration_seconds")
    if lo and hi:
        words.append(f"Between {_minutes(lo)} and {_minutes(hi)} long.")
    elif lo:
        words.append(f"At least {_minutes(lo)} long.")
    elif hi:
        words.append(f"At most {_minutes(hi)} long.")
    return words


def _accept(item: dict[str, Any]) -> str:
    types = item.get("accepted_content_types") or ()
    if types:
        return ",".join(types)
    return "video/*" if item.get("kind") == "video" else ""


def sections(credential: dict[str, Any], submission: dict[str, Any]) -> list[Section]:
    answers = {(r["requirement_key"], r["prompt_index"]): r["answer"] for r in submission.get("responses", [])}
    evidence = submission.get("evidence", [])
    built = []
    for item in credential["submission_criteria"]["items"]:
        # Captions ride with their video (listed and played under it), never as a file of the requirement.
        mine = [e for e in evidence if e["requirement_key"] == item["key"] and not e.get("captions_for")]
        built.append(Section(
            key=item["key"], title=item["title"], kind=KIND_WORDS.get(item["kind"], item["kind"].replace("_", " ")),
            required=item.get("required", True), criteria=criteria_words(item), accept=_accept(item),
            verified=[e for e in mine if e["status"] == "uploaded"],
            pending=[e for e in mine if e["status"] == "pending"],
            rejected=[e for e in mine if e["status"] == "rejected"],
            prompts=[Prompt(i, text, answers.get((item["key"], i), ""), answer_field(item["key"], i))
                     for i, text in enumerate(item.get("prompts", []))],
            min_count=item.get("min_count", 1), max_count=item.get("max_count"),
        ))
    return built


def checklist(built: list[Section]) -> list[tuple[str, str]]:
    """What is still missing before submit, as (link target, sentence), in the credential's order."""
    missing = []
    for section in built:
        if section.files_missing:
            n = section.files_missing
            missing.append((f"upload-{section.key}",
                            f"{section.title}: upload {n} more verified file{'' if n == 1 else 's'}."))
        if section.required:
            missing += [(p.field, f"{section.title}: answer prompt {p.index + 1}.")
                        for p in section.prompts if not p.answer.strip()]
    return missing


def missing_from_refusal(details: Any, built: list[Section]) -> list[tuple[str, str]]:
    """The service's ``422 incomplete`` details in the checklist's words."""
    titles = {s.key: s.title for s in built}
    missing = []
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        key = detail.get("requirement_key")
        title = titles.get(str(key), str(key)) if key else "Evidence"
        if "prompt_index" in detail:
            index = int(detail["prompt_index"])
            missing.append((answer_field(str(key), index), f"{title}: answer prompt {index + 1}."))
        else:
            n = max(1, int(detail.get("min_count", 1)) - int(detail.get("uploaded", 0)))
            missing.append((f"upload-{key}" if key else "evidence",
                            f"{title}: upload {n} more verified file{'' if n == 1 else 's'}."))
    return missing


def when(moment: str | None) -> str:
    """An ISO timestamp from a service as a person reads it (the services answer in UTC)."""
    if not moment:
        return ""
    parsed = datetime.fromisoformat(moment)
    return f"{parsed.day} {parsed:%B %Y, %H:%M} UTC"
