from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from microcred.events import IntegrationEvent
from microcred.licensure.adapters.metrics import LicensureMetrics
from microcred.licensure.adapters.repository import (
    AwardRepository,
    ClaimRepository,
    CredentialVersionRepository,
    LedgerRepository,
    LicenseRepository,
    RuleSetRepository,
    StateApprovalRepository,
)
from microcred.licensure.adapters.webhook_repository import WebhookRepository
from microcred.runtime.messaging_tables import MessagingTables
from microcred.runtime.uow import UnitOfWork


class LicensureUnitOfWork(UnitOfWork):
    rule_sets: RuleSetRepository
    licenses: LicenseRepository
    awards: AwardRepository
    credentials: CredentialVersionRepository
    ledger: LedgerRepository
    claims: ClaimRepository
    approvals: StateApprovalRepository
    webhooks: WebhookRepository

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        tables: MessagingTables,
        source: str,
        on_commit: Callable[[], None] = lambda: None,
        *,
        metrics: LicensureMetrics | None = None,
    ) -> None:
        super().__init__(session_factory, tables, source, on_commit)
        self.metrics = metrics or LicensureMetrics()
        self._award_to_credit: list[tuple[str, float]] = []

    def bind_repositories(self, session: AsyncSession) -> None:
        self._award_to_credit = []
        self.rule_sets = RuleSetRepository(session)
        self.licenses = LicenseRepository(session)
        self.awards = AwardRepository(session)
        self.credentials = CredentialVersionRepository(session)
        self.ledger = LedgerRepository(session)
        self.claims = ClaimRepository(session)
        self.approvals = StateApprovalRepository(session)
        self.webhooks = WebhookRepository(session)

    def note_award_to_credit(self, state: str, seconds: float) -> None:
        """Observed only if this transaction commits."""
        self._award_to_credit.append((state, seconds))

    def committed(self, events: tuple[IntegrationEvent, ...]) -> None:
        delays, self._award_to_credit = self._award_to_credit, []
        self.metrics.count_committed(events)
        for state, seconds in delays:
            self.metrics.award_to_credit.labels(state=state).observe(seconds)
