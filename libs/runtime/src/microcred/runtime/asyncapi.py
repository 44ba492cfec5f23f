"""A service's AsyncAPI 3.0 document, built from the contracts it sends and receives, as they are on the wire.

FastStream can write one from the broker, but it names a per-state feed after its prefix (a topic that does
not exist) and knows nothing of the CloudEvents headers, the record key or the dead-letter companions. A
consumer written from this document alone must be able to read every record: so each channel gives its real
address (with a parameter where the topic is per state), each message its headers (``runtime.outbox``), its
key (the Kafka binding) and its payload (the contract's JSON Schema), and a contract that carries several
kinds of record (the state feed) gets one message per kind.

Payload schemas leave ``additionalProperties`` open on purpose: a published event version may grow by
optional fields (``events.snapshots``), and a reader built from this document must keep working when it does.
"""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from microcred.events import IntegrationEvent, dead_letter_topic
from microcred.events.registry import ALL_EVENTS, PER_STATE_EVENTS
from microcred.runtime.outbox import CONTENT_TYPE

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"

#: The per-state topic's parameter: where its value comes from, and what it may be.
STATE_PARAMETER = {
    "description": "The two-letter code of the state (upper case, e.g. TN): each state's records go to a topic "
    "of their own, so a Kafka ACL per topic gives a state agency its licensees' records and nobody else's.",
    "examples": ["TN", "UT", "AR"],
    "location": "$message.payload#/state",
}

_TRACE_HEADERS = {
    "traceparent": {
        "type": "string",
        "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
        "description": "W3C trace context of the request or message that wrote the event (absent if none).",
    },
    "tracestate": {"type": "string", "description": "W3C trace state, with traceparent."},
}


@dataclass(frozen=True)
class Subscription:
    """A contract a service consumes, and the consumer group it reads with."""

    contract: type[IntegrationEvent]
    group_id: str


def _name(cls: type[IntegrationEvent]) -> str:
    return f"{cls.model_fields['event_type'].default}.v{cls.model_fields['event_version'].default}"


def _version(cls: type[IntegrationEvent]) -> int:
    return int(cls.model_fields["event_version"].default)


def _earlier_versions(cls: type[IntegrationEvent]) -> list[type[IntegrationEvent]]:
    """Registered versions of the contract older than ``cls``: still decodable, so still on the topic."""
    event_type = cls.model_fields["event_type"].default
    return sorted((other for other in ALL_EVENTS if other.model_fields["event_type"].default == event_type
                   and _version(other) < _version(cls)), key=_version)


def _producer(cls: type[IntegrationEvent]) -> str:
    # Topics are named <producing service>.<event>: the CloudEvents source of every record on one.
    return cls.topic.split(".", 1)[0]


def channel_id(cls: type[IntegrationEvent]) -> str:
    return f"{cls.topic}-feed" if cls in PER_STATE_EVENTS else cls.topic


def channel_address(cls: type[IntegrationEvent]) -> str:
    return f"{cls.topic}.{{state}}" if cls in PER_STATE_EVENTS else cls.topic


class _Schemas:
    """Collects the contracts' nested models as ``components/schemas``: pydantic writes them under each
    schema's own ``$defs``, which a ``$ref`` inside the AsyncAPI document could not reach."""

    def __init__(self) -> None:
        self.shared: dict[str, dict[str, Any]] = {}

    def payload(self, cls: type[IntegrationEvent]) -> dict[str, Any]:
        schema = cls.model_json_schema(mode="serialization")
        renames: dict[str, str] = {}
        for name, definition in schema.pop("$defs", {}).items():
            target = name
            if target in self.shared and self.shared[target] != definition:
                target = f"{_name(cls)}.{name}"  # another contract's model of the same name
            renames[name] = target
            self.shared[target] = definition
        for name in renames:
            self.shared[renames[name]] = _open(_rewrite_refs(self.shared[renames[name]], renames))
        return _open(_rewrite_refs(schema, renames))


