"""Composition root: the only place that wires settings, adapters and entrypoints together."""

from __future__ import annotations

from fastapi import FastAPI

from microcred.award.adapters.orm import messaging
from microcred.award.entrypoints.api import create_router
from microcred.award.entrypoints.consumers import register_consumers
from microcred.award.service_layer.unit_of_work import AwardUnitOfWork
from microcred.award.settings import AwardSettings
from microcred.events import CredentialAwarded
from microcred.runtime.service import ServiceRuntime
from microcred.runtime.settings import ServiceSettings

PRODUCES = (CredentialAwarded,)


def build_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or AwardSettings()
    if not isinstance(settings, AwardSettings):
        raise TypeError("the award service needs AwardSettings (it carries the identity salt)")
    runtime = ServiceRuntime(settings, tables=messaging, produces=PRODUCES)
    uow = runtime.unit_of_work(AwardUnitOfWork)
    register_consumers(runtime.broker, uow, identity_salt=settings.identity_salt)
    return runtime.create_app(
        create_router(uow),
        title="Microcred award",
        description="Issues Open Badges 3.0 credentials for passed submissions; emits award.awarded.",
    )
