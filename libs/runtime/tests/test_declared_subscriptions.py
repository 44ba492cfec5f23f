"""A service's app is built only when the consumers it registers are the ones it declares (its topics.CONSUMES):
the Kafka topics and ACLs of a cluster are generated from that declaration, so the two must be one fact."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
import sqlalchemy as sa

from microcred.events import CredentialAwarded, CredentialPublished, IntegrationEvent
from microcred.runtime.consumer import subscribe
from microcred.runtime.messaging_tables import define_messaging_tables
from microcred.runtime.service import ServiceRuntime
from microcred.runtime.settings import ServiceSettings


def runtime(consumes: Iterable[type[IntegrationEvent]] | None) -> ServiceRuntime:
    return ServiceRuntime(ServiceSettings(service_name="licensure", auth_jwks_url="file:///nonexistent/jwks.json"),
                          tables=define_messaging_tables(sa.MetaData()), produces=(), consumes=consumes)


async def handle(event: IntegrationEvent) -> None:
    return None


def test_an_app_whose_consumers_are_its_declaration_builds() -> None:
    service = runtime([CredentialAwarded])
    subscribe(service.broker, CredentialAwarded, group_id="licensure")(handle)
    service.create_app(title="t")


@pytest.mark.parametrize(("registered", "group", "missing_or_extra"), [
    ([CredentialAwarded, CredentialPublished], "licensure", "CredentialPublished as licensure.catalog"),
    ([], "licensure", "declared but not registered ['CredentialAwarded"),
    ([CredentialAwarded], "award", "CredentialAwarded as award.award.awarded"),
])
def test_an_app_registering_other_consumers_or_groups_than_it_declares_is_refused(
    registered: list[type[IntegrationEvent]], group: str, missing_or_extra: str,
) -> None:
    service = runtime([CredentialAwarded])
    for cls in registered:
        subscribe(service.broker, cls, group_id=group)(handle)
    with pytest.raises(RuntimeError, match="differ from its declared CONSUMES") as refused:
        service.create_app(title="t")
    assert missing_or_extra in str(refused.value)


def test_a_runtime_without_a_declaration_is_not_checked() -> None:
    service = runtime(None)
    subscribe(service.broker, CredentialAwarded, group_id="anything")(handle)
    service.create_app(title="t")
