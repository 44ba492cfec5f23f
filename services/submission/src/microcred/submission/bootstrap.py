"""Composition root: the only place that wires settings, adapters and entrypoints together."""

from __future__ import annotations

from fastapi import FastAPI

from microcred.events import SubmissionSubmitted
from microcred.runtime.service import ServiceRuntime
from microcred.runtime.settings import ServiceSettings
from microcred.submission.adapters.evidence_store import EvidenceStore
from microcred.submission.adapters.orm import messaging
from microcred.submission.entrypoints.api import create_router
from microcred.submission.entrypoints.consumers import register_consumers
from microcred.submission.service_layer.handlers import EvidencePolicy, EvidenceStorage
from microcred.submission.service_layer.unit_of_work import SubmissionUnitOfWork
from microcred.submission.settings import SubmissionSettings

PRODUCES = (SubmissionSubmitted,)


def build_app(settings: ServiceSettings | None = None, store: EvidenceStorage | None = None) -> FastAPI:
    if not isinstance(settings, SubmissionSettings):
        # run_service passes the settings it built; anything else (None, a bare ServiceSettings) is
        # re-read from the environment so the S3 fields exist.
        settings = SubmissionSettings()
    runtime = ServiceRuntime(settings, tables=messaging, produces=PRODUCES)
    uow = runtime.unit_of_work(SubmissionUnitOfWork)
    register_consumers(runtime.broker, uow)
    policy = EvidencePolicy(
        max_bytes=settings.max_evidence_bytes,
        upload_url_ttl_seconds=settings.upload_url_ttl_seconds,
        download_url_ttl_seconds=settings.download_url_ttl_seconds,
    )
    return runtime.create_app(
        create_router(uow, store or EvidenceStore(settings), policy),
        title="Microcred submission",
        description=(
            "Teachers gather evidence for a micro-credential (uploaded straight to the object store with "
            "presigned URLs) and submit it for review. Submitting emits submission.submitted."
        ),
    )
