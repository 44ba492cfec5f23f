"""Composition root: the only place that wires settings, adapters and entrypoints together."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from fastapi import FastAPI

from microcred.runtime.gauges import refresh_periodically
from microcred.runtime.service import ServiceRuntime
from microcred.runtime.settings import ServiceSettings
from microcred.submission.adapters.evidence_store import EvidenceStore
from microcred.submission.adapters.media_probe import PyAVMediaProbe
from microcred.submission.adapters.metrics import SubmissionMetrics
from microcred.submission.adapters.orm import messaging
from microcred.submission.adapters.repository import CredentialVersions
from microcred.submission.entrypoints.api import create_router
from microcred.submission.entrypoints.consumers import register_consumers
from microcred.submission.entrypoints.scheduler import keep_abandoned_upload_rule, run_sweeps
from microcred.submission.service_layer.handlers import refresh_gauges
from microcred.submission.service_layer.storage import EvidencePolicy, EvidenceStorage, MediaProbe, RetentionPolicy
from microcred.submission.service_layer.unit_of_work import SubmissionUnitOfWork
from microcred.submission.settings import SubmissionSettings
from microcred.submission.topics import CONSUMES, PRODUCES


def build_app(
    settings: ServiceSettings | None = None,
    store: EvidenceStorage | None = None,
    probe: MediaProbe | None = None,
) -> FastAPI:
    if not isinstance(settings, SubmissionSettings):
        # run_service passes the settings it built; anything else (None, a bare ServiceSettings) is
        # re-read from the environment so the S3 fields exist.
        settings = SubmissionSettings()
    runtime = ServiceRuntime(settings, tables=messaging, produces=PRODUCES, consumes=CONSUMES)
    uow = runtime.unit_of_work(partial(
        SubmissionUnitOfWork, metrics=SubmissionMetrics(runtime.registry), credential_versions=CredentialVersions()
    ))
    register_consumers(runtime.broker, uow)
    evidence_store = EvidenceStore(settings)
    runtime.close_at_shutdown(evidence_store.close)
    storage: EvidenceStorage = store or evidence_store
    media: MediaProbe = probe or PyAVMediaProbe(evidence_store.read_range, max_read_bytes=settings.probe_max_read_bytes)
    policy = EvidencePolicy(
        max_bytes=settings.max_evidence_bytes,
        upload_url_ttl_seconds=settings.upload_url_ttl_seconds,
        download_url_ttl_seconds=settings.download_url_ttl_seconds,
        single_upload_max_bytes=settings.single_upload_max_bytes,
        part_size_bytes=settings.part_size_bytes,
    )
    retention = RetentionPolicy(
        evidence_retention=timedelta(hours=settings.evidence_retention_hours),
        orphan_upload_age=timedelta(hours=settings.orphan_upload_hours),
    )

    # Retention and orphan sweeps run for the app's lifetime, inside the runtime's lifespan.
    async def sweep_evidence() -> None:
        await run_sweeps(uow, storage, retention, settings.sweep_interval_seconds)

    async def refresh_domain_gauges() -> None:
        await refresh_periodically(lambda: refresh_gauges(uow()), settings.gauge_refresh_interval_seconds)

    runtime.run_in_background(sweep_evidence)
    if store is None:

        async def remove_sealed_uploads() -> None:
            await evidence_store.remove_queued_periodically(settings.upload_removal_interval_seconds)

        runtime.run_in_background(remove_sealed_uploads)
    rule_days = settings.s3_abort_incomplete_upload_days
    if rule_days is not None and store is None:

        async def keep_bucket_rule() -> None:
            await keep_abandoned_upload_rule(evidence_store.ensure_abandoned_upload_rule, rule_days)

        runtime.run_in_background(keep_bucket_rule)
    runtime.run_in_background(refresh_domain_gauges)
    return runtime.create_app(
        create_router(uow, storage, policy, media, retention),
        title="Microcred submission",
        description=(
            "Teachers gather evidence for a micro-credential (uploaded straight to the object store with "
            "presigned URLs, in parts above the single-upload size), answer its prompts and submit it for "
            "review. Submitting emits submission.submitted; withdrawing emits submission.withdrawn."
        ),
    )
