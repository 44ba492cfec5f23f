"""Test doubles for service unit tests: the messaging half of a unit of work, in memory.

``CommitSession`` stands in for the database session under a real unit of work whose commit must succeed
or be refused (what a service counts on commit). ``FakeMessagingUnitOfWork`` keeps the real unit of work's rule: claims (inbox marks) and published
events count only once ``commit()`` ran; leaving the block without it discards them. Services
subclass it and add their fake repositories. :func:`database_error` makes a fake fail the way the real
database does.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self
from uuid import UUID

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection, AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError

from microcred.events import IntegrationEvent

_ASYNCPG_DBAPI = AsyncAdapt_asyncpg_dbapi(asyncpg)


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

    async def execute(self, *_: object) -> None:
        return None

    async def commit(self) -> None:
        if self.refuse_commit:
            raise ConnectionError("the database went away mid-commit")

    async def rollback(self) -> None:
        return None

    async def close(self) -> None:
        return None


class FakeMessagingUnitOfWork:
    def __init__(self) -> None:
        self.claimed: set[tuple[str, UUID]] = set()
        self.published: list[IntegrationEvent] = []
        self._claims: set[tuple[str, UUID]] = set()
        self._pending: list[IntegrationEvent] = []

    async def __aenter__(self) -> Self:
        self._claims, self._pending = set(), []
        return self

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
        self.claimed |= self._claims
        self.published += self._pending
        self._claims, self._pending = set(), []
