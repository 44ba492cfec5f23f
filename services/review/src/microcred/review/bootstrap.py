"""Composition root: the only place that wires settings, adapters and entrypoints together."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from microcred.review.adapters.metrics import ReliabilityGauges, ReviewMetrics
from microcred.review.adapters.orm import messaging
from microcred.review.adapters.repository import CredentialRubrics
from microcred.review.domain.model import BusinessDays, DoubleScoringPolicy
from microcred.review.domain.reliability import Thresholds
from microcred.review.entrypoints.api import create_router
from microcred.review.entrypoints.consumers import register_consumers
from microcred.review.service_layer.handlers import ReliabilityMonitor, refresh_gauges, run_overdue_sweeps
from microcred.review.service_layer.unit_of_work import ReviewUnitOfWork
from microcred.review.settings import ReviewSettings
from microcred.review.topics import CONSUMES, PRODUCES
from microcred.runtime.gauges import refresh_periodically
from microcred.runtime.service import ServiceRuntime
from microcred.runtime.settings import ServiceSettings


def build_app(settings: ServiceSettings | None = None) -> FastAPI:
    if not isinstance(settings, ReviewSettings):
        # A plain ServiceSettings (e.g. from a generic test harness) lacks review's own fields.
        settings = ReviewSettings() if settings is None else ReviewSettings.model_validate(settings.model_dump())
    runtime = ServiceRuntime(settings, tables=messaging, produces=PRODUCES, consumes=CONSUMES)
    uow = runtime.unit_of_work(partial(
        ReviewUnitOfWork, metrics=ReviewMetrics(runtime.registry), credential_rubrics=CredentialRubrics()
    ))
    due_in = BusinessDays(settings.review_due_business_days)
    register_consumers(
        runtime.broker,
        uow,
        due_in=due_in,
        fresh_eyes=settings.fresh_eyes_on_resubmission,
        double_scoring=DoubleScoringPolicy(settings.calibration_size, settings.double_score_share),
        block_flagged=settings.block_flagged_reviewers,
    )
    block_flagged = settings.block_flagged_reviewers
    monitor = ReliabilityMonitor(
        Thresholds(settings.min_kappa, settings.min_agreement, settings.min_pairs_for_flag),
        ReliabilityGauges(runtime.registry),
    )
    interval = settings.overdue_sweep_interval_seconds

    # Overdue assignments are taken back on a timer for the app's lifetime, inside the runtime's lifespan.
    async def sweep_overdue_assignments() -> None:
        await run_overdue_sweeps(uow, due_in, interval, block_flagged=block_flagged)

    promise = BusinessDays(settings.decision_promise_business_days)

    async def refresh_queue_gauges() -> None:
        await refresh_periodically(lambda: refresh_gauges(uow(), promise), settings.gauge_refresh_interval_seconds)

    runtime.run_in_background(sweep_overdue_assignments)
    runtime.run_in_background(refresh_queue_gauges)
    return runtime.create_app(
        create_router(uow, due_in=due_in, block_flagged=block_flagged, monitor=monitor),
        title="Microcred review",
        description=(
            "Routes each submitted attempt to a certified, available reviewer without a conflict of interest "
            "and records rubric scores, double scoring calibration and sampled attempts with senior adjudication "
            "of disagreements and monitoring reviewer reliability; a declined or overdue assignment is reassigned, and a withdrawn "
            "attempt's open review is cancelled. "
            "Emits review.assigned, review.released, review.scored and review.revise-requested."
        ),
    )
