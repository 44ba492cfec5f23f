from sqlalchemy.ext.asyncio import AsyncSession

from microcred.award.adapters.repository import AwardRepository, CredentialVersionRepository
from microcred.runtime.uow import UnitOfWork


class AwardUnitOfWork(UnitOfWork):
    credentials: CredentialVersionRepository
    awards: AwardRepository

    def bind_repositories(self, session: AsyncSession) -> None:
        self.credentials = CredentialVersionRepository(session)
        self.awards = AwardRepository(session)
