"""The HTTP edge every service shares: one error shape, body limits, authentication first, and an
OpenAPI document that says what the wire carries.

Every route is an :class:`ApiRoute` (services build their routers with :func:`api_router`). For each
request it
1. authenticates before anything else, when the route needs a principal: a caller without a valid token
   gets its 401 before a byte of the body is read;
2. limits the body while it is read: a declared ``Content-Length`` over the route's limit is refused
   unread, a streamed body is refused at the first chunk past it (413). The limit is
   ``DEFAULT_BODY_LIMIT`` unless the route says ``max_body_size=`` (docs/http-api.md lists those).
   Starlette's own ``RequestBodyLimitMiddleware`` (which FastAPI's ``max_body_size`` uses) is not used: it
   answers a declared-too-large body with a plain-text 413 even when the caller is unauthenticated, and
   replaces whatever response the app had started;
3. documents, for its operation, every error status it can answer, each as :class:`ErrorBody`: 401 and
   403 where a principal is needed, 404 where the path names a resource, 409 where an authenticated
   request changes state, 413 and 400 where there is a body, 422 where there is any input, 503 always
   (a dependency may be down). A route adds others with ``responses=errors(...)``. Responses the
   operation does not document are counted (``microcred_http_undocumented_responses``), so a test run
   shows where the document and the code part.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive

from microcred.runtime.api_types import INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, STORABLE_JSON_SCHEMAS, unstorable
from microcred.runtime.auth import authenticated, bearer_credentials
from microcred.runtime.errors import DomainError
from microcred.runtime.outages import OUTAGE_ERROR_TYPES, unavailable_dependency

log = logging.getLogger(__name__)

#: Bodies of commands (a score, a license, an evidence declaration) fit in far less.
DEFAULT_BODY_LIMIT = 64 * 1024
KIB = 1024
MIB = 1024 * 1024

HTTP_ERROR_CODES = {
    400: "unreadable_body",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}


class ErrorBody(BaseModel):
    """Every refusal, whoever refuses (authentication, request validation, a use case, an outage)."""

    error: str = Field(description="A stable code to branch on, e.g. not_found, invalid_request, unavailable.")
    detail: str = Field(description="What went wrong, for a person.")
    details: Any = Field(default=None, description="Structured detail where there is some: for invalid_request, "
                         "the list of problems, each with loc (where), msg and type.")


ERROR_DESCRIPTIONS = {
    400: "The body could not be read (not UTF-8 JSON).",
    401: "No valid bearer token.",
    403: "The caller may not do this.",
    404: "Not found, or not visible to the caller.",
    409: "Conflicts with the resource's current state.",
    413: "The body is larger than this operation accepts.",
    422: "The request does not match the schema, or the use case refuses its values.",
    503: "A dependency (database, broker, object store) is unavailable; retry after Retry-After seconds.",
}


ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}},
}


# Named rather than given as a response model: FastAPI would document a model under the operation's own
# media type (an image, a CSV), while errors are always JSON. :func:`truthful_openapi` adds the schema.
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for error statuses an operation answers beyond those documented from its shape."""
    return {status: {"description": ERROR_DESCRIPTIONS.get(status, "Refused."), "content": _ERROR_CONTENT}
            | ({"headers": ERROR_HEADERS[status]} if status in ERROR_HEADERS else {})
            for status in statuses}


