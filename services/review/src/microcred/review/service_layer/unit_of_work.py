from sqlalchemy.ext.asyncio import AsyncSession

from microcred.review.adapters.repository import CredentialRepository, ReviewerRepository, ReviewRepository
from microcred.runtime.uow import UnitOfWork


class ReviewUnitOfWork(UnitOfWork):
    credentials: CredentialRepository
    reviewers: ReviewerRepository
    reviews: ReviewRepository

    def bind_repositories(self, session: AsyncSession) -> None:
        self.credentials = CredentialRepository(session)
        self.reviewers = ReviewerRepository(session)
        self.reviews = ReviewRepository(session)
