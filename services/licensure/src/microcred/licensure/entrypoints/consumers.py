"""Licensure subscribers: translate a decoded event into a use case. Ack policy and retries: runtime.consumer."""

from __future__ import annotations

from collections.abc import Callable

from faststream.kafka import KafkaBroker

from microcred.events import (
    CredentialAwarded,
    CredentialPublished,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
)
from microcred.licensure.service_layer import handlers
from microcred.licensure.service_layer.unit_of_work import LicensureUnitOfWork
from microcred.runtime.consumer import subscribe


def register_consumers(broker: KafkaBroker, uow: Callable[[], LicensureUnitOfWork]) -> None:
    @subscribe(broker, CredentialAwarded, group_id="licensure")
    async def on_credential_awarded(event: CredentialAwarded) -> None:
        await handlers.post_credits(event, uow())

    @subscribe(broker, CredentialRevoked, group_id="licensure")
    async def on_credential_revoked(event: CredentialRevoked) -> None:
        await handlers.record_revocation(event, uow())

    @subscribe(broker, CredentialSuspended, group_id="licensure")
    async def on_credential_suspended(event: CredentialSuspended) -> None:
        await handlers.record_status_change(event, uow())

    @subscribe(broker, CredentialReinstated, group_id="licensure")
    async def on_credential_reinstated(event: CredentialReinstated) -> None:
        await handlers.record_status_change(event, uow())

    @subscribe(broker, CredentialPublished, group_id="licensure")
    async def on_credential_published(event: CredentialPublished) -> None:
        await handlers.record_credential_version(event, uow())
