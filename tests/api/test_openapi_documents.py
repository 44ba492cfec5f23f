"""Each service's OpenAPI document tells the truth about its edge, so generated clients and fuzzers work.

Checked on the documents the five services generate (built in-process: the same code that serves
``/openapi.json``):
- every error an operation answers is documented, in the one error shape (``ErrorBody``), never FastAPI's
  ``HTTPValidationError`` that no response ever had;
- every parameter and request field is one of ``microcred.runtime.api_types``' constrained types: a
  string has a pattern (which excludes NUL) or a format, an integer states its width and both bounds, a
  number its range. Event contracts reused as request bodies (a credential's rubric) are held to the same
  rule by the edge's check of every JSON body (``api.unstorable``), so they are not walked here;
- responses that are not JSON say what they are.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import microcred.events
from microcred.runtime.api_types import INT32_MAX, INT64_MAX
from microcred.runtime.auth import DevTokenIssuer

SERVICES = ("catalog", "submission", "review", "award", "licensure")
EVENT_CONTRACTS = {name for name in dir(microcred.events) if name[0].isupper()}
STRING_FORMATS = {"uuid", "date", "date-time", "uri", "binary"}
METHODS = {"get", "put", "post", "delete", "patch"}

# What each non-JSON operation answers with (a 200 in another media type is a lie to a generated client).
MEDIA_TYPES = {
    ("award", "/credentials/{award_id}"): "text/html",
    ("award", "/credentials/{award_id}/credential.json"): "application/vc",
    ("award", "/credentials/{award_id}/credential.jwt"): "application/jwt",
    ("award", "/credentials/{award_id}/badge.png"): "image/png",
    ("award", "/credentials/{award_id}/badge.svg"): "image/svg+xml",
    ("award", "/status/{issuer_id}/{purpose}/{list_no}"): "application/vc",
    ("award", "/issuers/{issuer_id}/keys/{key_id}/jwk"): "application/jwk+json",
    ("award", "/issuers/{issuer_id}/jwks.json"): "application/jwk-set+json",
    ("award", "/achievements/{segment}/{achievement_id}/{version}/image.png"): "image/png",
    ("licensure", "/states/{state}/reports/credits"): "text/csv",
    ("licensure", "/states/{state}/reports/incentives.csv"): "text/csv",
}


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    issuer = DevTokenIssuer(tmp_path_factory.mktemp("auth"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MICROCRED_AUTH_JWKS_URL", issuer.jwks_url)
        yield {service: importlib.import_module(f"microcred.{service}.bootstrap").build_app().openapi()
               for service in SERVICES}


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    ref = schema.get("$ref")
    if ref is None:
        return None, schema
    name = ref.rsplit("/", 1)[-1]
    return name, document["components"]["schemas"][name]


def unbounded(document: dict[str, Any], schema: dict[str, Any], where: str, seen: set[str]) -> Iterator[str]:
    """Places in ``schema`` that a request could fill with something the database refuses."""
    name, schema = resolve(document, schema)
    if name is not None:
        if name in seen or name in EVENT_CONTRACTS:
            return
        seen = seen | {name}
    if "enum" in schema or "const" in schema:
        return
    branches = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if branches:
        # A decimal is documented as a bounded number or its string form; the string parses as the number.
        decimal = any(b.get("type") == "number" for b in branches) and any(b.get("type") == "string" for b in branches)
        for branch in branches:
            if not (decimal and branch.get("type") == "string" and set(branch) == {"type"}):
                yield from unbounded(document, branch, where, seen)
        return
    kind = schema.get("type")
    if kind == "string":
        pattern = schema.get("pattern")
        if schema.get("format") not in STRING_FORMATS and (pattern is None or re.search(pattern, "\x00")):
            yield f"{where}: a string without a NUL-excluding pattern or a format ({schema})"
    elif kind == "integer":
        width = {"int32": INT32_MAX, "int64": INT64_MAX}.get(schema.get("format", ""))
        if width is None or "maximum" not in schema or "minimum" not in schema or schema["maximum"] > width:
            yield f"{where}: an integer without its width and both bounds ({schema})"
    elif kind == "number":
        if not ({"maximum", "exclusiveMaximum"} & set(schema) and {"minimum", "exclusiveMinimum"} & set(schema)):
            yield f"{where}: a number without both bounds ({schema})"
    elif kind == "array":
        yield from unbounded(document, schema.get("items", {}), f"{where}[]", seen)
    elif kind == "object" or "properties" in schema:
        for prop, sub in schema.get("properties", {}).items():
            yield from unbounded(document, sub, f"{where}.{prop}", seen)


def test_the_check_finds_a_bare_string_an_unbounded_integer_and_an_open_number() -> None:
    document = {"components": {"schemas": {"Body": {"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 10},
        "count": {"type": "integer", "minimum": 0, "format": "int32"},
        "ratio": {"type": "number", "minimum": 0},
        "id": {"type": "string", "format": "uuid"},
        "code": {"type": "string", "pattern": "^[A-Z]{2}$"},
    }}}}}
    found = list(unbounded(document, {"$ref": "#/components/schemas/Body"}, "body", set()))
    assert [problem.split(":")[0] for problem in found] == ["body.name", "body.count", "body.ratio"]


@pytest.mark.parametrize("service", SERVICES)
def test_every_parameter_and_request_field_is_bounded_at_the_edge(
    documents: dict[str, dict[str, Any]], service: str
) -> None:
    document = documents[service]
    problems: list[str] = []
    for path, method, operation in operations(document):
        for parameter in operation.get("parameters", []):
            problems += unbounded(document, parameter["schema"], f"{method.upper()} {path} "
                                  f"{parameter['in']} {parameter['name']}", set())
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
            problems += unbounded(document, content.get("schema", {}), f"{method.upper()} {path} body", set())
            assert media_type == "application/json"
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("service", SERVICES)
def test_every_error_an_operation_answers_is_documented_in_the_one_error_shape(
    documents: dict[str, dict[str, Any]], service: str
) -> None:
    document = documents[service]
    assert not {"HTTPValidationError", "ValidationError"} & set(document["components"]["schemas"])
    problems = []
    for path, method, operation in operations(document):
        responses = operation["responses"]
        needed = {"503"} if path not in ("/livez", "/metrics", "/asyncapi.json") else set()
        if operation.get("parameters") or "requestBody" in operation:
            needed.add("422")
        if "requestBody" in operation:
            needed |= {"400", "413"}
            if "x-max-body-bytes" not in operation:
                problems.append(f"{method.upper()} {path}: no body limit documented")
        if operation.get("security"):
            needed |= {"401", "403"}
        if "{" in path and path != "/credentials/{award_id}":
            needed.add("404")
        for status in sorted(needed - set(responses)):
            problems.append(f"{method.upper()} {path}: {status} not documented")
        for status, response in responses.items():
            if status.startswith(("4", "5")) and (service, path) != ("award", "/credentials/{award_id}") \
                    and path != "/health":
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if schema != {"$ref": "#/components/schemas/ErrorBody"}:
                    problems.append(f"{method.upper()} {path}: {status} is not an ErrorBody ({response})")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("service", SERVICES)
def test_responses_that_are_not_json_name_their_media_type(documents: dict[str, dict[str, Any]], service: str) -> None:
    document = documents[service]
    for path, method, operation in operations(document):
        expected = MEDIA_TYPES.get((service, path), "application/json")
        if path == "/metrics":
            expected = "text/plain"
        success = next(status for status in operation["responses"] if status.startswith("2"))
        media_types = list(operation["responses"][success].get("content", {"-": None}))
        if operation["responses"][success].get("content") is None and success == "204":
            continue
        assert media_types and all(m.startswith(expected) for m in media_types), (
            f"{method.upper()} {path} documents {media_types}, answers {expected}")


def _limits_in_docs() -> dict[tuple[str, str, str], int]:
    """The body-limit table of docs/http-api.md, as (service, method, path pattern) -> bytes."""
    table: dict[tuple[str, str, str], int] = {}
    text = (Path(__file__).parents[2] / "docs" / "http-api.md").read_text()
    units = {"KiB": 1024, "MiB": 1024 * 1024}
    for service, operations, limit in re.findall(r"^\| (\w+) \| (`.+?`) \| (\d+ \w+) \|", text, re.M):
        number, unit = limit.split()
        for method, path in re.findall(r"`(\w+) ([^`]+)`", operations):
            table[(service, method.lower(), re.sub(r"\{[^}]+\}", "{}", path))] = int(number) * units[unit]
    return table


def test_the_body_limits_in_the_docs_are_the_ones_the_services_apply(documents: dict[str, dict[str, Any]]) -> None:
    default = 64 * 1024
    applied = {
        (service, method, re.sub(r"\{[^}]+\}", "{}", path)): operation["x-max-body-bytes"]
        for service, document in documents.items()
        for path, method, operation in operations(document) if "x-max-body-bytes" in operation
    }
    larger = {key: limit for key, limit in applied.items() if limit != default}
    assert _limits_in_docs() == larger