def truthful_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` carry the ``ErrorBody`` schema the error responses refer to, and integer
    bounds as integers: FastAPI's document model holds every bound as a float, which turns a 64-bit
    column's maximum (2**63 - 1) into 2**63, one more than the column takes."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas |= STORABLE_JSON_SCHEMAS
            _integer_bounds(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _integer_bounds(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "integer":
            low, high = (INT64_MIN, INT64_MAX) if node.get("format") == "int64" else (INT32_MIN, INT32_MAX)
            for key in ("minimum", "maximum"):
                if isinstance(node.get(key), float):
                    node[key] = min(max(int(node[key]), low), high) if node.get("format") else int(node[key])
        for value in node.values():
            _integer_bounds(value)
    elif isinstance(node, list):
        for value in node:
            _integer_bounds(value)


def media(content_type: str, description: str, schema: Mapping[str, Any] | None = None) -> dict[int | str, Any]:
    """``responses=`` for a 200 that is not JSON (CSV, an image, a JWT, a signed credential)."""
    return {200: {"description": description,
                  "content": {content_type: {"schema": dict(schema or {"type": "string"})}}}}


def _sanitized(value: Any) -> Any:
    # An error may quote what the caller sent; a lone surrogate in it would make the response itself fail
    # to encode as UTF-8 (a 500 while refusing a 422).
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_sanitized(k): _sanitized(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_sanitized(v) for v in value]
    return value


def error_response(
    status_code: int, code: str, message: str, details: object = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "detail": message}
    if details is not None:
        body["details"] = details
    return JSONResponse(_sanitized(body), status_code=status_code, headers=dict(headers) if headers else None)


def _needs(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(d.call is call or _needs(d, call) for d in dependant.dependencies)


def _has_parameters(dependant: Dependant) -> bool:
    return bool(dependant.path_params or dependant.query_params or dependant.header_params
                or dependant.cookie_params or dependant.body_params
                or any(_has_parameters(d) for d in dependant.dependencies))


class ApiRoute(APIRoute):
    """FastAPI's route with the edge rules above. ``max_body_size`` is this route's body limit."""

    def __init__(self, path: str, endpoint: Callable[..., Any], *, max_body_size: int | None = None,
                 **kwargs: Any) -> None:
        # Kept from FastAPI, which would otherwise wrap the route in Starlette's limiter (see the module doc).
        self.body_limit = DEFAULT_BODY_LIMIT if max_body_size is None else max_body_size
        super().__init__(path, endpoint, **kwargs)
        self.authenticates = _needs(self.dependant, authenticated)
        self._document_errors()
        success = {str(self.status_code or 200)}
        self.documented_statuses = frozenset(success | {str(status) for status in self.responses})

    def _document_errors(self) -> None:
        statuses = {503}
        if self.authenticates:
            statuses |= {401, 403}
            if (self.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}:
                statuses.add(409)
        if self.dependant.path_params:
            statuses.add(404)
        if _has_parameters(self.dependant):
            statuses.add(422)
        if self.body_field is not None:
            statuses |= {400, 413}
        for status, response in errors(*sorted(statuses)).items():
            self.responses.setdefault(status, response)
        if self.body_field is not None:
            self.openapi_extra = (self.openapi_extra or {}) | {"x-max-body-bytes": self.body_limit}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        limit = self.body_limit
        takes_body = self.body_field is not None

        async def handle_at_the_edge(request: Request) -> Response:
            if getattr(self, "authenticates", False):
                # Raises the 401; the endpoint's own dependency then finds the token already verified.
                try:
                    await authenticated(request, await bearer_credentials(request))
                except HTTPException as refusal:
                    if _declares_body(request):
                        refusal.headers = {**(refusal.headers or {}), **CLOSE}
                    raise
            declared = request.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise _too_large(limit)
            limited = Request(request.scope, _limited(request.receive, limit))
            if takes_body:
                await _check_json_body(limited)
            return await handle(limited)

        return handle_at_the_edge


async def _check_json_body(request: Request) -> None:
    """Read the body (within the limit) and refuse JSON holding what no column can take (see
    ``api_types.unstorable``). The parsed document is left on the request, so FastAPI does not parse it
    again; a body that does not parse is left for FastAPI to refuse in its usual way.
    """
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not body or not (media_type == "application/json" or media_type.endswith("+json")):
        return
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return
    problems = unstorable(document, ("body",))
    if problems:
        raise RequestValidationError(
            [{"type": "unstorable", "loc": loc, "msg": message} for loc, message in problems[:20]]
        )
    request._json = document  # Starlette's cache for Request.json()


#: Sent with a refusal that leaves a body unread: the server closes the connection instead of reading the
#: rest of the body only to discard it (what uvicorn does on a kept-alive connection).
CLOSE = {"Connection": "close"}


def _declares_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return (length is not None and length != "0") or "transfer-encoding" in request.headers


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"the body is larger than this operation accepts ({limit} bytes)", headers=CLOSE)


def _limited(receive: Receive, limit: int) -> Receive:
    received = 0

    async def receive_within_limit() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(limit)
        return message

    return receive_within_limit


def operation_id(route: APIRoute) -> str:
    """An operation is known by its endpoint's name (``get_submission``), the name a generated client's
    method gets, instead of FastAPI's path-and-method compound."""
    return route.name


def api_router(**kwargs: Any) -> APIRouter:
    """The router every service builds its routes on."""
    return APIRouter(route_class=ApiRoute, generate_unique_id_function=operation_id, **kwargs)


def links(status: int, **operations: Mapping[str, str]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for OpenAPI links from this operation's ``status`` response to the operations named
    (by operation id), with the parameters each takes from the request or the response, e.g.
    ``get_submission={"submission_id": "$response.body#/submission_id"}``. Clients and stateful fuzzers
    follow them from a created resource to what can be done with it."""
    return {status: {"links": {name: {"operationId": name, "parameters": dict(parameters)}
                               for name, parameters in operations.items()}}}


def _methods_at(routes: Iterable[Any], path: str) -> set[str]:
    methods: set[str] = set()
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI keeps an included router whole
        if included is not None:
            methods |= _methods_at(included.routes, path)
        elif getattr(route, "methods", None) and route.path_regex.match(path):
            methods |= set(route.methods)
    return methods


def install_error_handlers(app: FastAPI) -> None:
    """Every error has one shape, {"error": code, "detail": message[, "details": ...]}, so clients branch on
    "error" whether a use case, the auth layer, request validation or an outage refused."""

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return error_response(exc.status_code, exc.code, exc.message, exc.details)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first route that matched the path; a path with a GET and a POST
            # operation is two routes, and Allow must list both.
            headers["Allow"] = ", ".join(sorted(_methods_at(request.app.router.routes, request.url.path)))
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)

    # A dependency that is unreachable or not ready (database, broker, object store; see runtime.outages)
    # fails the request with a retryable 503. After a dropped connection SQLAlchemy discards the pool's
    # other connections of that age, so the client's retry gets a fresh one.
    async def dependency_unavailable(_: Request, exc: Exception) -> Response:
        dependency = unavailable_dependency(exc)
        if dependency is None:
            raise exc
        log.warning("%s unavailable: %s: %s", dependency, type(exc).__name__, exc)
        # A bare socket error does not say whose socket it was; the driver's detail stays in the log.
        what = "a dependency of the service" if dependency == "network" else f"the service's {dependency}"
        return error_response(503, "unavailable", f"{what} is unavailable; retry shortly",
                              headers={"Retry-After": "1"})

    for error_type in OUTAGE_ERROR_TYPES:
        app.add_exception_handler(error_type, dependency_unavailable)

    # Anything else is a bug: still the one shape (Starlette would answer plain text), and the
    # traceback goes to the log, where ServerErrorMiddleware re-raises it.
    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> JSONResponse:
        return error_response(500, "internal_error", "the service failed to handle the request; it is logged")

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Without "input": echoing what was sent back is no help to the sender and can be large.
        details = jsonable_encoder(exc.errors(), exclude={"ctx", "url", "input"})
        return error_response(422, "invalid_request", "the request does not match the API schema", details)
