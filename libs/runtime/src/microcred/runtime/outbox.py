"""How an event becomes an outbox row: the exact bytes, key and headers the relay will publish.

Headers follow the CloudEvents Kafka protocol binding (binary mode: ``ce_*`` headers describe the
event, the value is its JSON), so subscribers can use standard CloudEvents tooling. The W3C trace
context of the writing request or message is stored with the row (see telemetry).
"""

from __future__ import annotations

from typing import Any

from microcred.events import IntegrationEvent
from microcred.runtime.telemetry import current_trace_headers

CONTENT_TYPE = "application/json"


def cloudevents_headers(event: IntegrationEvent, source: str) -> dict[str, str]:
    return {
        "ce_specversion": "1.0",
        "ce_id": str(event.event_id),
        "ce_type": f"{event.event_type}.v{event.event_version}",
        "ce_source": f"/microcred/{source}",
        "ce_time": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "ce_subject": event.record_key().decode(),
        "content-type": CONTENT_TYPE,
        "correlation_id": str(event.correlation_id),
    }


def outbox_row(event: IntegrationEvent, source: str) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "topic": event.destination_topic(),
        "key": event.record_key(),
        "payload": event.to_json(),
        "headers": cloudevents_headers(event, source) | current_trace_headers(),
    }
