"""Composition root: the only place that wires settings, adapters and entrypoints together."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from microcred.award.adapters.keys import KeyCipher
from microcred.award.adapters.metrics import AwardMetrics
from microcred.award.adapters.orm import messaging
from microcred.award.domain.model import PublicUrls
from microcred.award.entrypoints.api import create_router
from microcred.award.entrypoints.consumers import register_consumers
from microcred.award.service_layer.signing import IssuingAuthority
from microcred.award.service_layer.unit_of_work import AwardUnitOfWork
from microcred.award.settings import AwardSettings
from microcred.award.topics import CONSUMES, PRODUCES
from microcred.runtime.service import ServiceRuntime
from microcred.runtime.settings import ServiceSettings


def build_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or AwardSettings()
    if not isinstance(settings, AwardSettings):
        raise TypeError("the award service needs AwardSettings (it carries the identity secret and signing keys)")
    runtime = ServiceRuntime(settings, tables=messaging, produces=PRODUCES, consumes=CONSUMES)
    # One set of metrics: the authority times signing and verification, the unit of work counts awards.
    metrics = AwardMetrics(runtime.registry)
    uow = runtime.unit_of_work(partial(AwardUnitOfWork, metrics=metrics))
    authority = IssuingAuthority(
        urls=PublicUrls(settings.base_url),
        cipher=KeyCipher(settings.key_encryption_key),
        key_scope=settings.signing_key_scope,
        identity_secret=settings.identity_salt,
        metrics=metrics,
    )
    register_consumers(runtime.broker, uow, authority)
    return runtime.create_app(
        create_router(uow, authority, status_list_max_age=settings.status_list_max_age_seconds),
        title="Microcred award",
        description=(
            "Issues signed Open Badges 3.0 credentials (eddsa-rdfc-2022) for passed submissions and completed "
            "stacks and pathways; publishes verification pages, issuer keys and Bitstring Status Lists; "
            "emits award.awarded, award.collection-awarded, award.revoked, award.suspended, award.reinstated."
        ),
    )
