"""Alembic, driven from code: every service's ``env.py`` is one call to :func:`run_env`."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(database_url: str, script_location: str) -> Config:
    config = Config()
    config.set_main_option("script_location", script_location)
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, script_location: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url, script_location), revision)


def run_env(target_metadata: sa.MetaData) -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is set by alembic_config()"
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def migrate(connection: sa.Connection) -> None:
        # Several replicas may start at once (an init container per pod); the lock makes the others
        # wait and then find nothing left to do. It is released when the connection closes.
        connection.execute(sa.text("SELECT pg_advisory_lock(hashtext('microcred-migrations'))"))
        # The lock is the session's and outlives this commit; ending the implicit transaction lets
        # alembic own the next one, which a migration needs to step out of for CREATE INDEX
        # CONCURRENTLY (autocommit_block refuses a transaction it did not begin).
        connection.commit()
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()

    async def online() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(migrate)
                await connection.commit()
        finally:
            await engine.dispose()

    asyncio.run(online())
