from sqlalchemy.ext.asyncio import AsyncSession

from microcred.catalog.adapters.repository import CredentialRepository, IssuerRepository
from microcred.runtime.uow import UnitOfWork


class CatalogUnitOfWork(UnitOfWork):
    issuers: IssuerRepository
    credentials: CredentialRepository

    def bind_repositories(self, session: AsyncSession) -> None:
        self.issuers = IssuerRepository(session)
        self.credentials = CredentialRepository(session)
