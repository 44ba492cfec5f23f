"""What an API refusal means to the person at the form, in plain words, beside the field it concerns.

Every service refuses in one shape (docs/http-api.md): ``{"error": code, "detail": message, "details": [...]}``,
where for ``invalid_request`` each detail has ``loc`` (where: ``["query", "q"]``, ``["body", "rubric", "criteria",
0, "name"]``), ``msg`` and ``type``. Pure: no HTTP here, so every page's form shows refusals the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Where a location's first element says which part of the request it is, not which field.
_PARTS = {"body", "query", "path", "header", "cookie"}


@dataclass(frozen=True)
class Refusal:
    """A 4xx answer from a service, as its error shape says."""

    service: str
    status: int
    code: str
    detail: str
    details: Any = None


@dataclass
class Problems:
    """Messages by form field, and the ones no field on the page owns (shown at the top)."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    def add(self, name: str | None, message: str) -> None:
        if name is None:
            if message not in self.general:
                self.general.append(message)
        else:
            self.fields.setdefault(name, []).append(message)


def _number(message: str) -> str | None:
    found = re.search(r"(-?\d[\d,.]*)", message)
    return found.group(1) if found else None


def plain_words(kind: str, message: str, typed: object = None) -> str:
    """A validation problem as a person would say it. Unknown kinds keep the service's own sentence. ``typed`` is
    what the person entered, when the page knows it: a length limit on text is in characters, whatever the
    service's own sentence calls them."""
    n = _number(message)
    if (kind == "string_too_long" or (kind == "too_long" and isinstance(typed, str))) and n:
        return f"Use at most {n} characters (you entered {len(typed)})." if isinstance(typed, str) else \
            f"Use at most {n} characters."
    if kind == "too_long" and n:
        return f"Give at most {n}."
    if (kind == "string_too_short" or (kind == "too_short" and isinstance(typed, str))) and n:
        return f"Use at least {n} character{'s' if n != '1' else ''}."
    if kind == "string_pattern_mismatch":
        return "This contains characters that cannot be stored (such as an invisible control character). Remove them."
    if kind in ("uuid_parsing", "uuid_type"):
        return "This is not one of the choices offered."
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "Enter a whole number."
    if kind == "greater_than_equal" and n:
        return f"Enter {n} or more."
    if kind == "less_than_equal" and n:
        return f"Enter {n} or less."
    if kind == "missing":
        return "This is required."
    if kind in ("enum", "literal_error"):
        return "Choose one of the options offered."
    text = message.strip() or "This value was refused."
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


def problems_of(refusal: Refusal, fields: dict[str, str], values: dict[str, object] | None = None) -> Problems:
    """``fields`` maps an API name (``issuer_id``, or a dotted body path ``rubric.criteria.0.name``) to the form
    field that holds it on this page; what maps to no field is a general problem, named by the API's name.
    ``values`` is what the person entered, by form field."""
    problems = Problems()
    details = refusal.details if isinstance(refusal.details, list) else []
    located = [d for d in details if isinstance(d, dict) and isinstance(d.get("loc"), list)]
    for detail in located:
        loc = [str(part) for part in detail["loc"]]
        path = loc[1:] if loc and loc[0] in _PARTS else loc
        name = ".".join(path)
        target = fields.get(name) or (fields.get(path[-1]) if path else None)
        typed = (values or {}).get(target) if target else None
        words = plain_words(str(detail.get("type", "")), str(detail.get("msg", "")), typed)
        problems.add(target, words if target else f"{name or 'The request'}: {words}")
    if not located:
        problems.add(None, sentence(refusal))
    return problems


def sentence(refusal: Refusal) -> str:
    """The refusal as one sentence for the top of the page, for refusals that name no field."""
    if refusal.status == 403:
        return "You are not allowed to do this with the role you signed in with."
    if refusal.status == 404:
        return "This no longer exists, or you may not see it."
    if refusal.status == 409:
        return f"This changed meanwhile: {refusal.detail}. Reload the page and try again."
    text = refusal.detail.strip() or "The request was refused."
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")
