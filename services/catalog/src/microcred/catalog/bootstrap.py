"""Composition root: the only place that wires settings, adapters and entrypoints together.

The catalog consumes no events: it is the source the other services build their read models from.
Prerequisites are enforced by submission, from the pathway events published here and the award
events it already reads.
"""

from __future__ import annotations

from fastapi import FastAPI

from microcred.catalog.adapters.orm import messaging
from microcred.catalog.entrypoints.api import create_router
from microcred.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from microcred.catalog.settings import CatalogSettings
from microcred.catalog.topics import CONSUMES, PRODUCES
from microcred.runtime.service import ServiceRuntime
from microcred.runtime.settings import ServiceSettings


def build_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or CatalogSettings()
    runtime = ServiceRuntime(settings, tables=messaging, produces=PRODUCES, consumes=CONSUMES)
    uow = runtime.unit_of_work(CatalogUnitOfWork)
    return runtime.create_app(
        create_router(uow),
        title="Microcred catalog",
        description=(
            "Micro-credentials with an approval workflow (draft, in review, changes requested, approved, "
            "published, retired), issuers and their staff, stacks, pathways, search, and catalog import/export. "
            "Emits catalog.credential-published, catalog.credential-retired, catalog.stack-changed and "
            "catalog.pathway-changed."
        ),
    )
