"""Which errors are outages (retried for as long as they last) and which are the code's own failures.

Each error is built the way its driver raises it, as reproduced against the real servers (see
``runtime.outages``): asyncpg's error, translated by SQLAlchemy's asyncpg dialect and wrapped by
``DBAPIError.instance`` as a failing statement or connect is (``runtime.testing.database_error``);
urllib3's and minio's as the minio client raises them; aiokafka's as a publish or a client start does.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from http.client import RemoteDisconnected
from pathlib import Path
from typing import Any
from unittest.mock import Mock

import aiohttp
import asyncpg
import pytest
import urllib3
from aiokafka import errors as kafka
from fastapi import APIRouter
from fastapi.testclient import TestClient
from minio.error import S3Error, ServerError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from microcred.runtime.auth import DevTokenIssuer
from microcred.runtime.outages import unavailable_dependency
from microcred.runtime.testing import database_error as through_sqlalchemy
from microcred.runtime.testing import runtime_for_app


def caused_by(cause: BaseException, outer: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


def during(context: BaseException, outer: BaseException) -> BaseException:
    outer.__context__ = context
    return outer


def s3_error(code: str) -> S3Error:
    return S3Error(Mock(status=503), code, "message", "/evidence/key", "request", "host")


def max_retries(reason: Exception) -> urllib3.exceptions.MaxRetryError:
    return urllib3.exceptions.MaxRetryError(Mock(), "/evidence/key", reason)


def aiohttp_error(server: str) -> BaseException:
    """What aiohttp raises for a HEAD to a port nobody listens on (``refusing``), or to a server that reads
    the request and closes the connection without answering (``dropping``): reproduced, not built."""

    async def head() -> BaseException:
        async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(100)
            writer.close()

        listener = await asyncio.start_server(drop, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        if server == "refusing":
            listener.close()
            await listener.wait_closed()
        try:
            async with aiohttp.ClientSession() as session:
                await session.head(f"http://127.0.0.1:{port}/evidence/key")
        except aiohttp.ClientError as error:
            return error
        finally:
            listener.close()
        raise AssertionError(f"a {server} server answered")

    return asyncio.run(head())


OUTAGES: dict[str, tuple[Callable[[], BaseException], str]] = {
    # PostgreSQL down: asyncpg's connect raises the socket error bare, SQLAlchemy does not wrap it.
    "connection refused": (lambda: ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"), "network"),
    "57P03 shutting down": (lambda: through_sqlalchemy(
        asyncpg.CannotConnectNowError("the database system is shutting down")), "database"),
    "57P03 starting up": (lambda: through_sqlalchemy(
        asyncpg.CannotConnectNowError("the database system is starting up")), "database"),
    "57P03 recovering": (lambda: through_sqlalchemy(
        asyncpg.CannotConnectNowError("the database system is not yet accepting connections")), "database"),
    "57P01 admin shutdown": (lambda: through_sqlalchemy(
        asyncpg.AdminShutdownError("terminating connection due to administrator command")), "database"),
    "57P02 crash shutdown": (lambda: through_sqlalchemy(
        asyncpg.CrashShutdownError("terminating connection because of crash of another server process")),
        "database"),
    "53300 too many clients": (lambda: through_sqlalchemy(
        asyncpg.TooManyConnectionsError("sorry, too many clients already")), "database"),
    "53300 role connection limit": (lambda: through_sqlalchemy(
        asyncpg.TooManyConnectionsError('too many connections for role "microcred"')), "database"),
    "08003 closed mid-statement": (lambda: through_sqlalchemy(
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        invalidated=True), "database"),
    "pooled connection closed": (lambda: through_sqlalchemy(
        asyncpg.InterfaceError("connection is closed"), invalidated=True), "database"),
    "25006 read-only after failover": (lambda: through_sqlalchemy(
        asyncpg.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction")), "database"),
    # The same met by a write sent past SQLAlchemy (runtime.direct): asyncpg's errors, unwrapped.
    "08003 closed mid-statement, raw": (lambda: asyncpg.ConnectionDoesNotExistError(
        "connection was closed in the middle of operation"), "database"),
    "pooled connection closed, raw": (lambda: asyncpg.InterfaceError("connection is closed"), "database"),
    "a dying connection's protocol, raw": (lambda: asyncpg.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"), "database"),
    "57P01 admin shutdown, raw": (lambda: asyncpg.AdminShutdownError(
        "terminating connection due to administrator command"), "database"),
    "25006 read-only after failover, raw": (lambda: asyncpg.ReadOnlySQLTransactionError(
        "cannot execute INSERT in a read-only transaction"), "database"),
    "pool exhausted": (lambda: PoolTimeout("QueuePool limit of size 10 overflow 10 reached"), "database"),
    # Deployment faults an operator fixes while messages wait, and contention the database settles.
    "wrong password": (lambda: through_sqlalchemy(
        asyncpg.InvalidPasswordError("password authentication failed")), "database"),
    "database does not exist": (lambda: through_sqlalchemy(
        asyncpg.InvalidCatalogNameError('database "x" does not exist')), "database"),
    "deadlock": (lambda: through_sqlalchemy(asyncpg.DeadlockDetectedError("deadlock detected")), "database"),
    "serialization failure": (lambda: through_sqlalchemy(
        asyncpg.SerializationError("could not serialize access")), "database"),
    "connect timeout": (lambda: TimeoutError(), "network"),
    "name not resolved": (lambda: socket.gaierror(-2, "Name or service not known"), "network"),
    "host unreachable": (lambda: OSError(113, "No route to host"), "network"),
    # The broker down: a publish (after its request timeout), a client starting, a send never sent.
    "publish to a node not ready": (lambda: kafka.NodeNotReadyError("node 111 not ready"), "message broker"),
    "client cannot bootstrap": (lambda: kafka.KafkaConnectionError("Unable to bootstrap"), "message broker"),
    "send timed out": (lambda: kafka.KafkaTimeoutError(), "message broker"),
    "leader moving": (lambda: kafka.NotLeaderForPartitionError(), "message broker"),
    # The object store down or overloaded, after the minio client's own retries.
    "store refuses connections": (lambda: max_retries(urllib3.exceptions.NewConnectionError(
        Mock(), "Failed to establish a new connection: [Errno 111] Connection refused")), "object store"),
    "store answers 503s": (lambda: max_retries(urllib3.exceptions.ResponseError("too many 503 error responses")),
                           "object store"),
    "store drops the connection": (lambda: urllib3.exceptions.ProtocolError(
        "Connection aborted.", RemoteDisconnected("Remote end closed connection without response")),
        "object store"),
    "store says slow down": (lambda: s3_error("SlowDown"), "object store"),
    "store fails with a 502": (lambda: ServerError("server failed with HTTP status code 502", 502), "object store"),
    # The same on the requests sent from the event loop (submission's adapters.s3_requests), which do not retry.
    "store refuses connections, from the loop": (lambda: aiohttp_error("refusing"), "object store"),
    "store drops the connection, from the loop": (lambda: aiohttp_error("dropping"), "object store"),
    # Raised from an outage: a wrapper that names its cause is that outage.
    "wrapped outage": (lambda: caused_by(ConnectionRefusedError(111, "refused"), RuntimeError("could not load")),
                       "network"),
}

FAILURES: dict[str, Callable[[], BaseException]] = {
    "unique violation": lambda: through_sqlalchemy(asyncpg.UniqueViolationError("duplicate key value")),
    "unique violation, raw": lambda: asyncpg.UniqueViolationError("duplicate key value"),
    "another interface error, raw": lambda: asyncpg.InterfaceError("the server expects 2 arguments, 1 was passed"),
    "undefined table": lambda: through_sqlalchemy(asyncpg.UndefinedTableError('relation "x" does not exist')),
    "NUL in a string": lambda: through_sqlalchemy(
        asyncpg.CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00')),
    "record too large": lambda: kafka.MessageSizeTooLargeError(),
    "unknown broker error": lambda: kafka.UnknownError(),
    "TLS misconfigured": lambda: max_retries(urllib3.exceptions.SSLError("certificate verify failed")),
    "no such key": lambda: s3_error("NoSuchKey"),
    "TLS misconfigured, from the loop": lambda: aiohttp.ClientSSLError(Mock(), OSError(1, "certificate verify failed")),
    "store refuses a request": lambda: ServerError("server failed with HTTP status code 400", 400),
    "a file that is not there": lambda: FileNotFoundError(2, "No such file or directory"),
    "a bug": lambda: KeyError("reviewer"),
    # An error raised while handling an outage is the code failing on its own, not the outage.
    "a bug while handling an outage": lambda: during(ConnectionRefusedError(111, "refused"), ValueError("bad")),
    "a group with a bug in it": lambda: ExceptionGroup("both", [ConnectionRefusedError(111, "x"), KeyError("y")]),
}


@pytest.mark.parametrize("name", OUTAGES)
def test_an_unreachable_or_unready_dependency_is_an_outage(name: str) -> None:
    make, dependency = OUTAGES[name]
    error = make()
    assert unavailable_dependency(error) == dependency


@pytest.mark.parametrize("name", FAILURES)
def test_the_codes_own_failure_is_not_an_outage(name: str) -> None:
    error = FAILURES[name]()
    assert unavailable_dependency(error) is None


def test_sqlalchemy_wraps_57p03_as_a_plain_dbapi_error_so_only_its_sqlstate_tells() -> None:
    # Why the class alone cannot decide (the old rule called this a bug and dead-lettered after 5 tries).
    error: Any = OUTAGES["57P03 shutting down"][0]()
    assert type(error) is DBAPIError and not error.connection_invalidated
    assert error.orig.sqlstate == "57P03"


def test_a_group_of_outages_is_an_outage() -> None:
    group = ExceptionGroup("both", [ConnectionRefusedError(111, "x"), kafka.NodeNotReadyError("y")])
    assert unavailable_dependency(group) == "network"


def app_failing_with(error: BaseException, tmp_path: Path) -> TestClient:
    runtime = runtime_for_app(DevTokenIssuer(tmp_path).jwks_url)
    router = APIRouter()

    @router.get("/things")
    async def things() -> None:
        raise error

    # No lifespan (nothing connects); a server error is answered rather than raised into the test.
    return TestClient(runtime.create_app(router, title="t"), raise_server_exceptions=False)


@pytest.mark.parametrize("name", ["connection refused", "57P03 starting up", "53300 too many clients",
                                  "client cannot bootstrap", "store refuses connections", "store says slow down"])
def test_a_request_that_meets_an_outage_answers_a_retryable_503_in_the_error_shape(name: str, tmp_path: Path) -> None:
    make, dependency = OUTAGES[name]
    response = app_failing_with(make(), tmp_path).get("/things")
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    body = response.json()
    assert body["error"] == "unavailable" and body["detail"].endswith("is unavailable; retry shortly")
    assert dependency == "network" or dependency in body["detail"]


@pytest.mark.parametrize("name", ["unique violation", "a file that is not there", "record too large", "no such key"])
def test_a_request_that_fails_on_its_own_is_not_dressed_up_as_an_outage(name: str, tmp_path: Path) -> None:
    assert app_failing_with(FAILURES[name](), tmp_path).get("/things").status_code == 500
