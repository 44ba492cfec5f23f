"""Which errors mean "a dependency is unreachable or not ready" rather than "this code failed".

Both ends of a service act on the answer: a consumer retries such an error for as long as it lasts and
never counts it toward dead-lettering (:mod:`microcred.runtime.consumer`), and an HTTP request that
fails with one answers a retryable ``503 unavailable`` (:mod:`microcred.runtime.service`). Anything else
is the code's own failure: a consumer retries it a few times and then dead-letters the message, a request
answers 500.

What the drivers raise was reproduced against the real servers here (PostgreSQL 18 through asyncpg and
SQLAlchemy 2.1, Tansu through aiokafka, SeaweedFS through minio and urllib3), not read from their docs:

- PostgreSQL gone: asyncpg's ``ConnectionRefusedError``, raised bare (SQLAlchemy only wraps DBAPI errors),
  and on pooled connections SQLAlchemy errors that invalidated the connection ("connection is closed",
  "connection was closed in the middle of operation", SQLSTATE 08003, caused by 57P01 on a fast shutdown
  or ``pg_terminate_backend``);
- PostgreSQL not ready: SQLSTATE 57P03 ("the database system is starting up", "... is not yet accepting
  connections" during crash recovery, "... is shutting down" during a smart shutdown) and 53300 ("sorry,
  too many clients already", "too many connections for role"), each a plain ``DBAPIError`` that did
  not invalidate anything: by class alone they look like a bug, so the SQLSTATE decides;
- the broker gone: aiokafka's ``KafkaConnectionError`` (a client starting) and ``NodeNotReadyError`` (a
  publish, after its 40 s request timeout), both flagged ``retriable`` by aiokafka, and
  ``KafkaTimeoutError``, which is not flagged but is what a send that never reached a broker raises;
- the object store gone: urllib3's ``MaxRetryError`` around ``NewConnectionError`` around
  ``ConnectionRefusedError``, after the minio client's own retries (about 6 s); on the requests the
  submission service sends from its event loop (aiohttp), ``ClientConnectorError`` at once when refused
  and ``ServerDisconnectedError`` when the store goes away before it answers.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from typing import Literal

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

Dependency = Literal["database", "message broker", "object store", "network"]

# SQLSTATEs of a server that is unreachable, going away or not ready yet. Class 08 is "connection
# exception"; 57P01-57P03 are admin shutdown, crash shutdown and "cannot connect now" (starting up,
# recovering, shutting down); class 53 is "insufficient resources" (53300 too many connections, also a
# full disk or memory, which an operator fixes while messages wait); 25006 is a write reaching a server
# that is read-only, as a demoted primary is until a failover's proxy moves on.
# Class 28 (the server refuses this service's credentials) and 3D000 (its database does not exist) are
# deployment faults, not the message's: a password rotated before the service's secret caught up, a
# database not yet provisioned. Waited out, the backlog proceeds once an operator fixes it; dead-lettered,
# every message would need a replay. 40001 and 40P01 (serialization failure, deadlock) are the database
# aborting a transaction to settle contention, and retrying it is the documented remedy.
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "28")
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "25006", "3D000", "40001", "40P01"})

_UNREACHABLE_ERRNOS = frozenset({
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT,
    errno.EHOSTUNREACH, errno.EHOSTDOWN, errno.ENETUNREACH, errno.ENETDOWN,
})

# S3 error codes that say "later", not "never" (the minio client retries most 5xx itself first).
_UNAVAILABLE_S3_CODES = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"})

#: The exception types an HTTP app registers a handler for; the handler asks :func:`unavailable_dependency`
#: whether the instance at hand is an outage. Extended below by the object store's client libraries
#: when they are installed (only services that hold evidence have them).
OUTAGE_ERROR_TYPES: list[type[Exception]] = [
    # asyncpg's own: the statements runtime.direct sends past SQLAlchemy raise them unwrapped.
    SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError, KafkaError,
]

_object_store_checks: list[Callable[[BaseException], bool]] = []

try:
    import urllib3.exceptions as _urllib3

    def _urllib3_unavailable(exc: BaseException) -> bool:
        if isinstance(exc, _urllib3.MaxRetryError):
            # Retries ran out on a refused or dropped connection, a timeout, or too many 5xx answers; an
            # SSL or proxy misconfiguration also ends here and is not an outage.
            return isinstance(exc.reason, _urllib3.TimeoutError | _urllib3.ProtocolError | _urllib3.ResponseError)
        return isinstance(exc, _urllib3.TimeoutError | _urllib3.ProtocolError)

    OUTAGE_ERROR_TYPES.append(_urllib3.HTTPError)
    _object_store_checks.append(_urllib3_unavailable)
except ImportError:  # a service without an object store
    pass

try:
    import aiohttp as _aiohttp

    def _aiohttp_unavailable(exc: BaseException) -> bool:
        # Refused, reset, dropped before or during the answer, or a read that timed out; a certificate or
        # TLS misconfiguration also ends here and is not an outage.
        return isinstance(exc, _aiohttp.ClientConnectionError) and not isinstance(exc, _aiohttp.ClientSSLError)

    OUTAGE_ERROR_TYPES.append(_aiohttp.ClientError)
    _object_store_checks.append(_aiohttp_unavailable)
except ImportError:  # a service without an object store
    pass

try:
    from minio.error import MinioException, S3Error, ServerError

    def _minio_unavailable(exc: BaseException) -> bool:
        if isinstance(exc, ServerError):
            return exc.status_code >= 500
        return isinstance(exc, S3Error) and exc.code in _UNAVAILABLE_S3_CODES

    OUTAGE_ERROR_TYPES.append(MinioException)
    _object_store_checks.append(_minio_unavailable)
except ImportError:  # a service without an object store
    pass


def _sqlstate(exc: BaseException) -> str | None:
    # SQLAlchemy keeps the driver's error in .orig; asyncpg's errors, SQLAlchemy's adaptation of them and
    # psycopg's all carry the code as .sqlstate.
    source = exc.orig if isinstance(exc, DBAPIError) else exc
    code = getattr(source, "sqlstate", None)
    return code if isinstance(code, str) else None


def _one(exc: BaseException) -> Dependency | None:
    """The dependency ``exc`` itself (not its causes) says is unavailable."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "database"
    code = _sqlstate(exc)
    if code is not None:
        return "database" if code[:2] in _UNAVAILABLE_SQLSTATE_CLASSES or code in _UNAVAILABLE_SQLSTATES else None
    if isinstance(exc, PoolTimeout | DisconnectionError):  # every pooled connection busy, or one lost
        return "database"
    if isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc):
        # A statement sent past SQLAlchemy (runtime.direct) on a connection the server dropped: what SQLAlchemy
        # would have turned into an invalidated connection, "connection is closed".
        return "database"
    if isinstance(exc, asyncpg.InternalClientError) and "another operation" in str(exc):
        # The server's FATAL on a dying connection (a killed postmaster, a terminated backend) arrived before its
        # socket closed, and left the protocol consuming it: the next statement meets this instead. runtime.direct
        # drops such a connection.
        return "database"
    if isinstance(exc, KafkaError):
        return "message broker" if exc.retriable or isinstance(exc, KafkaConnectionError | KafkaTimeoutError) else None
    if any(check(exc) for check in _object_store_checks):
        return "object store"
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror | socket.herror):
        return "network"
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE_ERRNOS:
        return "network"
    return None


def unavailable_dependency(exc: BaseException) -> Dependency | None:
    """Which dependency ``exc`` says is unreachable or not ready, or None when it is some other failure.

    An error raised ``from`` such an error counts as one (SQLAlchemy, urllib3 and aiokafka chain the
    underlying error that way, and SQLAlchemy also keeps it as ``.orig``), but one raised while merely
    *handling* it (``__context__``) does not: that is code failing on its own. A group counts only when
    every member does.
    """
    if isinstance(exc, BaseExceptionGroup):
        found = [unavailable_dependency(member) for member in exc.exceptions]
        return found[0] if found and all(found) else None
    current: BaseException | None = exc
    for _ in range(8):  # a chain is short; the bound only guards against a cycle
        if current is None:
            return None
        dependency = _one(current)
        if dependency is not None:
            return dependency
        # SQLAlchemy raises its wrapper from the driver's error, so .orig is normally the cause too.
        current = current.__cause__ or (current.orig if isinstance(current, DBAPIError) else None)
    return None
