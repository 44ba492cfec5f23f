from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from microcred.events import IntegrationEvent
from microcred.review.adapters.metrics import ReviewMetrics
from microcred.review.adapters.repository import (
    CredentialRepository,
    CredentialRubrics,
    PairRepository,
    ReviewerRepository,
    ReviewRepository,
)
from microcred.review.domain.model import Decision
from microcred.runtime.messaging_tables import MessagingTables
from microcred.runtime.uow import MeteredUnitOfWork


class ReviewUnitOfWork(MeteredUnitOfWork[ReviewMetrics]):
    metrics_type = ReviewMetrics
    # What this transaction will observe once it commits; reset as each transaction binds its repositories.
    _decisions: list[tuple[Decision, float]]
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
        credential_rubrics: CredentialRubrics | None = None,
    ) -> None:
        super().__init__(session_factory, tables, source, on_commit, metrics=metrics)
        # The composition root passes one for the process, so every unit of work shares what was read.
        self.credential_rubrics = credential_rubrics if credential_rubrics is not None else CredentialRubrics()

    def bind_repositories(self, session: AsyncSession) -> None:
        self._decisions = []
        self.credentials = CredentialRepository(session, self.credential_rubrics)
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
