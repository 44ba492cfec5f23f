"""Named PostgreSQL advisory locks held until the transaction ends."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from microcred.runtime.direct import direct_of


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (PostgreSQL's advisory-lock key space)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


# Built once, its key a parameter: rebuilding a statement per call costs its construction and cache key (ADR 0002).
_LOCK = sa.select(sa.func.pg_advisory_xact_lock(sa.bindparam("key", type_=sa.BigInteger)))


async def advisory_xact_lock(session: AsyncSession, name: str) -> None:
    """Wait for, then hold, the lock called ``name`` until the session's transaction commits or rolls back.

    Sent as a write is, past SQLAlchemy (runtime.direct), which begins the transaction first if nothing has yet, so
    the lock is always taken inside the transaction it is held for."""
    await direct_of(session).execute(_LOCK, {"key": lock_key(name)})
