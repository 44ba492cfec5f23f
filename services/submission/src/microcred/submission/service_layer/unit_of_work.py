from sqlalchemy.ext.asyncio import AsyncSession

from microcred.events import IntegrationEvent
from microcred.runtime.uow import MeteredUnitOfWork
from microcred.submission.adapters.metrics import SubmissionMetrics
from microcred.submission.adapters.repository import (
    CredentialRepository,
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

    def bind_repositories(self, session: AsyncSession) -> None:
        self.credentials = CredentialRepository(session)
        self.pathways = PathwayRepository(session)
        self.earned = EarnedCredentialRepository(session)
        self.submissions = SubmissionRepository(session)

    def committed(self, events: tuple[IntegrationEvent, ...]) -> None:
        # Every code path that submits is counted here.
        self.metrics.count_committed(events)
