"""Each service's migrations build exactly the schema its ORM declares.

Indexes live in two places (the migration that builds them and the table the queries are written
against); a query tuned against an index that only one of them has is a full scan in production.
Alembic compares the migrated database of the running platform with each service's metadata.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from microcred.devstack.platform import SERVICES, Platform

pytestmark = pytest.mark.stack


def _differences(connection: sa.Connection, metadata: sa.MetaData) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": False})
    return compare_metadata(context, metadata)


# Alembic cannot compare an index expression that carries an operator class (catalog's GIN index on
# definition -> 'alignments' with jsonb_path_ops); it says so and compares everything else.
@pytest.mark.filterwarnings("ignore:Expression #1 .* detected to include an operator clause:UserWarning")
@pytest.mark.parametrize("service", SERVICES)
def test_migrated_schema_matches_the_orm(platform: Platform, service: str) -> None:
    # Every adapters module, as a table may be declared beside the ORM (licensure's webhook tables).
    adapters = importlib.import_module(f"microcred.{service}.adapters")
    for module in pkgutil.iter_modules(adapters.__path__):
        importlib.import_module(f"{adapters.__name__}.{module.name}")
    metadata: sa.MetaData = importlib.import_module(f"microcred.{service}.adapters.orm").Base.metadata

    async def compare() -> list[Any]:
        engine = create_async_engine(platform.endpoints.database_url(service))
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(_differences, metadata)
        finally:
            await engine.dispose()

    differences = asyncio.run(compare())
    assert differences == [], f"{service}: migrations and adapters/orm.py disagree: {differences}"
