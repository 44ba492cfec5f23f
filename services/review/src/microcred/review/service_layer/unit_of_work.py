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
    # Set by without_transaction() for this transaction's reads.
    _reading: bool
    credentials: CredentialRepository
    reviewers: ReviewerRepository
    reviews: ReviewRepository
    pairs: PairRepository

    def bind_repositories(self, session: AsyncSession) -> None:
        self._decisions = []
        self._reading = False
        self.credentials = CredentialRepository(session)
        self.reviewers = ReviewerRepository(session)
        self.reviews = ReviewRepository(session)
        self.pairs = PairRepository(session)

    async def without_transaction(self) -> None:
        """Read without BEGIN and ROLLBACK: each statement of this unit of work is its own implicit transaction.

        For read-only use cases, before their first statement. SQLAlchemy's asyncpg dialect sends BEGIN (asyncpg's
        ``Transaction.start``) before the first statement on a connection, and ROLLBACK when the session ends,
        unless the connection's isolation level is AUTOCOMMIT: then it starts no transaction and its rollback has
        nothing to end. The level is set on the connection this session holds, on the client alone, and put back
        when it returns to the pool (its later transactions then begin with ``BEGIN ISOLATION LEVEL READ
        COMMITTED``, the same level, still one statement). Two round trips saved per read, and nothing a reader relied on: at READ
        COMMITTED, PostgreSQL's default and the level every service runs at, each statement of a transaction already
        read its own snapshot, so the statements of a use case never shared one. What must agree is read in one
        statement (a page and its total: ``ReviewRepository._page``).
        """
        await self.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        self._reading = True

    async def commit(self) -> None:
        # Every statement has already committed on its own: a write here would not be atomic with anything.
        if self._reading:
            raise RuntimeError("a unit of work reading without a transaction cannot commit")
        await super().commit()

    def note_decision(self, decision: Decision, seconds_since_submit: float) -> None:
        """Observed only if this transaction, which publishes the decision, commits."""
        self._decisions.append((decision, seconds_since_submit))

    def committed(self, events: tuple[IntegrationEvent, ...]) -> None:
        # A score rolled back (a lost lock, a refused commit) is scored again later and must not be timed twice.
        decisions, self._decisions = self._decisions, []
        for decision, seconds in decisions:
            self.metrics.observe_decision(decision, seconds)
