from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from microcred.runtime.messaging_tables import MessagingTables
from microcred.runtime.uow import UnitOfWork
from microcred.submission.adapters.metrics import SubmissionMetrics
from microcred.submission.adapters.repository import (
    CredentialRepository,
    EarnedCredentialRepository,
    PathwayRepository,
    SubmissionRepository,
)


class SubmissionUnitOfWork(UnitOfWork):
    credentials: CredentialRepository
    pathways: PathwayRepository
    earned: EarnedCredentialRepository
    submissions: SubmissionRepository

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        tables: MessagingTables,
        source: str,
        on_commit: Callable[[], None] = lambda: None,
        *,
        metrics: SubmissionMetrics | None = None,
    ) -> None:
        super().__init__(session_factory, tables, source, on_commit)
        self.metrics = metrics or SubmissionMetrics()

    def bind_repositories(self, session: AsyncSession) -> None:
        self.credentials = CredentialRepository(session)
        self.pathways = PathwayRepository(session)
        self.earned = EarnedCredentialRepository(session)
        self.submissions = SubmissionRepository(session)

    async def commit(self) -> None:
        # Counted on the events the transaction wrote to the outbox, once the commit succeeded: a
        # rolled-back or refused transaction counts nothing, and every code path that submits is counted.
        events = tuple(self._pending)
        await super().commit()
        self.metrics.count_committed(events)
