"""Composition root: the only place that wires settings, adapters and entrypoints together."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from microcred.events import ReviewerAssigned, RevisionRequested, SubmissionScored
from microcred.review.adapters.orm import messaging
from microcred.review.entrypoints.api import create_router
from microcred.review.entrypoints.consumers import register_consumers
from microcred.review.service_layer.unit_of_work import ReviewUnitOfWork
from microcred.review.settings import ReviewSettings
from microcred.runtime.service import ServiceRuntime
from microcred.runtime.settings import ServiceSettings

PRODUCES = (ReviewerAssigned, SubmissionScored, RevisionRequested)


def build_app(settings: ServiceSettings | None = None) -> FastAPI:
    if not isinstance(settings, ReviewSettings):
        # A plain ServiceSettings (e.g. from a generic test harness) lacks review's own fields.
        settings = ReviewSettings() if settings is None else ReviewSettings.model_validate(settings.model_dump())
    runtime = ServiceRuntime(settings, tables=messaging, produces=PRODUCES)
    uow = runtime.unit_of_work(ReviewUnitOfWork)
    due_in = timedelta(days=settings.review_due_days)
    register_consumers(runtime.broker, uow, due_in=due_in)
    return runtime.create_app(
        create_router(uow, due_in=due_in),
        title="Microcred review",
        description=(
            "Routes each submitted attempt to a certified reviewer and records rubric scores; a withdrawn "
            "attempt's open review is cancelled. "
            "Emits review.assigned, review.scored and review.revise-requested."
        ),
    )
