"""Composition root: the only place that wires settings, adapters and entrypoints together.

The catalog consumes no events yet; prerequisites (earned credentials from award events) come with
the pathways work.
"""

from __future__ import annotations

from fastapi import FastAPI

from microcred.catalog.adapters.orm import messaging
from microcred.catalog.entrypoints.api import create_router
from microcred.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from microcred.catalog.settings import CatalogSettings
from microcred.events import CredentialPublished
from microcred.runtime.service import ServiceRuntime
from microcred.runtime.settings import ServiceSettings

PRODUCES = (CredentialPublished,)


def build_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or CatalogSettings()
    runtime = ServiceRuntime(settings, tables=messaging, produces=PRODUCES)
    uow = runtime.unit_of_work(CatalogUnitOfWork)
    return runtime.create_app(
        create_router(uow),
        title="Microcred catalog",
        description="Micro-credentials, rubrics and issuers. Publishing a version emits catalog.credential-published.",
    )
