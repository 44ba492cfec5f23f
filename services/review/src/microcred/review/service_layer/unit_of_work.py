from sqlalchemy.ext.asyncio import AsyncSession

from microcred.events import IntegrationEvent
from microcred.review.adapters.metrics import ReviewMetrics
from microcred.review.adapters.repository import (
    CredentialRepository,
    PairRepository,
    ReviewerRepository,
    ReviewRepository,
)
from microcred.review.domain.model import Decision
from microcred.runtime.uow import MeteredUnitOfWork


class ReviewUnitOfWork(MeteredUnitOfWork[ReviewMetrics]):
    metrics_type = ReviewMetrics
    # What this transaction will observe once it commits; reset as each transaction binds its repositories.
    _decisions: list[tuple[Decision, float]]
    credentials: CredentialRepository
    reviewers: ReviewerRepository
    reviews: ReviewRepository
    pairs: PairRepository

    def bind_repositories(self, session: AsyncSession) -> None:
        self._decisions = []
        self.credentials = CredentialRepository(session)
        self.reviewers = ReviewerRepository(session)
        self.reviews = ReviewRepository(session)
        self.pairs = PairRepository(session)

    def note_decision(self, decision: Decision, seconds_since_submit: float) -> None:
        """Observed only if this transaction, which publishes the decision, commits."""
        self._decisions.append((decision, seconds_since_submit))

    def committed(self, events: tuple[IntegrationEvent, ...]) -> None:
        # A score rolled back (a lost lock, a refused commit) is scored again later and must not be timed twice.
        decisions, self._decisions = self._decisions, []
        for decision, seconds in decisions:
            self.metrics.observe_decision(decision, seconds)
