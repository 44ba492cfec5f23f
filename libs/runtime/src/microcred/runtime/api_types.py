"""Constrained request types: what the database would refuse is refused at the edge, as a 422.

Fuzzing found four ways a well-formed request reached PostgreSQL and came back as a 500: a NUL character
in any text (PostgreSQL cannot store one), a lone UTF-16 surrogate (``"\\ud800"`` is valid JSON but not
encodable as UTF-8), an integer past its column's range (``offset=2**63``) and a decimal past its
column's precision (``"1e400"``). Every request model field and every query and path parameter of the
five services uses a type from here instead of bare ``str``, ``int`` or ``Decimal``, so each of those is a
validation error in the one error shape, decided before a use case runs. ``tests/api`` walks every
service's OpenAPI document and fails when a parameter or body field escapes these types.

Only pydantic is imported, so domain models may use these types too.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from annotated_types import Ge, GroupedMetadata, Gt, Le, Lt
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

NO_NUL = r"^[^\x00]*$"

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: How deep a JSON body may nest. Real documents (a credential posted to /verify, a catalog file) stay
#: under 20 levels; a deeper one costs parsing and recursion for nothing.
MAX_JSON_DEPTH = 64


def storable(value: str) -> str:
    """A string PostgreSQL can store: no NUL, and encodable as UTF-8 (no lone surrogate)."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (it holds a lone surrogate)") from None
    return value


class Matching(GroupedMetadata):
    """``Annotated[str, Matching(pattern)]``: text that must match ``pattern``, documented with it.

    Use this rather than ``Annotated[Text, Field(pattern=...)]``: pydantic enforces the second pattern
    but the JSON schema would still show the first. The pattern check itself refuses a lone surrogate
    (pydantic-core can only match valid Unicode); ``storable`` says so explicitly and refuses NUL for
    patterns that would let one through.
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __iter__(self) -> Iterator[Any]:
        yield StringConstraints(pattern=self.pattern)
        yield AfterValidator(storable)


class Digits(GroupedMetadata):
    """``Annotated[Decimal, Digits(12, 4)]``: a decimal that fits PostgreSQL ``numeric(12, 4)``.

    No NaN or infinity, no more digits than the column holds; the bound is also stated as a range, so the
    document shows it.
    """

    def __init__(self, max_digits: int, decimal_places: int) -> None:
        self.max_digits = max_digits
        self.decimal_places = decimal_places

    def __iter__(self) -> Iterator[Any]:
        limit = Decimal(10) ** (self.max_digits - self.decimal_places)
        yield Field(max_digits=self.max_digits, decimal_places=self.decimal_places, allow_inf_nan=False)
        yield Gt(-limit)
        yield Lt(limit)


#: Any text a client sends. Add a length with ``Annotated[Text, Field(max_length=...)]``.
Text = Annotated[str, StringConstraints(pattern=NO_NUL), AfterValidator(storable)]

#: A two-letter US state or territory code, as tokens and licenses carry it.
StateCode = Annotated[str, Matching(r"^[A-Z]{2}$")]

# Integers carry their width as an OpenAPI format, so a client (and the schema test) knows the range.
Int32 = Annotated[int, Ge(INT32_MIN), Le(INT32_MAX), Field(json_schema_extra={"format": "int32"})]
Int64 = Annotated[int, Ge(INT64_MIN), Le(INT64_MAX), Field(json_schema_extra={"format": "int64"})]
#: A count, a list number, an index: 0 up to a PostgreSQL ``integer``.
Count = Annotated[Int32, Ge(0)]
#: A version, an attempt, a part number: 1 up to a PostgreSQL ``integer``.
Ordinal = Annotated[Int32, Ge(1)]
#: A size in bytes: up to a PostgreSQL ``bigint``.
ByteCount = Annotated[Int64, Ge(0)]
#: Where a page starts. Past the end is an empty page, not an error; past an ``integer`` is a 422.
PageOffset = Count


# The shape of a free-form JSON document as the edge accepts it (see ``unstorable``), for the OpenAPI
# components of the same names.
STORABLE_JSON_SCHEMAS: dict[str, dict[str, Any]] = {
    "StorableJsonValue": {
        "description": "Any JSON value whose strings hold no NUL or lone surrogate, whose integers fit 64 bits "
                       f"and whose numbers are finite, nested at most {MAX_JSON_DEPTH} levels.",
        "anyOf": [
            {"type": "string", "pattern": NO_NUL},
            {"type": "integer", "format": "int64", "minimum": INT64_MIN, "maximum": INT64_MAX},
            {"type": "number"},
            {"type": "boolean"},
            {"type": "null"},
            {"type": "array", "items": {"$ref": "#/components/schemas/StorableJsonValue"}},
            {"$ref": "#/components/schemas/StorableJsonObject"},
        ],
    },
    "StorableJsonObject": {
        "type": "object",
        "propertyNames": {"pattern": NO_NUL},
        "additionalProperties": {"$ref": "#/components/schemas/StorableJsonValue"},
    },
}

def _not_a_number(value: Any) -> Any:
    # JSON carries a date or an instant as RFC 3339 text, as the OpenAPI document says; pydantic alone would also take
    # a number, as seconds since 1970, and a fuzzer sending one would find a request the schema forbids accepted.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("a date or time is RFC 3339 text, not a number")
    return value


#: An instant with its offset, in a request: RFC 3339 text only.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]
#: A calendar day in a request: ``YYYY-MM-DD`` text only.
Day = Annotated[date, BeforeValidator(_not_a_number)]

#: A free-form JSON object in a request (a credential to verify, a catalog file), documented as above.
JsonDocument = Annotated[dict[str, Any], WithJsonSchema({"$ref": "#/components/schemas/StorableJsonObject"})]


class RequestModel(BaseModel):
    """What a request body (and every object inside it) is built on.

    Unknown fields are refused with a 422 that names them, not dropped: a misspelt field, or one the
    caller may not set, is an error the caller sees. It also lets the OpenAPI document say
    ``additionalProperties: false``, so generated clients and fuzzers know the whole shape.
    """

    model_config = ConfigDict(extra="forbid")


def unstorable(value: Any, loc: tuple[str | int, ...] = ()) -> list[tuple[tuple[str | int, ...], str]]:
    """Where a parsed JSON document holds something no column can take, and why (empty when it holds none).

    The HTTP edge runs this over every JSON body before the request model sees it, so text nested in
    shapes this module does not type (event contracts reused as request models, free-form documents such
    as a credential posted to /verify or a catalog file) is held to the same rule as the typed fields.
    """
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if len(loc) > MAX_JSON_DEPTH:
        return [(loc, f"the document nests deeper than {MAX_JSON_DEPTH} levels")]
    if isinstance(value, str):
        try:
            storable(value)
        except ValueError as error:
            problems.append((loc, str(error)))
    elif isinstance(value, int) and not isinstance(value, bool):  # true and false fit anywhere
        if not INT64_MIN <= value <= INT64_MAX:
            problems.append((loc, "the number is larger than any column holds (64-bit integers)"))
    elif isinstance(value, float):
        if not math.isfinite(value):  # 1e400 parses as infinity
            problems.append((loc, "the number is too large to represent"))
    elif isinstance(value, dict):
        for key, item in value.items():
            try:
                storable(key)
            except ValueError as error:
                problems.append((loc, f"a key is not storable: {error}"))
                continue
            problems += unstorable(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problems += unstorable(item, (*loc, index))
    return problems
