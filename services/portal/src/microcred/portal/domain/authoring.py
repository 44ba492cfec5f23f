"""The credential editor as a form: what the author typed, kept as typed, and the catalog's body made from it.

The editor works without JavaScript, so "add a criterion" or "add a level" is a submit button: the whole form comes
back, :func:`editor_from_form` reads it, :func:`apply_action` changes its shape, and the page is rendered again
with every value as the author left it. Nothing here judges the definition: numbers that are not numbers go to the
catalog as typed and its refusal, located (``["body", "rubric", "criteria", 0, "levels", 1, "points"]``), lands
beside the field :func:`field_of` names. Pure: no HTTP.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

TEXT_FIELDS = ("issuer_id", "name", "description", "competency", "key_method", "method_components", "research",
               "subjects", "grade_bands", "estimated_hours", "sponsor", "expiry_months", "max_attempts",
               "passing_kind", "passing_level", "passing_points", "passing_criteria", "carried")
# Parts of a definition the editor does not show; a version's values travel through the form unchanged.
CARRIED = ("alignments", "credit_hints", "image_url", "calibration_size")
LEVEL_FIELDS = ("key", "name", "points", "descriptor")
CRITERION_FIELDS = ("key", "name", "description")
REQUIREMENT_FIELDS = ("key", "kind", "title", "prompts", "required", "min_count", "max_count", "max_size_bytes",
                      "min_duration_seconds", "max_duration_seconds", "accepted_content_types")
EVIDENCE_KINDS = {"video": "Video", "student_work": "Student work", "reflection": "Reflection", "document": "Document"}
PASSING_KINDS = {"all_criteria_at_least": "Every criterion reaches a level",
                 "minimum_total": "The points add up to a minimum"}
_ROW = re.compile(r"^(criterion|req)-(\d{1,3})-(?:level-(\d{1,3})-)?([a-z_]+)$")
_ACTION = re.compile(r"^(add-criterion|add-requirement|add-level|remove-criterion|remove-requirement|remove-level)"
                     r"(?:-(\d{1,3}))?(?:-(\d{1,3}))?$")
MAX_ROWS = 100


@dataclass
class Level:
    key: str = ""
    name: str = ""
    points: str = ""
    descriptor: str = ""


@dataclass
class Criterion:
    key: str = ""
    name: str = ""
    description: str = ""
    levels: list[Level] = field(default_factory=lambda: [Level(), Level()])


@dataclass
class Requirement:
    key: str = ""
    kind: str = "video"
    title: str = ""
    prompts: str = ""
    required: bool = True
    min_count: str = "1"
    max_count: str = ""
    max_size_bytes: str = ""
    min_duration_seconds: str = ""
    max_duration_seconds: str = ""
    accepted_content_types: str = ""


@dataclass
class Editor:
    """Everything on the form, as text the way the author typed it."""

    values: dict[str, str] = field(default_factory=lambda: {"passing_kind": "all_criteria_at_least"})
    criteria: list[Criterion] = field(default_factory=lambda: [Criterion()])
    requirements: list[Requirement] = field(default_factory=lambda: [Requirement()])
    focus: str | None = None  # the field a shape change created, focused when the page comes back

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def flat(self) -> dict[str, object]:
        """Every field's value by its form name, for refusal messages that quote what was typed."""
        found: dict[str, object] = dict(self.values)
        for i, c in enumerate(self.criteria):
            found |= {f"criterion-{i}-{n}": getattr(c, n) for n in CRITERION_FIELDS}
            for j, level in enumerate(c.levels):
                found |= {f"criterion-{i}-level-{j}-{n}": getattr(level, n) for n in LEVEL_FIELDS}
        for i, r in enumerate(self.requirements):
            found |= {f"req-{i}-{n}": getattr(r, n) for n in REQUIREMENT_FIELDS}
        return found


def _grow(rows: list[Any], index: int, make: type) -> Any:
    while len(rows) <= index:
        rows.append(make())
    return rows[index]


