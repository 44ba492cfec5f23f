"""Composition root: the only place that wires settings, adapters and entrypoints together."""

from __future__ import annotations

from fastapi import FastAPI

from microcred.events import CreditPosted
from microcred.licensure.adapters.orm import messaging
from microcred.licensure.entrypoints.api import create_router
from microcred.licensure.entrypoints.consumers import register_consumers
from microcred.licensure.service_layer.unit_of_work import LicensureUnitOfWork
from microcred.licensure.settings import LicensureSettings
from microcred.runtime.service import ServiceRuntime
from microcred.runtime.settings import ServiceSettings

PRODUCES = (CreditPosted,)


def build_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or LicensureSettings()
    runtime = ServiceRuntime(settings, tables=messaging, produces=PRODUCES)
    uow = runtime.unit_of_work(LicensureUnitOfWork)
    register_consumers(runtime.broker, uow)
    return runtime.create_app(
        create_router(uow),
        title="Microcred licensure",
        description="Licenses, state rule sets and the credit ledger; emits licensure.credit-posted.",
    )
