from sqlalchemy.ext.asyncio import AsyncSession

from microcred.award.adapters.metrics import AwardMetrics
from microcred.award.adapters.repository import (
    AttemptRepository,
    AwardRepository,
    CollectionRepository,
    CredentialVersionRepository,
    SigningKeyRepository,
    StatusListRepository,
)
from microcred.events import IntegrationEvent
from microcred.runtime.uow import MeteredUnitOfWork


class AwardUnitOfWork(MeteredUnitOfWork[AwardMetrics]):
    metrics_type = AwardMetrics
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

    def committed(self, events: tuple[IntegrationEvent, ...]) -> None:
        # Every path that issues or changes a standing (consumer, API, collection completion) is counted here.
        self.metrics.count_committed(events)
