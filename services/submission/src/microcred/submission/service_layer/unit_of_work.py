from sqlalchemy.ext.asyncio import AsyncSession

from microcred.runtime.uow import UnitOfWork
from microcred.submission.adapters.repository import CredentialRepository, SubmissionRepository


class SubmissionUnitOfWork(UnitOfWork):
    credentials: CredentialRepository
    submissions: SubmissionRepository

    def bind_repositories(self, session: AsyncSession) -> None:
        self.credentials = CredentialRepository(session)
        self.submissions = SubmissionRepository(session)
