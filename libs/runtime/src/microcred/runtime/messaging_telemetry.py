"""Kafka spans after the OpenTelemetry messaging semantic conventions, one trace from request to credit.

The relay publishes in a ``send`` span (kind PRODUCER) whose parent is the context the outbox row captured
when the event was written (the request's span, or the ``process`` span of the message that caused it).
The ``send`` span is the message's creation context: its ``traceparent`` replaces the captured one in the
record's headers. Each consumer handles the record in a ``process`` span (kind CONSUMER) that continues
that trace (its parent is the ``send`` span) and also links to it, as the conventions ask of a process span.
Continuing rather than only linking is the choice here because each record has exactly one cause: an
operator opening a submission's trace sees submit, assignment, scoring, award and credit as one tree.
Everything the handler writes (outbox rows, dead letters) is written inside the ``process`` span.

Why not FastStream's ``KafkaTelemetryMiddleware``: it names spans ``<topic> publish`` and ``<topic> process``
(the pre-1.26 shape), reads the destination of a consumed message into ``messaging.destination_publish.name``,
sets no consumer group, and puts the record key in as bytes, which the SDK drops as an invalid attribute.
Attribute names follow semantic conventions 1.27 (``messaging.operation.type``, ``messaging.consumer.group.name``,
``messaging.kafka.offset``), the names current Kafka instrumentations emit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from faststream import BaseMiddleware
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

INSTRUMENTATION = "microcred.runtime.messaging"
SYSTEM = "kafka"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode(errors="replace")
    return str(value)


def _present(values: dict[str, Any]) -> dict[str, Any]:
    """The attributes that apply: the conventions say to leave out, not to blank, what a message lacks."""
    return {name: value for name, value in values.items() if value is not None}


def send_attributes(topic: str, key: Any, partition: int | None, headers: dict[str, Any], client_id: str | None
                    ) -> dict[str, Any]:
    return {
        "messaging.system": SYSTEM,
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": topic,
        **_present({
            "messaging.kafka.message.key": _text(key),
            "messaging.destination.partition.id": None if partition is None else str(partition),
            "messaging.message.id": _text(headers.get("ce_id")),
            "messaging.message.conversation_id": _text(headers.get("correlation_id")),
            "messaging.client.id": client_id,
        }),
    }


def process_attributes(record: Any, group: str | None, client_id: str | None) -> dict[str, Any]:
    headers = {name: value for name, value in record.headers or ()}
    return {
        "messaging.system": SYSTEM,
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": record.topic,
        "messaging.destination.partition.id": str(record.partition),
        "messaging.kafka.offset": record.offset,
        "messaging.message.body.size": len(record.value or b""),
        **_present({
            "messaging.kafka.message.key": _text(record.key),
            "messaging.consumer.group.name": group,
            "messaging.message.id": _text(headers.get("ce_id")),
            "messaging.message.conversation_id": _text(headers.get("correlation_id")),
            "messaging.client.id": client_id,
        }),
    }


class MessagingTelemetry:
    """A broker middleware factory: ``KafkaBroker(middlewares=[MessagingTelemetry(provider), ...])``."""

    def __init__(self, tracer_provider: trace.TracerProvider, *, client_id: str | None = None) -> None:
        self.tracer = tracer_provider.get_tracer(INSTRUMENTATION)
        self.client_id = client_id

    def __call__(self, msg: Any, /, *, context: Any) -> _TelemetryMiddleware:
        return _TelemetryMiddleware(msg, context=context, telemetry=self)

    @contextmanager
    def processing(self, record: Any, group: str | None) -> Iterator[trace.Span]:
        """The ``process`` span of one consumed record, current while its handler runs: the middleware's for the
        record FastStream delivers, and the consumer's own for each record a batch takes past FastStream."""
        carrier = {name: _text(value) for name, value in record.headers or ()}
        creation = propagate.extract(carrier)
        created_by = trace.get_current_span(creation).get_span_context()
        links = [Link(created_by)] if created_by.is_valid else None
        attributes = process_attributes(record, group, self.client_id)
        span = self.tracer.start_span(f"process {record.topic}", context=creation, kind=SpanKind.CONSUMER,
                                      attributes=attributes, links=links)
        token = otel_context.attach(trace.set_span_in_context(span, creation))
        try:
            yield span
        except Exception as exc:
            span.set_attribute("error.type", type(exc).__qualname__)
            span.set_status(Status(StatusCode.ERROR, str(exc)[:200]))
            raise
        finally:
            otel_context.detach(token)
            span.end()


class _TelemetryMiddleware(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: Any, telemetry: MessagingTelemetry) -> None:
        super().__init__(msg, context=context)
        self.telemetry = telemetry

    async def publish_scope(self, call_next: Any, cmd: Any) -> Any:
        topic = cmd.destination
        headers: dict[str, Any] = dict(cmd.headers or {})
        attributes = send_attributes(topic, cmd.key, getattr(cmd, "partition", None), headers,
                                     self.telemetry.client_id)
        # The parent is whatever is current: the context the relay re-attached from the outbox row, or the
        # process span of the message being handled (a dead letter).
        with self.telemetry.tracer.start_as_current_span(f"send {topic}", kind=SpanKind.PRODUCER,
                                                         attributes=attributes) as span:
            # The send span is the creation context consumers continue: it replaces the captured traceparent.
            propagate.inject(headers)
            cmd.headers = headers
            try:
                return await call_next(cmd)
            except Exception as exc:
                span.set_attribute("error.type", type(exc).__qualname__)
                raise

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        record = msg.raw_message
        if isinstance(record, tuple):  # a batch subscriber; Microcred has none, and they get no span here
            return await call_next(msg)
        # aiokafka keeps the group only in a private attribute; without it the span just lacks the group.
        group = getattr(getattr(msg, "consumer", None), "_group_id", None)
        with self.telemetry.processing(record, group):
            return await call_next(msg)
