from sqlalchemy.ext.asyncio import AsyncSession

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

    def bind_repositories(self, session: AsyncSession) -> None:
        self.rule_sets = RuleSetRepository(session)
        self.licenses = LicenseRepository(session)
        self.awards = AwardRepository(session)
        self.credentials = CredentialVersionRepository(session)
        self.ledger = LedgerRepository(session)
        self.claims = ClaimRepository(session)
        self.approvals = StateApprovalRepository(session)
        self.webhooks = WebhookRepository(session)
