"""The read-only use cases send no BEGIN and no ROLLBACK (``UnitOfWork.without_transaction``), on the embedded
PostgreSQL, and a search's page and its total come from one statement, so they agree."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from conftest import definition_data
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from microcred.catalog.adapters.orm import messaging
from microcred.catalog.adapters.repository import CredentialQuery
from microcred.catalog.service_layer import handlers
from microcred.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from microcred.runtime.auth import Principal, Role
from microcred.runtime.testing import SentStatements, embedded_postgres_socket, migrated_engine

OPERATOR = Principal(subject="operator-1", roles=frozenset({Role.OPERATOR}))


@pytest.fixture(scope="module")
def socket_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return embedded_postgres_socket(tmp_path_factory.mktemp("catalog-reads-pg"))


@pytest.fixture
async def engine(socket_dir: str) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(socket_dir, "microcred.catalog:migrations") as engine:
        yield engine


async def test_the_reads_send_no_begin_or_rollback_and_a_page_carries_its_total(engine: AsyncEngine) -> None:
    uow = CatalogUnitOfWork(async_sessionmaker(engine, expire_on_commit=False), messaging, "catalog")
    issuer = await handlers.create_issuer(handlers.CreateIssuer(name="Digital Promise"), uow)
    drafted = [await handlers.draft_credential(handlers.DraftCredential.model_validate(
        definition_data(name=f"Credential {n}") | {"issuer_id": issuer.issuer_id}), OPERATOR, uow) for n in range(3)]

    async with SentStatements(engine) as sent:
        async with uow:  # the control: a unit of work that keeps its transaction sends BEGIN and ROLLBACK
            await uow.issuers.get(issuer.issuer_id)
        assert SentStatements.transaction_control(await sent.read()) == ["BEGIN", "ROLLBACK"]

        async with uow:
            await uow.without_transaction()
            pages = [await uow.credentials.search(CredentialQuery(status="draft", limit=2, offset=offset))
                     for offset in (0, 2, 4)]
            with pytest.raises(RuntimeError):
                await uow.commit()
        assert len(await sent.read()) == 3  # one statement per page, total and keys included
        assert (await handlers.read_issuer(issuer.issuer_id, uow)).name == "Digital Promise"
        assert [i.issuer_id for i in await handlers.list_issuers(OPERATOR, False, uow)] == [issuer.issuer_id]
        version = await handlers.read_version(drafted[0].credential_id, None, OPERATOR, uow)
        assert [v.version for v in await handlers.list_versions(drafted[0].credential_id, OPERATOR, uow)] == [1]
        reads = await sent.read()
    assert [(len(found), total) for found, total in pages] == [(2, 3), (1, 3), (0, 3)]  # past the end: counted
    assert {c.credential_id for found, _ in pages for c in found} == {d.credential_id for d in drafted}
    assert {c.key for found, _ in pages for c in found} == {d.key for d in drafted}
    assert version.credential_id == drafted[0].credential_id
    assert reads and SentStatements.transaction_control(reads) == []
