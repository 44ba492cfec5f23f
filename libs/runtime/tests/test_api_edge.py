"""The HTTP edge: bad input is a 422 before any use case, bodies are limited while read, a caller without a
token is answered before its body is read, and the OpenAPI document lists what the wire carries.

The app here is a real ServiceRuntime app served by uvicorn on a socket, so the body tests send what an
attacker would (a declared 64 MiB body, a chunked stream that never ends) rather than what a test client
happens to buffer.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Any

import httpx
import pytest
import uvicorn
from fastapi import Body, Query
from fastapi import Path as PathParam
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field, ValidationError

from microcred.runtime.api import KIB, api_router
from microcred.runtime.api_types import Count, Day, Digits, Ordinal, PageOffset, RequestModel, Text, Timestamp
from microcred.runtime.auth import CurrentPrincipal, DevTokenIssuer, Role
from microcred.runtime.testing import runtime_for_app


class Note(BaseModel):
    title: Annotated[Text, Field(max_length=100)]
    amount: Annotated[Decimal, Digits(12, 4)] = Decimal(0)
    copies: Count = 1


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, DevTokenIssuer]]:
    issuer = DevTokenIssuer(tmp_path_factory.mktemp("auth"))
    runtime = runtime_for_app(issuer.jwks_url, service_name="edge")
    router = api_router()

    @router.post("/notes/{shelf}")
    async def add_note(shelf: Annotated[Text, PathParam(max_length=20)], note: Note, _: CurrentPrincipal,
                       offset: Annotated[PageOffset, Query()] = 0) -> dict[str, Any]:
        return {"shelf": shelf, "title": note.title, "amount": str(note.amount), "offset": offset}

    @router.get("/notes/{number}")
    async def read_note(number: Annotated[Ordinal, PathParam()]) -> dict[str, int]:
        return {"number": number}

    @router.post("/documents", max_body_size=256 * KIB)
    async def check_document(document: Annotated[dict[str, Any], Body()]) -> dict[str, int]:
        return {"keys": len(document)}

    # lifespan off: these checks need neither the database nor the broker.
    app = runtime.create_app(router, title="edge")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", issuer
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _token(issuer: DevTokenIssuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.mint('u-1', [Role.TEACHER])}"}


def _raw(base: str, head: str, body: bytes = b"", wait: float = 5.0) -> tuple[int, bytes, float]:
    """Send a request over a plain socket; returns (status, response, seconds until the response began)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as connection:
        started = time.monotonic()
        connection.sendall(head.encode() + b"\r\n" + body)
        response = connection.recv(65536)
        elapsed = time.monotonic() - started
    status = int(response.split(b" ", 2)[1])
    return status, response, elapsed


def test_a_caller_without_a_token_is_answered_401_before_sending_a_declared_64_mib_body(
    served: tuple[str, DevTokenIssuer],
) -> None:
    base, _ = served
    # Only the headers are sent: the server must answer without waiting for 64 MiB that never come.
    status, response, elapsed = _raw(base, "POST /notes/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                     f"Content-Length: {64 * 1024 * 1024}\r\n")
    assert status == 401 and b'"error":"unauthorized"' in response
    assert elapsed < 2.0


def test_a_declared_body_over_the_limit_is_refused_unread_in_the_error_shape(
    served: tuple[str, DevTokenIssuer],
) -> None:
    base, issuer = served
    status, response, _ = _raw(base, "POST /notes/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               f"Authorization: {_token(issuer)['Authorization']}\r\n"
                               f"Content-Length: {64 * 1024 * 1024}\r\n")
    assert status == 413 and b'"error":"body_too_large"' in response
    # The public verification route takes larger documents, and has its own limit.
    status, response, _ = _raw(base, "POST /documents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               f"Content-Length: {300 * 1024}\r\n")
    assert status == 413 and b"262144 bytes" in response


def test_a_streamed_body_is_cut_off_at_the_limit_and_the_connection_closed(
    served: tuple[str, DevTokenIssuer],
) -> None:
    base, issuer = served
    host, port = base.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"POST /notes/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Transfer-Encoding: chunked\r\n"
                           + f"Authorization: {_token(issuer)['Authorization']}\r\n\r\n".encode())
        chunk = b"4000\r\n" + b"a" * 0x4000 + b"\r\n"
        try:
            for _ in range(4096):  # 64 MiB if the server read it all
                connection.sendall(chunk)
                sent += 0x4000
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = connection.recv(65536)
    assert response.startswith(b"HTTP/1.1 413") and b'"error":"body_too_large"' in response
    assert sent < 16 * 1024 * 1024, f"the server took {sent} bytes of a body limited to 64 KiB"


def test_a_large_array_on_the_public_route_is_refused_without_parsing_it(served: tuple[str, DevTokenIssuer]) -> None:
    base, _ = served
    started = time.monotonic()
    response = httpx.post(f"{base}/documents", content=b"[" + b"1," * (8 * 1024 * 1024) + b"1]",
                          headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 413 and time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/notes/a", {"title": "nul \u0000 inside"}, ["body", "title"]),
        ("/notes/a%00b", {"title": "fine"}, ["path", "shelf"]),
        ("/notes/a?offset=9223372036854775808", {"title": "fine"}, ["query", "offset"]),
        ("/notes/a", {"title": "fine", "amount": "1e400"}, ["body", "amount"]),
        ("/notes/a", {"title": "fine", "amount": "NaN"}, ["body", "amount"]),
        ("/notes/a", {"title": "fine", "copies": 2**31}, ["body", "copies"]),
    ],
)
def test_what_the_database_would_refuse_is_a_422_at_the_edge(
    served: tuple[str, DevTokenIssuer], path: str, body: dict[str, Any], where: list[str],
) -> None:
    base, issuer = served
    response = httpx.post(f"{base}{path}", json=body, headers=_token(issuer))
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request"
    assert any(problem["loc"] == where for problem in response.json()["details"]), response.json()


