"""A service keeps the connections it opened: a burst as wide as its pool, then another, opens no connection twice
(ServiceSettings.database_pool_size). With an overflow, each burst beyond the kept connections opened new ones,
each a PostgreSQL backend forked, an authentication and a statement cache prepared anew."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from microcred.runtime.service import database_engine
from microcred.runtime.settings import ServiceSettings
from microcred.runtime.testing import embedded_postgres_socket, new_database


@pytest.fixture(scope="module")
def postgres_socket(tmp_path_factory: pytest.TempPathFactory) -> str:
    return embedded_postgres_socket(tmp_path_factory.mktemp("pool-pg"))


async def _burst(engine: AsyncEngine, width: int) -> None:
    """``width`` transactions open at once, as under a saturating load."""
    everyone_in = asyncio.Barrier(width)

    async def one() -> None:
        async with engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))
            await everyone_in.wait()

    await asyncio.gather(*(one() for _ in range(width)))


async def _opened_over_bursts(database_url: str, bursts: int, **pool: int) -> int:
    engine = database_engine(ServiceSettings(database_url=database_url, **pool))  # type: ignore[arg-type]
    opened = 0

    def count(*_: object) -> None:
        nonlocal opened
        opened += 1

    event.listen(engine.sync_engine, "connect", count)
    try:
        for _ in range(bursts):
            await _burst(engine, 20)
    finally:
        await engine.dispose()
    return opened


async def test_bursts_as_wide_as_the_pool_reuse_the_connections_the_first_opened(postgres_socket: str) -> None:
    url = await new_database(postgres_socket)
    assert await _opened_over_bursts(url, 3) == 20


async def test_an_overflow_opens_its_connections_again_for_every_burst(postgres_socket: str) -> None:
    # What the services ran before: 10 kept and an overflow of 10, closed as soon as each was returned.
    url = await new_database(postgres_socket)
    assert await _opened_over_bursts(url, 3, database_pool_size=10, database_pool_max_overflow=10) == 10 + 3 * 10
