from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from microcred.events import IntegrationEvent
from microcred.review.adapters.metrics import ReviewMetrics
from microcred.review.adapters.repository import (
    CredentialRepository,
    PairRepository,
    ReviewerRepository,
    ReviewRepository,
)
from microcred.review.domain.model import Decision
from microcred.runtime.messaging_tables import MessagingTables
from microcred.runtime.uow import UnitOfWork


class ReviewUnitOfWork(UnitOfWork):
    credentials: CredentialRepository
    reviewers: ReviewerRepository
    reviews: ReviewRepository
    pairs: PairRepository

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        tables: MessagingTables,
        source: str,
        on_commit: Callable[[], None] = lambda: None,
        *,
        metrics: ReviewMetrics | None = None,
    ) -> None:
        super().__init__(session_factory, tables, source, on_commit)
        self.metrics = metrics or ReviewMetrics()
        self._decisions: list[tuple[Decision, float]] = []

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
