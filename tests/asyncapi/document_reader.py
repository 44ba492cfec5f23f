"""A Kafka reader written from an AsyncAPI document alone, as a state agency or an employer would write one.

It knows nothing of Microcred's code: given a service's document, it finds the channel a topic belongs to (an
address such as ``licensure.state.{state}`` is a template), and checks a record (its key, headers and value)
against that channel's messages, with the JSON Schemas the document holds. A record must match exactly one
message: a channel that carries several kinds of record (the state feed) must tell them apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

_PARAMETER = re.compile(r"\{([^{}]+)\}")
#: A test that writes a record no service would (a poison message, to see it dead-lettered) marks it with this
#: header: it is not the platform's, so no document describes it. Its dead-letter copy is the platform's.
TEST_POISON_HEADER = "microcred-test-poison"


class RecordRejected(AssertionError):
    """The record fits none of its channel's messages, or more than one."""


@dataclass(frozen=True)
class Channel:
    document: str
    channel_id: str
    address: str
    pattern: re.Pattern[str]
    messages: tuple[str, ...]  # component message names


def _pointer(ref: str) -> str:
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are expected, not {ref!r}")
    return ref[1:]


class DocumentReader:
    """Reads the topics that one or more AsyncAPI documents say their services send to."""

    def __init__(self, documents: Mapping[str, dict[str, Any]]) -> None:
        self.documents = dict(documents)
        resources = {self._uri(name): Resource(contents=document, specification=DRAFT202012)
                     for name, document in self.documents.items()}
        self._registry: Registry[Any] = Registry().with_resources(resources.items())
        self.channels: list[Channel] = []
        for name, document in self.documents.items():
            sent = {_pointer(op["channel"]["$ref"]) for op in document.get("operations", {}).values()
                    if op["action"] == "send"}
            for channel_id, channel in document.get("channels", {}).items():
                if f"/channels/{channel_id}" not in sent:
                    continue  # a channel the service reads is described by the service that writes it
                if any(self._same(known, name, channel) for known in self.channels):
                    continue  # a topic several services write alike (the dead letters of a topic they all read)
                self.channels.append(Channel(
                    document=name, channel_id=channel_id, address=channel["address"],
                    pattern=self._address_pattern(channel),
                    messages=tuple(_pointer(m["$ref"]).rsplit("/", 1)[-1] for m in channel["messages"].values()),
                ))
        self._validators: dict[tuple[str, str, str], Draft202012Validator] = {}

    def _same(self, known: Channel, document: str, channel: Mapping[str, Any]) -> bool:
        if known.address != channel["address"]:
            return False
        theirs = self.documents[document]["components"]["messages"]
        names = tuple(_pointer(m["$ref"]).rsplit("/", 1)[-1] for m in channel["messages"].values())
        return names == known.messages and all(theirs[n] == self._message(known.document, n) for n in names)

    @staticmethod
    def _uri(name: str) -> str:
        return f"urn:asyncapi:{name}"

    @staticmethod
    def _address_pattern(channel: Mapping[str, Any]) -> re.Pattern[str]:
        parameters = channel.get("parameters", {})
        used = _PARAMETER.findall(channel["address"])
        if set(used) != set(parameters):
            raise ValueError(f"address {channel['address']!r} uses {used}, parameters are {sorted(parameters)}")
        pattern = ""
        for literal, parameter in zip(_PARAMETER.split(channel["address"])[::2],
                                      [*used, None], strict=True):
            pattern += re.escape(literal)
            if parameter is not None:
                pattern += f"(?P<{parameter}>[^.]+)"
        return re.compile(pattern)

    def channel_of(self, topic: str) -> tuple[Channel, dict[str, str]]:
        found = [(c, m.groupdict()) for c in self.channels if (m := c.pattern.fullmatch(topic))]
        if len(found) != 1:
            raise RecordRejected(f"topic {topic!r} is sent to by {len(found)} documented channels, not one")
        return found[0]

    def _validator(self, document: str, message: str, part: str) -> Draft202012Validator:
        key = (document, message, part)
        if key not in self._validators:
            target = f"{self._uri(document)}#/components/messages/{message}/{part}"
            self._validators[key] = Draft202012Validator(
                {"$ref": target}, registry=self._registry, format_checker=Draft202012Validator.FORMAT_CHECKER
            )
        return self._validators[key]

    def _message(self, document: str, name: str) -> dict[str, Any]:
        return self.documents[document]["components"]["messages"][name]  # type: ignore[no-any-return]

    def check(self, topic: str, key: bytes | None, headers: Iterable[tuple[str, bytes]], value: bytes) -> str:
        """The name of the one message the record is; raises :class:`RecordRejected` with every reason."""
        channel, parameters = self.channel_of(topic)
        header_values = {name: raw.decode() for name, raw in headers}
        text_key = None if key is None else key.decode()
        reasons: dict[str, list[str]] = {}
        for name in channel.messages:
            message = self._message(channel.document, name)
            problems: list[str] = []
            if message.get("contentType", self.documents[channel.document].get("defaultContentType")) \
                    == "application/json":
                try:
                    payload = json.loads(value)
                except ValueError as error:
                    problems.append(f"value is not JSON: {error}")
                    payload = None
                if payload is not None:
                    problems += [f"payload {'/'.join(map(str, e.absolute_path))}: {e.message}"
                                 for e in self._validator(channel.document, name, "payload").iter_errors(payload)]
                    problems += self._parameters_agree(channel, parameters, payload)
            problems += [f"header {'/'.join(map(str, e.absolute_path))}: {e.message}"
                         for e in self._validator(channel.document, name, "headers").iter_errors(header_values)]
            key_schema = message.get("bindings", {}).get("kafka", {}).get("key")
            if key_schema is not None:
                if text_key is None:
                    problems.append("the record has no key")
                else:
                    problems += [f"key: {e.message}" for e in Draft202012Validator(
                        key_schema, format_checker=Draft202012Validator.FORMAT_CHECKER).iter_errors(text_key)]
            reasons[name] = problems
        matched = [name for name, problems in reasons.items() if not problems]
        if len(matched) != 1:
            raise RecordRejected(f"a record of {topic} matches {matched or 'no message'}: {reasons}")
        return matched[0]

    def _parameters_agree(self, channel: Channel, parameters: Mapping[str, str], payload: Any) -> list[str]:
        """A parameter's ``location`` says where in the record its value is: the topic and the record agree."""
        problems = []
        document = self.documents[channel.document]["channels"][channel.channel_id]
        for name, value in parameters.items():
            location = document["parameters"][name].get("location", "")
            if location.startswith("$message.payload#/"):
                found: Any = payload
                for step in location.split("#/", 1)[1].split("/"):
                    found = found.get(step) if isinstance(found, dict) else None
                if found != value:
                    problems.append(f"topic parameter {name}={value!r}, the payload's {location} is {found!r}")
        return problems
