from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
from microcred.runtime.messaging_tables import MessagingTables
from microcred.runtime.uow import UnitOfWork


class AwardUnitOfWork(UnitOfWork):
    credentials: CredentialVersionRepository
    awards: AwardRepository
    attempts: AttemptRepository
    collections: CollectionRepository
    keys: SigningKeyRepository
    status_lists: StatusListRepository

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        tables: MessagingTables,
        source: str,
        on_commit: Callable[[], None] = lambda: None,
        *,
        metrics: AwardMetrics | None = None,
    ) -> None:
        super().__init__(session_factory, tables, source, on_commit)
        self.metrics = metrics or AwardMetrics()

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