def _rewrite_refs(node: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            key: f"#/components/schemas/{renames[value.rsplit('/', 1)[-1]]}"
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/")
            else _rewrite_refs(value, renames)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    return node


def _open(node: Any) -> Any:
    """The schema without ``additionalProperties: false``: readers tolerate fields added by later producers."""
    if isinstance(node, dict):
        return {key: _open(value) for key, value in node.items()
                if not (key == "additionalProperties" and value is False)}
    if isinstance(node, list):
        return [_open(item) for item in node]
    return node


def _headers(cls: type[IntegrationEvent]) -> dict[str, Any]:
    source = f"/microcred/{_producer(cls)}"
    properties: dict[str, Any] = {
        "ce_specversion": {"type": "string", "const": "1.0", "description": "CloudEvents version (Kafka binding, "
                           "binary mode: these headers describe the event, the value is its data)."},
        "ce_id": {"type": "string", "format": "uuid", "description": "The event's id, the payload's event_id: "
                  "deduplicate on it (delivery is at least once)."},
        "ce_type": {"type": "string", "const": _name(cls), "description": "Event type and version."},
        "ce_source": {"type": "string", "const": source, "description": "The service that wrote the event."},
        "ce_time": {"type": "string", "format": "date-time", "description": "When it happened (occurred_at)."},
        "ce_subject": {"type": "string", "description": f"The record key: the event's {cls.key_field}."},
        "content-type": {"type": "string", "const": CONTENT_TYPE},
        "correlation_id": {"type": "string", "format": "uuid",
                           "description": "Shared by every event and request of one flow."},
        **_TRACE_HEADERS,
    }
    required = ["ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "ce_subject", "content-type",
                "correlation_id"]
    return {"type": "object", "properties": properties, "required": required}


def _key(cls: type[IntegrationEvent], payload: Mapping[str, Any]) -> dict[str, Any]:
    field = dict(payload["properties"][cls.key_field])
    field.pop("title", None)
    return field | {"description": f"UTF-8 text of the payload's {cls.key_field}: Kafka keeps the events of one "
                                   f"{cls.key_field} in order, in one partition."}


def _variants(cls: type[IntegrationEvent], payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One payload per kind of record the contract carries, or the contract's payload alone."""
    field = cls.record_kind_field
    if field is None:
        return {"": payload}
    variants = {}
    for kind, spec in cls.record_kinds.items():
        narrowed = copy.deepcopy(payload)
        narrowed["properties"][field] = {"type": "string", "const": kind}
        for name in spec.required:  # always has: present, and never null
            narrowed["properties"][name] = _not_null(narrowed["properties"][name])
        narrowed["required"] = sorted({*narrowed.get("required", ()), field, *spec.required})
        narrowed["title"] = f"{payload.get('title', cls.__name__)}: {kind}"
        narrowed["description"] = spec.description
        variants[kind] = narrowed
    return variants


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    branches = [branch for branch in schema.get("anyOf", ()) if branch != {"type": "null"}]
    if "anyOf" not in schema or len(branches) != 1:
        return schema
    rest = {key: value for key, value in schema.items() if key not in ("anyOf", "default")}
    return branches[0] | rest


def _doc(cls: type[IntegrationEvent]) -> str:
    return inspect.cleandoc(cls.__doc__ or "")


def _message(cls: type[IntegrationEvent], kind: str, payload: dict[str, Any], key: dict[str, Any]) -> dict[str, Any]:
    summary = _doc(cls).split("\n\n", 1)[0].replace("\n", " ")
    message: dict[str, Any] = {
        "name": _name(cls) + (f".{kind}" if kind else ""),
        "title": payload.get("title", cls.__name__),
        "summary": payload.get("description", summary) if kind else summary,
        "contentType": CONTENT_TYPE,
        "headers": _headers(cls),
        "payload": payload,
        "correlationId": {"location": "$message.header#/correlation_id"},
        "bindings": {"kafka": {"key": key, "bindingVersion": KAFKA_BINDING_VERSION}},
    }
    return message


def _dead_letters(cls: type[IntegrationEvent]) -> dict[str, Any]:
    return {
        "name": f"{_name(cls)}.dead-letter",
        "title": f"Dead letter of {cls.topic}",
        # The original value byte for byte, which may be anything (that can be why it is here): not JSON.
        "contentType": "application/octet-stream",
        "summary": "A record this service could not handle: the original key, value (unparsed: it may be why) and "
                   "headers, plus why. `microcred dead-letters list|replay` reads and replays them.",
        "payload": {"description": "The original record's value, byte for byte."},
        "headers": {
            "type": "object",
            "properties": {
                "dlt-reason": {"type": "string", "maxLength": 2000},
                "dlt-reason-kind": {"type": "string", "enum": ["poison", "handler-error"]},
                "dlt-original-topic": {"type": "string", "const": cls.topic},
                "dlt-original-partition": {"type": "string", "pattern": "^[0-9]+$"},
                "dlt-original-offset": {"type": "string", "pattern": "^[0-9]+$"},
                "dlt-consumer": {"type": "string"},
                "dlt-failed-at": {"type": "string", "format": "date-time"},
            },
            "required": ["dlt-reason", "dlt-reason-kind", "dlt-original-topic", "dlt-original-partition",
                         "dlt-original-offset", "dlt-consumer", "dlt-failed-at"],
        },
        "bindings": {"kafka": {"key": {"type": "string", "description": "The original record's key."},
                               "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text)


def asyncapi_document(
    service: str,
    produces: Iterable[type[IntegrationEvent]],
    subscriptions: Iterable[Subscription],
    *,
    version: str = "1.0.0",
) -> dict[str, Any]:
    schemas = _Schemas()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}

    def add_channel(cls: type[IntegrationEvent]) -> list[str]:
        channel = channel_id(cls)
        payload = schemas.payload(cls)
        key = _key(cls, payload)
        names = []
        for kind, variant in _variants(cls, payload).items():
            message = _message(cls, kind, variant, key)
            messages[message["name"]] = message
            names.append(message["name"])
        for earlier in _earlier_versions(cls):
            message = _message(earlier, "", schemas.payload(earlier), key)
            message["summary"] = (f"Version {_version(earlier)}, no longer written: records from before version "
                                  f"{_version(cls)} stay on the topic until its retention removes them.")
            messages[message["name"]] = message
            names.append(message["name"])
        entry: dict[str, Any] = {
            "address": channel_address(cls),
            "title": cls.topic,
            "description": _doc(cls),
            "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in names},
        }
        if cls in PER_STATE_EVENTS:
            entry["parameters"] = {"state": STATE_PARAMETER}
        else:
            entry["bindings"] = {"kafka": {"topic": cls.topic, "bindingVersion": KAFKA_BINDING_VERSION}}
        channels[channel] = entry
        return names

    def refs(channel: str, names: list[str]) -> dict[str, Any]:
        return {"channel": {"$ref": f"#/channels/{channel}"},
                "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"} for name in names]}

    for cls in produces:
        names = add_channel(cls)
        operations[_slug(f"send.{cls.topic}")] = {
            "action": "send",
            "summary": f"Written with the state change it reports (outbox) and published by the relay: "
                       f"at least once, in order per {cls.key_field}.",
            **refs(channel_id(cls), names),
        }
    for subscription in subscriptions:
        cls = subscription.contract
        known = channels.get(channel_id(cls))
        names = list(known["messages"]) if known else add_channel(cls)
        operations[_slug(f"receive.{cls.topic}")] = {
            "action": "receive",
            "summary": "Handled idempotently (an inbox of event ids), committed after the outcome; a record that "
                       "can never succeed, or fails every retry, goes to the dead-letter channel.",
            "bindings": {"kafka": {"groupId": {"type": "string", "enum": [subscription.group_id]},
                                   "bindingVersion": KAFKA_BINDING_VERSION}},
            **refs(channel_id(cls), names),
        }
        dead = dead_letter_topic(cls.topic)
        message = _dead_letters(cls)
        messages[message["name"]] = message
        channels[dead] = {
            "address": dead,
            "title": dead,
            "description": f"Records of {cls.topic} that {service} could not handle.",
            "messages": {message["name"]: {"$ref": f"#/components/messages/{message['name']}"}},
            "bindings": {"kafka": {"topic": dead, "bindingVersion": KAFKA_BINDING_VERSION}},
        }
        operations[_slug(f"send.{dead}")] = {"action": "send", **refs(dead, [message["name"]])}

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": f"Microcred {service}",
            "version": version,
            "description": f"The Kafka topics the {service} service writes and reads, as they are on the wire: "
                           "CloudEvents headers (binary mode), a UTF-8 key, a JSON value. Readers should ignore "
                           "fields they do not know: a published event version only ever grows by optional fields.",
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "kafka": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": "The operator's Kafka cluster.",
                "variables": {"bootstrap": {"description": "A bootstrap server, host:port."}},
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas.shared},
    }
