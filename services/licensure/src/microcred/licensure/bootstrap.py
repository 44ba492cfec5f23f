"""Composition root: the only place that wires settings, adapters and entrypoints together."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from functools import partial

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from microcred.licensure.adapters.feed_topics import ensure_state_topics
from microcred.licensure.adapters.metrics import LicensureMetrics
from microcred.licensure.adapters.orm import messaging
from microcred.licensure.adapters.program_files import load_programs
from microcred.licensure.adapters.rule_files import shipped_rule_sets
from microcred.licensure.adapters.webhook_sender import WebhookSender
from microcred.licensure.entrypoints.api import create_router
from microcred.licensure.entrypoints.consumers import register_consumers
from microcred.licensure.entrypoints.recognition_decisions_api import create_recognition_decisions_router
from microcred.licensure.entrypoints.recognitions_api import create_recognition_router
from microcred.licensure.entrypoints.webhooks_api import create_webhook_router
from microcred.licensure.service_layer import handlers, recognition_reviews, webhooks
from microcred.licensure.service_layer.unit_of_work import LicensureUnitOfWork
from microcred.licensure.settings import LicensureSettings
from microcred.licensure.topics import CONSUMES, PRODUCES
from microcred.runtime.gauges import refresh_periodically
from microcred.runtime.service import ServiceRuntime
from microcred.runtime.settings import ServiceSettings

log = logging.getLogger(__name__)


async def provision(settings: ServiceSettings) -> None:
    """After migrations: add the shipped rule set versions the database lacks (once per deployment)."""
    engine = create_async_engine(settings.database_url)
    try:
        uow = LicensureUnitOfWork(async_sessionmaker(engine, expire_on_commit=False), messaging,
                                  settings.service_name)
        added = await handlers.sync_shipped_rule_sets(shipped_rule_sets(), uow)
        log.info("shipped rule sets in place (%d versions added)", added)
    finally:
        await engine.dispose()


def build_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or LicensureSettings()
    if not isinstance(settings, LicensureSettings):
        raise TypeError("the licensure service needs LicensureSettings")
    runtime = ServiceRuntime(settings, tables=messaging, produces=PRODUCES, consumes=CONSUMES)
    uow = runtime.unit_of_work(partial(LicensureUnitOfWork, metrics=LicensureMetrics(runtime.registry)))
    # Programs are files in the image (and a deployment's folder): immutable while the service runs, so read
    # once here, where a bad file stops the start, not at the first award.
    programs = load_programs(settings.extra_programs_dir)
    log.info("%d recognition program versions loaded", len(programs))
    register_consumers(runtime.broker, uow, programs)

    async def ensure_topics(states: list[str]) -> None:
        if settings.create_state_topics:
            await ensure_state_topics(settings, states, settings.state_topic_partitions)

    async def ensure_topics_at_start() -> None:
        async with uow() as work:
            states = sorted({rule_set.state for rule_set in await work.rule_sets.all()})
        try:
            await ensure_topics(states)
        except Exception:
            # The relay retries records for a missing topic; an operator sees this and the relay backlog.
            log.exception("could not create the state feed topics %s", states)

    async def deliver_webhooks() -> None:
        sender = WebhookSender()
        try:
            await webhooks.run_worker(uow, sender, settings)
        finally:
            await sender.aclose()

    async def sweep_expired_credentials() -> None:
        batch = 200
        while True:
            try:
                # A full batch means more may be waiting (say, the first pass after a long outage): go on at
                # once, one bounded transaction at a time, rather than a batch per interval.
                while True:
                    swept = await handlers.sweep_expired_credentials(uow(), limit=batch)
                    if swept.announced:
                        log.info("announced %d expiries to the state feeds (%d credits reversed)", swept.announced,
                                 swept.reversed)
                    if swept.announced < batch:
                        break
            except Exception:
                # Typically the database is unreachable; the next pass catches up, so log and carry on.
                log.exception("expiry sweep failed; retrying at the next interval")
            await asyncio.sleep(settings.expiry_sweep_interval_seconds)

    async def review_recognitions() -> None:
        batch = settings.recognition_review_batch
        while True:
            try:
                # As the expiry sweep: a full batch means more are due (a stack held by thousands), so go on
                # at once, one bounded transaction at a time.
                while await recognition_reviews.review_due(uow(), programs, limit=batch) >= batch:
                    pass
            except Exception:
                log.exception("a recognition review batch failed; reviewing its teachers one at a time")
                try:
                    await recognition_reviews.review_each(uow, programs, limit=batch, retry_after=timedelta(
                        seconds=settings.recognition_review_retry_after_seconds))
                except Exception:
                    log.exception("recognition review failed; retrying at the next interval")
            await asyncio.sleep(settings.recognition_review_interval_seconds)

    async def refresh_domain_gauges() -> None:
        await refresh_periodically(lambda: handlers.refresh_gauges(uow()), settings.gauge_refresh_interval_seconds)

    runtime.run_in_background(ensure_topics_at_start)
    runtime.run_in_background(refresh_domain_gauges)
    runtime.run_in_background(deliver_webhooks)
    runtime.run_in_background(sweep_expired_credentials)
    runtime.run_in_background(review_recognitions)
    return runtime.create_app(
        create_router(uow, ensure_topics=ensure_topics, programs=programs),
        create_webhook_router(uow, allow_http=settings.mode == "local"),
        create_recognition_router(uow, programs),
        create_recognition_decisions_router(uow, programs),
        title="Microcred licensure",
        description=(
            "State rule sets as data, licenses, the credit ledger with district approval and reversals, renewal "
            "progress and state reports; per-state feeds (Kafka topics licensure.state.<XX> and signed webhooks); "
            "emits licensure.credit-posted and licensure.credit-reversed."
        ),
    )
