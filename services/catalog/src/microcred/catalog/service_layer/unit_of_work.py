from sqlalchemy.ext.asyncio import AsyncSession

from microcred.catalog.adapters.repository import (
    CredentialRepository,
    IssuerRepository,
    PathwayRepository,
    StackRepository,
)
from microcred.runtime.uow import UnitOfWork


class CatalogUnitOfWork(UnitOfWork):
    issuers: IssuerRepository
    credentials: CredentialRepository
    stacks: StackRepository
    pathways: PathwayRepository

    def bind_repositories(self, session: AsyncSession) -> None:
        self.issuers = IssuerRepository(session)
        self.credentials = CredentialRepository(session)
        self.stacks = StackRepository(session)
        self.pathways = PathwayRepository(session)