def editor_from_form(items: Iterable[tuple[str, str]]) -> Editor:
    """The form as sent. Rows are numbered by their fields' names; a gap in the numbering closes up."""
    editor = Editor(values={}, criteria=[], requirements=[])
    criteria: dict[int, Criterion] = {}
    levels: dict[tuple[int, int], Level] = {}
    requirements: dict[int, Requirement] = {}
    for name, value in items:
        if name in TEXT_FIELDS:
            editor.values[name] = value
            continue
        match = _ROW.match(name)
        if not match:
            continue
        part, row, sub, attr = match.group(1), int(match.group(2)), match.group(3), match.group(4)
        if row >= MAX_ROWS or (sub is not None and int(sub) >= MAX_ROWS):
            continue
        if part == "criterion" and sub is not None and attr in LEVEL_FIELDS:
            setattr(levels.setdefault((row, int(sub)), Level()), attr, value)
            criteria.setdefault(row, Criterion(levels=[]))
        elif part == "criterion" and sub is None and attr in CRITERION_FIELDS:
            setattr(criteria.setdefault(row, Criterion(levels=[])), attr, value)
        elif part == "req" and sub is None and attr in REQUIREMENT_FIELDS:
            requirement = requirements.setdefault(row, Requirement(required=False))
            setattr(requirement, attr, value != "" if attr == "required" else value)
    for (row, _), level in sorted(levels.items()):
        criteria[row].levels.append(level)
    editor.criteria = [criteria[i] for i in sorted(criteria)]
    editor.requirements = [requirements[i] for i in sorted(requirements)]
    return editor


