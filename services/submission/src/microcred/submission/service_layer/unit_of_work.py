from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from microcred.events import IntegrationEvent
from microcred.runtime.messaging_tables import MessagingTables
from microcred.runtime.uow import MeteredUnitOfWork
from microcred.submission.adapters.metrics import SubmissionMetrics
from microcred.submission.adapters.repository import (
    CredentialRepository,
    CredentialVersions,
    EarnedCredentialRepository,
    PathwayRepository,
    SubmissionRepository,
)


class SubmissionUnitOfWork(MeteredUnitOfWork[SubmissionMetrics]):
    metrics_type = SubmissionMetrics
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
        credential_versions: CredentialVersions | None = None,
    ) -> None:
        super().__init__(session_factory, tables, source, on_commit, metrics=metrics)
        # The composition root passes one for the process, so every unit of work shares what was read.
        self.credential_versions = credential_versions if credential_versions is not None else CredentialVersions()

    def bind_repositories(self, session: AsyncSession) -> None:
        self.credentials = CredentialRepository(session, self.credential_versions)
        self.pathways = PathwayRepository(session)
        self.earned = EarnedCredentialRepository(session)
        self.submissions = SubmissionRepository(session)

    def committed(self, events: tuple[IntegrationEvent, ...]) -> None:
        # Every code path that submits is counted here.
        self.metrics.count_committed(events)