def test_a_lone_surrogate_or_a_number_json_cannot_hold_is_a_422_wherever_it_sits(
    served: tuple[str, DevTokenIssuer],
) -> None:
    base, issuer = served
    headers = _token(issuer) | {"Content-Type": "application/json"}
    # Raw JSON text: a JSON encoder would not write these.
    surrogate = httpx.post(f"{base}/notes/a", content=b'{"title": "\\ud800"}', headers=headers)
    assert surrogate.status_code == 422 and surrogate.json()["details"][0]["loc"] == ["body", "title"]
    nested = httpx.post(f"{base}/documents", content=b'{"proof": {"value": ["x", "\\u0000"]}}', headers=headers)
    assert nested.status_code == 422
    assert nested.json()["details"][0]["loc"] == ["body", "proof", "value", 1]
    huge = httpx.post(f"{base}/documents", content=b'{"n": 1e400, "m": 99999999999999999999}', headers=headers)
    assert huge.status_code == 422 and {tuple(p["loc"]) for p in huge.json()["details"]} == {
        ("body", "n"), ("body", "m")}
    deep = httpx.post(f"{base}/documents", content=b'{"a": ' + b"[" * 100 + b"]" * 100 + b"}", headers=headers)
    assert deep.status_code == 422


def test_a_version_past_the_integer_range_is_a_422_without_a_token(served: tuple[str, DevTokenIssuer]) -> None:
    base, _ = served
    assert httpx.get(f"{base}/notes/{2**31}").status_code == 422
    assert httpx.get(f"{base}/notes/{2**31 - 1}").json() == {"number": 2**31 - 1}


def test_valid_requests_still_pass(served: tuple[str, DevTokenIssuer]) -> None:
    base, issuer = served
    response = httpx.post(f"{base}/notes/a?offset=3", json={"title": "ünïcødé ✓", "amount": "12.5"},
                          headers=_token(issuer))
    assert response.json() == {"shelf": "a", "title": "ünïcødé ✓", "amount": "12.5", "offset": 3}


def test_the_document_lists_every_error_status_in_the_one_error_shape(served: tuple[str, DevTokenIssuer]) -> None:
    base, _ = served
    document = httpx.get(f"{base}/openapi.json").json()
    add_note = document["paths"]["/notes/{shelf}"]["post"]
    assert set(add_note["responses"]) == {"200", "400", "401", "403", "404", "409", "413", "422", "503"}
    for status, response in add_note["responses"].items():
        if status != "200":
            assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert add_note["x-max-body-bytes"] == 64 * 1024
    assert set(document["paths"]["/notes/{number}"]["get"]["responses"]) == {"200", "404", "422", "503"}
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert document["components"]["schemas"]["ErrorBody"]["required"] == ["error", "detail"]
    assert list(document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == [CONTENT_TYPE_LATEST]


def test_a_status_the_document_does_not_list_is_counted(served: tuple[str, DevTokenIssuer]) -> None:
    base, _ = served
    metrics = httpx.get(f"{base}/metrics").text
    assert "microcred_http_undocumented_responses" in metrics
    assert 'microcred_http_undocumented_responses_total{' not in metrics, "every answer so far was documented"


@pytest.mark.parametrize("kind", [Timestamp, Day])
def test_a_date_or_time_is_rfc3339_text_and_a_number_is_refused(kind: Any) -> None:
    # Pydantic alone reads a number as seconds since 1970; the OpenAPI document promises a string, and Schemathesis
    # sent 0 for a reviewer's certified_at and saw it accepted.
    class Body(RequestModel):
        at: kind  # type: ignore[valid-type]

    text = "2026-12-07T10:00:00Z" if kind is Timestamp else "2026-12-07"
    assert Body.model_validate({"at": text}).at.isoformat().startswith("2026-12-07")
    for number in (0, 1765100000, 0.0):
        with pytest.raises(ValidationError, match="RFC 3339 text, not a number"):
            Body.model_validate({"at": number})
    assert Body.model_json_schema()["properties"]["at"]["type"] == "string"
