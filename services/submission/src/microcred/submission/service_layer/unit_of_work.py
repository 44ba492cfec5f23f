from sqlalchemy.ext.asyncio import AsyncSession

from microcred.runtime.uow import UnitOfWork
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

    def bind_repositories(self, session: AsyncSession) -> None:
        self.credentials = CredentialRepository(session)
        self.pathways = PathwayRepository(session)
        self.earned = EarnedCredentialRepository(session)
        self.submissions = SubmissionRepository(session)
