"""Open Badges 3.0 conformance: the official 1EdTech JSON Schema for AchievementCredential, offline.

The schema is vendored (see ``schemas/SOURCES.md``) rather than fetched: verification must not depend
on purl.imsglobal.org being reachable, and a silent upstream change must not change what we accept.
The file declares JSON Schema draft 2019-09 and only has local ``#/$defs`` references, so no
retrieval is ever needed; the validator is still given an empty ``referencing`` registry so that an
unexpected remote ``$ref`` fails loudly instead of touching the network.

``jsonschema`` skips formats it has no checker for, and ``date-time`` needs an optional package we do
not ship; the schema's ``DateTimeZ`` type *requires* a timezone, so that check is added here.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft201909Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from jsonschema.validators import validator_for
from referencing import Registry

SCHEMA_RESOURCE = "schemas/ob_v3p0_achievementcredential_schema.json"

# RFC 3339 section 5.6 date-time; the offset is mandatory (a bare local time is not a DateTimeZ).
_RFC3339_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def load_schema() -> dict[str, Any]:
    """The vendored 1EdTech schema, exactly as published."""
    text = files("microcred.award.adapters").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # format assertions only constrain strings; "type" handles the rest
    if not _RFC3339_DATE_TIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        return False
    return True


def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


@cache
def _validator() -> Draft201909Validator:
    schema = load_schema()
    cls = validator_for(schema)
    # The file says 2019-09; if a future vendored copy says otherwise, refuse rather than mis-validate.
    if cls is not Draft201909Validator:
        raise RuntimeError(f"vendored Open Badges schema declares {schema.get('$schema')!r}, expected 2019-09")
    cls.check_schema(schema)
    checker = FormatChecker(formats=())
    checker.checks("date-time")(_is_date_time)
    checker.checks("date")(_is_date)
    return Draft201909Validator(schema, registry=Registry(), format_checker=checker)


def _message(error: ValidationError) -> str:
    # jsonschema puts the whole offending instance in "type" messages; a path and a kind read better.
    if error.validator == "type":
        return f"expected {error.validator_value}, found {type(error.instance).__name__}"
    message = error.message
    return message if len(message) <= 300 else message[:200] + " … " + message[-80:]


def _where(error: ValidationError) -> str:
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
    return "$" + path


def _describe(error: ValidationError) -> list[str]:
    # oneOf/anyOf failures carry the real reasons in their context; the top message alone
    # ("... is not valid under any of the given schemas") tells an issuer nothing.
    if error.context:
        leaves = [leaf for leaf in error.context if not leaf.context]
        best = sorted({f"{_where(leaf)}: {_message(leaf)}" for leaf in leaves})
        return [f"{_where(error)}: {_message(error)}"] + [f"  because {line}" for line in best[:4]]
    return [f"{_where(error)}: {_message(error)}"]


def validate_open_badge(document: dict[str, Any]) -> list[str]:
    """Problems with ``document`` against the official OB 3.0 AchievementCredential schema; empty when valid.

    Each problem names the JSON path it is about (``$.credentialSubject.achievement``) so that a
    failing issuer can find the field.
    """
    errors = sorted(_validator().iter_errors(document), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [line for error in errors for line in _describe(error)]
