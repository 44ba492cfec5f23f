"""Builds a service's Kafka broker: TLS/SASL, acks=all producer, tracing, metrics, reliability, publishers.

Publishers are declared per event type a service produces, and the outbox relay publishes through
them; the service's AsyncAPI document is written from the contracts (``runtime.asyncapi``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from microcred.events import IntegrationEvent
from microcred.events.registry import PER_STATE_EVENTS
from microcred.runtime.asyncapi import Subscription
from microcred.runtime.consumer import ConsumerPolicy
from microcred.runtime.kafka_clients import faststream_security
from microcred.runtime.messaging_telemetry import MessagingTelemetry
from microcred.runtime.relay import Publish
from microcred.runtime.settings import ServiceSettings


class MicrocredKafkaBroker(KafkaBroker):
    """FastStream's Kafka broker, starting its subscribers concurrently rather than one by one.

    Each subscriber's aiokafka consumer waits for its group join in ``start()``, and a broker may hold a
    first join for seconds (Tansu: about 5 s). One after another, a service with seven subscribers took
    35 s to become ready; together it takes one join. Otherwise this is FastStream's own ``start``.
    """

    #: Set by :func:`create_broker`; ``subscribe`` reads its consumer settings from here.
    consumer_policy: ConsumerPolicy | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: What ``subscribe`` registered, for the service's AsyncAPI document.
        self.subscriptions: list[Subscription] = []

    async def start(self) -> None:
        if self.consumer_policy is not None:
            self.consumer_policy.committer.open()
        await self.connect()
        await asyncio.gather(*(subscriber.start() for subscriber in self.subscribers))
        for publisher in self.publishers:
            await publisher.start()
        self.running = True

    async def stop(self, *args: Any, **kwargs: Any) -> None:
        # The handled offsets not yet committed go out while the consumers still hold their partitions.
        if self.consumer_policy is not None:
            await self.consumer_policy.committer.close()
        await super().stop(*args, **kwargs)


def create_broker(
    settings: ServiceSettings,
    *,
    tracer_provider: TracerProvider,
    registry: CollectorRegistry,
) -> tuple[MicrocredKafkaBroker, ConsumerPolicy]:
    policy = ConsumerPolicy(
        service=settings.service_name,
        registry=registry,
        max_attempts=settings.consumer_max_attempts,
        retry_base_seconds=settings.consumer_retry_base_seconds,
        retry_max_seconds=settings.consumer_retry_max_seconds,
        commit_interval_seconds=settings.consumer_commit_interval_seconds,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        workers_per_topic=settings.consumer_workers_per_topic,
        batch_max_records=settings.consumer_batch_max_records,
    )
    client_id = settings.kafka_client_id or f"microcred-{settings.service_name}"
    # Also the consumer's, for the process spans of the records a batch takes past the middlewares.
    policy.telemetry = telemetry = MessagingTelemetry(tracer_provider, client_id=client_id)
    broker = MicrocredKafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=client_id,
        # TLS and SASL for the producer, every subscriber's consumer and the admin client FastStream opens.
        security=faststream_security(settings),
        # Idempotent producers are not available on every Kafka-protocol broker (Tansu answers
        # InitProducerId with an error); acks=all plus idempotent consumers gives the same outcome.
        acks="all",
        middlewares=[
            # Outermost, so retries, dead letters and everything a handler writes happen inside its span.
            telemetry,
            KafkaPrometheusMiddleware(registry=registry, app_name=settings.service_name),
            policy.middleware(),
        ],
        logger=None,
    )
    policy.broker = broker
    broker.consumer_policy = policy
    return broker, policy


def declare_publishers(broker: KafkaBroker, produces: Iterable[type[IntegrationEvent]]) -> Publish:
    publishers = {
        cls.topic: broker.publisher(cls.topic)
        for cls in produces
    }

    # Contracts that route each record to a topic of its own under their prefix (a state's feed).
    prefixes = tuple(f"{cls.topic}." for cls in produces if cls in PER_STATE_EVENTS)

    async def publish(
        topic: str, key: bytes, value: bytes, headers: Mapping[str, str]
    ) -> asyncio.Future[Any]:
        publisher = publishers.get(topic)
        if publisher is None:
            if not topic.startswith(prefixes):
                raise KeyError(f"this service does not produce to topic {topic!r}")
            # Per-record topics cannot be declared up front; the broker-level publish applies the same
            # middlewares (tracing, metrics) as a declared publisher.
            return await broker.publish(  # type: ignore[no-any-return]
                value, topic=topic, key=key, headers=dict(headers), correlation_id=headers.get("correlation_id"),
                no_confirm=True,
            )
        return await publisher.publish(
            value,
            key=key,
            headers=dict(headers),
            correlation_id=headers.get("correlation_id"),
            no_confirm=True,
        )

    return publish

