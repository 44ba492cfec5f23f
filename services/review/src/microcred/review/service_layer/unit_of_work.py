from sqlalchemy.ext.asyncio import AsyncSession

from microcred.review.adapters.repository import (
    CredentialRepository,
    PairRepository,
    ReviewerRepository,
    ReviewRepository,
)
from microcred.runtime.uow import UnitOfWork


class ReviewUnitOfWork(UnitOfWork):
    credentials: CredentialRepository
    reviewers: ReviewerRepository
    reviews: ReviewRepository
    pairs: PairRepository

    def bind_repositories(self, session: AsyncSession) -> None:
        self.credentials = CredentialRepository(session)
        self.reviewers = ReviewerRepository(session)
        self.reviews = ReviewRepository(session)
        self.pairs = PairRepository(session)
