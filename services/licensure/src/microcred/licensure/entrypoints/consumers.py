"""Licensure subscribers: translate a decoded event into a use case. Ack policy and retries: runtime.consumer."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from faststream.kafka import KafkaBroker

from microcred.events import (
    CredentialAwarded,
    CredentialPublished,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
    PathwayChanged,
    StackChanged,
)
from microcred.licensure.domain.recognition import Program
from microcred.licensure.service_layer import handlers
from microcred.licensure.service_layer.unit_of_work import LicensureUnitOfWork
from microcred.runtime.consumer import subscribe


def register_consumers(broker: KafkaBroker, uow: Callable[[], LicensureUnitOfWork],
                       programs: Sequence[Program] = ()) -> None:
    """``programs``: every recognition program version the service knows; each change re-evaluates them."""

    @subscribe(broker, CredentialAwarded, group_id="licensure")
    async def on_credential_awarded(event: CredentialAwarded) -> None:
        await handlers.post_credits(event, uow(), programs)

    @subscribe(broker, CredentialRevoked, group_id="licensure")
    async def on_credential_revoked(event: CredentialRevoked) -> None:
        await handlers.record_revocation(event, uow(), programs)

    @subscribe(broker, CredentialSuspended, group_id="licensure")
    async def on_credential_suspended(event: CredentialSuspended) -> None:
        await handlers.record_status_change(event, uow(), programs)

    @subscribe(broker, CredentialReinstated, group_id="licensure")
    async def on_credential_reinstated(event: CredentialReinstated) -> None:
        await handlers.record_status_change(event, uow(), programs)

    @subscribe(broker, CredentialPublished, group_id="licensure")
    async def on_credential_published(event: CredentialPublished) -> None:
        await handlers.record_credential_version(event, uow())

    @subscribe(broker, StackChanged, group_id="licensure")
    async def on_stack_changed(event: StackChanged) -> None:
        await handlers.record_collection(event, uow(), programs)

    @subscribe(broker, PathwayChanged, group_id="licensure")
    async def on_pathway_changed(event: PathwayChanged) -> None:
        await handlers.record_collection(event, uow(), programs)
