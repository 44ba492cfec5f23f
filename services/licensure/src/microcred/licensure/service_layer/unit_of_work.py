from sqlalchemy.ext.asyncio import AsyncSession

from microcred.events import IntegrationEvent
from microcred.licensure.adapters.metrics import LicensureMetrics
from microcred.licensure.adapters.recognition_report_repository import RecognitionReportRepository
from microcred.licensure.adapters.recognition_repository import MembershipRepository, RecognitionRepository
from microcred.licensure.adapters.recognition_reviews import RecognitionReviewRepository
from microcred.licensure.adapters.report_repository import ReportRepository
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
from microcred.runtime.uow import MeteredUnitOfWork


class LicensureUnitOfWork(MeteredUnitOfWork[LicensureMetrics]):
    metrics_type = LicensureMetrics
    # What this transaction will observe once it commits; reset as each transaction binds its repositories.
    _award_to_credit: list[tuple[str, float]]
    rule_sets: RuleSetRepository
    licenses: LicenseRepository
    awards: AwardRepository
    credentials: CredentialVersionRepository
    ledger: LedgerRepository
    claims: ClaimRepository
    approvals: StateApprovalRepository
    webhooks: WebhookRepository
    reports: ReportRepository
    recognitions: RecognitionRepository
    memberships: MembershipRepository
    recognition_reports: RecognitionReportRepository
    reviews: RecognitionReviewRepository

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
        self.reports = ReportRepository(session)
        self.recognitions = RecognitionRepository(session)
        self.memberships = MembershipRepository(session)
        self.recognition_reports = RecognitionReportRepository(session)
        self.reviews = RecognitionReviewRepository(session)

    def note_award_to_credit(self, state: str, seconds: float) -> None:
        """Observed only if this transaction commits."""
        self._award_to_credit.append((state, seconds))

    def committed(self, events: tuple[IntegrationEvent, ...]) -> None:
        delays, self._award_to_credit = self._award_to_credit, []
        self.metrics.count_committed(events)
        for state, seconds in delays:
            self.metrics.award_to_credit.labels(state=state).observe(seconds)
