from sqlalchemy.ext.asyncio import AsyncSession

from microcred.licensure.adapters.repository import (
    AwardRepository,
    CredentialVersionRepository,
    LedgerRepository,
    LicenseRepository,
    RuleSetRepository,
)
from microcred.runtime.uow import UnitOfWork


class LicensureUnitOfWork(UnitOfWork):
    rule_sets: RuleSetRepository
    licenses: LicenseRepository
    awards: AwardRepository
    credentials: CredentialVersionRepository
    ledger: LedgerRepository

    def bind_repositories(self, session: AsyncSession) -> None:
        self.rule_sets = RuleSetRepository(session)
        self.licenses = LicenseRepository(session)
        self.awards = AwardRepository(session)
        self.credentials = CredentialVersionRepository(session)
        self.ledger = LedgerRepository(session)
