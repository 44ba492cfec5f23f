from sqlalchemy.ext.asyncio import AsyncSession

from microcred.award.adapters.repository import (
    AttemptRepository,
    AwardRepository,
    CollectionRepository,
    CredentialVersionRepository,
    SigningKeyRepository,
    StatusListRepository,
)
from microcred.runtime.uow import UnitOfWork


class AwardUnitOfWork(UnitOfWork):
    credentials: CredentialVersionRepository
    awards: AwardRepository
    attempts: AttemptRepository
    collections: CollectionRepository
    keys: SigningKeyRepository
    status_lists: StatusListRepository

    def bind_repositories(self, session: AsyncSession) -> None:
        self.credentials = CredentialVersionRepository(session)
        self.awards = AwardRepository(session)
        self.attempts = AttemptRepository(session)
        self.collections = CollectionRepository(session)
        self.keys = SigningKeyRepository(session)
        self.status_lists = StatusListRepository(session)
