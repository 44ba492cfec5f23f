"""The public reads (an award, its verification, the issuer's keys, a status list, an achievement) send no
BEGIN and no ROLLBACK (``UnitOfWork.without_transaction``), on the embedded PostgreSQL, through the real
routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from microcred.award.adapters.orm import messaging
from microcred.award.entrypoints.api import create_router
from microcred.award.service_layer.signing import IssuingAuthority
from microcred.award.service_layer.unit_of_work import AwardUnitOfWork
from microcred.runtime.api import install_error_handlers
from microcred.runtime.testing import SentStatements, embedded_postgres_socket, migrated_engine


@pytest.fixture(scope="module")
def socket_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return embedded_postgres_socket(tmp_path_factory.mktemp("award-reads-pg"))


@pytest.fixture
async def engine(socket_dir: str) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(socket_dir, "microcred.award:migrations") as engine:
        yield engine


async def test_the_public_reads_send_no_begin_or_rollback(engine: AsyncEngine, authority: IssuingAuthority) -> None:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(create_router(lambda: AwardUnitOfWork(sessions, messaging, "award"), authority))
    some = uuid4()
    async with SentStatements(engine) as sent:
        async with AwardUnitOfWork(sessions, messaging, "award") as uow:  # the control: BEGIN and ROLLBACK
            await uow.awards.get(some)
        assert SentStatements.transaction_control(await sent.read()) == ["BEGIN", "ROLLBACK"]

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://award") as client:
            answers = [
                (await client.get(f"/awards/{some}")).status_code,
                (await client.get(f"/credentials/{some}/verification")).status_code,
                (await client.post("/verify", json={"proof": {"verificationMethod": f"{authority.urls.issuer(some)}#k"}}
                                   )).status_code,
                (await client.get(f"/issuers/{some}")).status_code,
                (await client.get(f"/issuers/{some}/jwks.json")).status_code,
                (await client.get(f"/status/{some}/revocation/1")).status_code,
                (await client.get(f"/achievements/micro-credentials/{some}/1")).status_code,
            ]
        reads = await sent.read()
    assert answers == [404, 404, 200, 404, 404, 404, 404]
    assert len(reads) == 7  # one statement each (the posted document names a key: one lookup), nothing around them
    assert SentStatements.transaction_control(reads) == []