def apply_action(editor: Editor, action: str) -> bool:
    """Add or remove a row as the button named; False when the action is not one the editor knows."""
    match = _ACTION.match(action)
    if not match:
        return False
    verb, a, b = match.group(1), match.group(2), match.group(3)
    i = int(a) if a is not None else -1
    if verb == "add-criterion" and len(editor.criteria) < MAX_ROWS:
        editor.criteria.append(Criterion())
        editor.focus = f"criterion-{len(editor.criteria) - 1}-name"
    elif verb == "add-requirement" and len(editor.requirements) < MAX_ROWS:
        editor.requirements.append(Requirement())
        editor.focus = f"req-{len(editor.requirements) - 1}-title"
    elif verb == "add-level" and 0 <= i < len(editor.criteria) and len(editor.criteria[i].levels) < MAX_ROWS:
        editor.criteria[i].levels.append(Level())
        editor.focus = f"criterion-{i}-level-{len(editor.criteria[i].levels) - 1}-name"
    elif verb == "remove-criterion" and 0 <= i < len(editor.criteria):
        del editor.criteria[i]
        editor.focus = "rubric-heading"
    elif verb == "remove-requirement" and 0 <= i < len(editor.requirements):
        del editor.requirements[i]
        editor.focus = "requirements-heading"
    elif verb == "remove-level" and 0 <= i < len(editor.criteria) and b is not None \
            and 0 <= int(b) < len(editor.criteria[i].levels):
        del editor.criteria[i].levels[int(b)]
        editor.focus = f"criterion-{i}-name"
    else:
        return False
    return True


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _commas(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _number(text: str) -> object:
    """A whole number when it is one; otherwise the text itself, so the catalog says what is wrong with it."""
    text = text.strip()
    return int(text) if text.isdigit() else text


def _optional_number(text: str) -> object:
    return None if not text.strip() else _number(text)


def slug(text: str, fallback: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    made = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:80].rstrip("-")
    return made or fallback


def research_line(line: str) -> dict[str, Any]:
    """"Title ... https://address": an address at the end of the line is the resource's link."""
    words = line.rsplit(None, 1)
    if len(words) == 2 and re.match(r"^https?://", words[1]):
        return {"title": words[0].strip(" -|\u2013\u2014"), "url": words[1]}
    return {"title": line}


def _level_key(editor: Editor, typed: str) -> str:
    """The passing level as typed (a level's name or key) as the key the rule names."""
    wanted = typed.strip().casefold()
    for criterion in editor.criteria:
        for index, level in enumerate(criterion.levels):
            if wanted in (level.name.strip().casefold(), level.key.strip().casefold()):
                return _key_of_level(level, index)
    return slug(typed, typed.strip())


def _key_of_level(level: Level, index: int) -> str:
    return level.key.strip() or slug(level.name, f"level-{index + 1}")


def definition_body(editor: Editor) -> dict[str, Any]:
    """The catalog's definition (PUT .../versions/{v}; with ``issuer_id`` for POST /credentials)."""
    v = editor.value
    kind = v("passing_kind") or "all_criteria_at_least"
    rule: dict[str, Any] = {"kind": kind}
    if kind == "minimum_total":
        rule["points"] = _number(v("passing_points"))
    else:
        rule["level"] = _level_key(editor, v("passing_level"))
        if _commas(v("passing_criteria")):
            rule["criteria"] = _commas(v("passing_criteria"))
    body: dict[str, Any] = {
        "name": v("name").strip(), "description": v("description").strip(), "competency": v("competency").strip(),
        "key_method": v("key_method").strip(), "method_components": _lines(v("method_components")),
        "research": [research_line(line) for line in _lines(v("research"))],
        "submission_criteria": {"items": [_requirement(r, i) for i, r in enumerate(editor.requirements)]},
        "rubric": {"criteria": [_criterion(c, i) for i, c in enumerate(editor.criteria)], "passing_rule": rule},
        "subjects": _commas(v("subjects")), "grade_bands": _commas(v("grade_bands")),
    }
    for name in ("estimated_hours", "expiry_months", "max_attempts"):
        if v(name).strip():
            body[name] = v(name).strip()
    if v("sponsor").strip():
        body["sponsor"] = v("sponsor").strip()
    body |= carried(v("carried"))
    return body


def carried(text: str) -> dict[str, Any]:
    try:
        found = json.loads(text) if text else {}
    except ValueError:
        return {}
    return {k: found[k] for k in CARRIED if isinstance(found, dict) and found.get(k) not in (None, [], ())}


def _criterion(criterion: Criterion, index: int) -> dict[str, Any]:
    return {
        "key": criterion.key.strip() or slug(criterion.name, f"criterion-{index + 1}"),
        "name": criterion.name.strip(), "description": criterion.description.strip(),
        "levels": [{"key": _key_of_level(level, j), "name": level.name.strip(), "points": _number(level.points),
                    "descriptor": level.descriptor.strip()} for j, level in enumerate(criterion.levels)],
    }


def _requirement(requirement: Requirement, index: int) -> dict[str, Any]:
    r = requirement
    item: dict[str, Any] = {
        "key": r.key.strip() or slug(r.title, f"requirement-{index + 1}"), "kind": r.kind, "title": r.title.strip(),
        "prompts": _lines(r.prompts), "required": r.required, "min_count": _number(r.min_count or "1"),
        "accepted_content_types": _commas(r.accepted_content_types),
    }
    for name in ("max_count", "max_size_bytes", "min_duration_seconds", "max_duration_seconds"):
        number = _optional_number(getattr(r, name))
        if number is not None:
            item[name] = number
    return item


def editor_from_version(version: dict[str, Any]) -> Editor:
    """A stored version in the editor's shape, so editing starts from what the catalog holds."""
    def text(value: Any) -> str:
        return "" if value is None else str(value)

    rule = version["rubric"]["passing_rule"]
    values = {
        "issuer_id": text(version.get("issuer_id")),
        **{name: text(version.get(name)) for name in ("name", "description", "competency", "key_method", "sponsor",
                                                       "estimated_hours", "expiry_months", "max_attempts")},
        "method_components": "\n".join(version.get("method_components") or []),
        "research": "\n".join(f"{r['title']} {r['url']}" if r.get("url") else r["title"]
                              for r in version.get("research") or []),
        "subjects": ", ".join(version.get("subjects") or []), "grade_bands": ", ".join(version.get("grade_bands") or []),
        "passing_kind": rule["kind"], "passing_points": text(rule.get("points")),
        "passing_level": _level_name(version["rubric"], rule.get("level")),
        "passing_criteria": ", ".join(rule.get("criteria") or []),
        "carried": json.dumps({k: version[k] for k in CARRIED if version.get(k) not in (None, [], ())}),
    }
    if values["estimated_hours"].endswith(".0"):
        values["estimated_hours"] = values["estimated_hours"][:-2]
    criteria = [Criterion(key=c["key"], name=c["name"], description=c.get("description", ""),
                          levels=[Level(lv["key"], lv["name"], str(lv["points"]), lv.get("descriptor", ""))
                                  for lv in c["levels"]]) for c in version["rubric"]["criteria"]]
    requirements = [Requirement(
        key=r["key"], kind=r["kind"], title=r["title"], prompts="\n".join(r.get("prompts") or []),
        required=bool(r.get("required", True)), min_count=text(r.get("min_count", 1)),
        max_count=text(r.get("max_count")), max_size_bytes=text(r.get("max_size_bytes")),
        min_duration_seconds=text(r.get("min_duration_seconds")),
        max_duration_seconds=text(r.get("max_duration_seconds")),
        accepted_content_types=", ".join(r.get("accepted_content_types") or []),
    ) for r in version["submission_criteria"]["items"]]
    return Editor(values=values, criteria=criteria, requirements=requirements)


def _level_name(rubric: dict[str, Any], key: str | None) -> str:
    for criterion in rubric["criteria"]:
        for level in criterion["levels"]:
            if level["key"] == key:
                return str(level["name"])
    return key or ""


def field_of(loc: list[Any]) -> str | None:
    """The form field where a refusal at ``loc`` is shown; None for a part of the definition not on the form."""
    path = [str(part) for part in loc]
    if path and path[0] == "body":
        path = path[1:]
    if not path:
        return None
    head = path[0]
    if head == "rubric":
        return _rubric_field(path[1:])
    if head == "submission_criteria":
        if len(path) >= 3 and path[1] == "items" and path[2].isdigit():
            attr = path[3] if len(path) > 3 else ""
            return f"req-{path[2]}-{attr}" if attr in REQUIREMENT_FIELDS else f"req-{path[2]}-title"
        return "requirements-heading"
    if head in TEXT_FIELDS and head not in ("passing_kind", "passing_level", "passing_points", "passing_criteria",
                                            "carried"):
        return head
    return None


def _rubric_field(path: list[str]) -> str:
    if len(path) >= 2 and path[0] == "criteria" and path[1].isdigit():
        i, rest = path[1], path[2:]
        if len(rest) >= 2 and rest[0] == "levels" and rest[1].isdigit():
            attr = rest[2] if len(rest) > 2 and rest[2] in LEVEL_FIELDS[1:] else "name"
            return f"criterion-{i}-level-{rest[1]}-{attr}"
        if rest == ["levels"]:  # too few levels: said above the criterion's table of levels
            return f"criterion-{i}-levels"
        if rest and rest[0] in ("name", "description"):
            return f"criterion-{i}-{rest[0]}"
        # The criterion as a whole (its levels must ascend, have unique keys, be at least two).
        return f"criterion-{i}-name"
    if path and path[0] == "passing_rule":
        return "passing_points" if len(path) > 1 and path[1] == "points" else "passing_level"
    # The rubric's own checks are about its passing rule (a level no criterion has, points out of reach) or
    # criteria whose keys repeat; the passing rule is where the author can act on them.
    return "passing_level"


def field_map(details: Any) -> dict[str, str]:
    """For :func:`problems_of`: each located refusal's dotted API name -> its form field (a part the form does not
    show has none, and its message goes to the top of the page)."""
    fields: dict[str, str] = {}
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and isinstance(detail.get("loc"), list):
            loc = [str(part) for part in detail["loc"]]
            target = field_of(loc)
            if target is not None:
                fields[".".join(loc[1:] if loc and loc[0] == "body" else loc)] = target
    return fields


LABELS = {"issuer_id": "Issuer", "name": "Name", "description": "Description", "competency": "Competency",
          "key_method": "Key method", "method_components": "Method components", "research": "Supporting research",
          "subjects": "Subjects", "grade_bands": "Grade bands", "estimated_hours": "Estimated hours",
          "sponsor": "Sponsor", "expiry_months": "Valid for (months)", "max_attempts": "Attempts allowed",
          "passing_level": "Passing rule", "passing_points": "Passing points", "requirements-heading":
          "Submission criteria", "rubric-heading": "Rubric"}


def label_of(name: str) -> str:
    """The words an error summary uses for a field, rows included (``Criterion 2, level 1: points``)."""
    if name in LABELS:
        return LABELS[name]
    match = _ROW.match(name)
    if not match:
        return name
    part, row, sub, attr = match.group(1), int(match.group(2)) + 1, match.group(3), match.group(4).replace("_", " ")
    if part == "req":
        return f"Requirement {row}: {attr}"
    if attr == "levels":
        return f"Criterion {row}: levels"
    if sub is not None:
        return f"Criterion {row}, level {int(sub) + 1}: {attr}"
    return f"Criterion {row}: {attr}"
