"""Each service's AsyncAPI document describes its topics as they are on the wire, so a reader can be written
from it alone (``tests/e2e/test_wire_documents.py`` reads every record of a running platform that way).

Checked here on the documents the five services serve at ``/asyncapi.json`` (built in-process):
- the AsyncAPI Initiative's own parser finds no error and no warning in any of them;
- every contract is sent by exactly one service, the one its topic is named after, and every channel a
  service reads is one another service sends, with the same messages;
- a per-state feed is one channel with a ``{state}`` parameter, not a topic named after its prefix;
- the headers the outbox writes are the headers documented.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from asyncapi_parser import diagnostics
from document_reader import DocumentReader, RecordRejected
from fastapi.testclient import TestClient
from node_packages import require_node

from microcred.events import CredentialRetired, StateFeedRecord, StateFeedRecordV1, StateFeedRecordV2
from microcred.events.registry import ALL_EVENTS
from microcred.runtime.auth import DevTokenIssuer
from microcred.runtime.outbox import outbox_row

SERVICES = ("catalog", "submission", "review", "award", "licensure")


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    issuer = DevTokenIssuer(tmp_path_factory.mktemp("auth"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MICROCRED_AUTH_JWKS_URL", issuer.jwks_url)
        found = {}
        for service in SERVICES:
            app = importlib.import_module(f"microcred.{service}.bootstrap").build_app()
            # No lifespan: the document is built from the declared contracts, with nothing connected.
            found[service] = TestClient(app).get("/asyncapi.json").raise_for_status().json()
        yield found


def sent(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["channel"]["$ref"].rsplit("/", 1)[-1]: op for op in document["operations"].values()
            if op["action"] == "send"}


def received(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["channel"]["$ref"].rsplit("/", 1)[-1]: op for op in document["operations"].values()
            if op["action"] == "receive"}


def test_the_asyncapi_parser_finds_no_error_or_warning_in_any_service_document(
    documents: dict[str, dict[str, Any]],
) -> None:
    require_node("the AsyncAPI parser")
    report = diagnostics(documents)
    assert set(report) == set(SERVICES)
    # The parser's only remark is that AsyncAPI 3.1 exists: 3.0 is what code generators and brokers' tooling read.
    remarks = {service: [d for d in found if d["code"] != "asyncapi-latest-version"]
               for service, found in report.items()}
    assert remarks == {service: [] for service in SERVICES}


def test_the_parser_check_catches_a_broken_document(documents: dict[str, dict[str, Any]]) -> None:
    require_node("the AsyncAPI parser")
    broken = {**documents["licensure"], "operations": {"x": {"action": "send", "channel": {"$ref": "#/channels/none"}}}}
    report = diagnostics({"broken": broken})
    assert any(d["severity"] == "error" for d in report["broken"])


def test_every_contract_is_sent_by_the_one_service_its_topic_is_named_after(
    documents: dict[str, dict[str, Any]],
) -> None:
    senders: dict[str, list[str]] = {}
    for service, document in documents.items():
        for channel_id in sent(document):
            if not channel_id.endswith(".dlt"):
                senders.setdefault(document["channels"][channel_id]["title"], []).append(service)
    assert senders == {cls.topic: [cls.topic.split(".", 1)[0]] for cls in ALL_EVENTS}


def test_every_channel_a_service_reads_is_sent_by_another_with_the_same_messages(
    documents: dict[str, dict[str, Any]],
) -> None:
    by_address = {document["channels"][channel_id]["address"]: (service, channel_id)
                  for service, document in documents.items() for channel_id in sent(document)}
    for service, document in documents.items():
        for channel_id, operation in received(document).items():
            channel = document["channels"][channel_id]
            producer, produced_id = by_address[channel["address"]]
            assert producer != service
            theirs = documents[producer]
            assert list(channel["messages"]) == list(theirs["channels"][produced_id]["messages"])
            for name in channel["messages"]:
                assert document["components"]["messages"][name] == theirs["components"]["messages"][name]
            group = operation["bindings"]["kafka"]["groupId"]["enum"]
            assert group == [f"{service}.{channel['address']}"], "the consumer group an operator will see"
            dead = document["channels"][f"{channel['address']}.dlt"]
            assert dead["address"] == f"{channel['address']}.dlt" and f"{channel['address']}.dlt" in sent(document)


def test_the_state_feed_is_one_channel_per_state_with_a_message_for_every_kind_of_record(
    documents: dict[str, dict[str, Any]],
) -> None:
    document = documents["licensure"]
    (feed,) = [c for c in document["channels"].values() if "{" in c["address"]]
    assert feed["address"] == "licensure.state.{state}"
    assert feed["parameters"]["state"]["location"] == "$message.payload#/state"
    assert all(channel["address"] != "licensure.state" for channel in document["channels"].values())
    current = {name: document["components"]["messages"][name]["payload"]["properties"]["record_type"].get("const")
               for name in feed["messages"]}
    assert set(current.values()) == {*StateFeedRecord.record_kinds, None}
    # Versions 1 and 2 (one message each, as earlier versions are described) are still on the topics.
    earlier = ["licensure.state-record.v1", "licensure.state-record.v2"]
    assert [name for name, kind in current.items() if kind is None] == earlier
    for name in earlier:
        assert "no longer written" in document["components"]["messages"][name]["summary"]
    for name in feed["messages"]:
        message = document["components"]["messages"][name]
        assert message["bindings"]["kafka"]["key"]["format"] == "uuid"
        assert message["correlationId"] == {"location": "$message.header#/correlation_id"}


def record(event: Any, service: str) -> tuple[str, bytes, list[tuple[str, bytes]], bytes]:
    row = outbox_row(event, service)
    headers = [(name, value.encode()) for name, value in row["headers"].items()]
    return row["topic"], row["key"], headers, row["payload"]


def test_what_the_outbox_writes_is_what_the_documents_describe(documents: dict[str, dict[str, Any]]) -> None:
    reader = DocumentReader(documents)
    retired = CredentialRetired(correlation_id=uuid4(), credential_id=uuid4(), version=2, reason="superseded")
    assert reader.check(*record(retired, "catalog")) == "catalog.credential-retired.v1"
    rejected = StateFeedRecord(
        correlation_id=uuid4(), record_type="credit_rejected", state="TN", license_id=uuid4(),
        license_number="TN-1", license_type="Professional", teacher_id="t-1", award_id=uuid4(),
        credential_id=uuid4(), credential_name="Questioning", reason="no TN rule set was in force",
    )
    topic, key, headers, value = record(rejected, "licensure")
    assert topic == "licensure.state.TN"
    assert reader.check(topic, key, headers, value) == "licensure.state-record.v3.credit_rejected"
    for older in (StateFeedRecordV1, StateFeedRecordV2):
        earlier = older(**rejected.model_dump(include=set(older.model_fields) - {"event_version"}))
        assert reader.check(*record(earlier, "licensure")) == f"licensure.state-record.v{earlier.event_version}"
    granted = StateFeedRecord(
        correlation_id=uuid4(), record_type="recognition_granted", state="TN", district="Knox County",
        license_id=uuid4(), license_number="TN-1", license_type="Professional", teacher_id="t-1",
        recognition={"entry_id": uuid4(), "program_id": "TN-KNOX-MENTOR", "program_version": 1,
                     "outcome_kind": "designation", "outcome_label": "Mentor Teacher", "district": "Knox County",
                     "key": "complete", "year": 2026, "award_ids": [uuid4()], "reason": "the stack is complete"},
    )
    g_topic, g_key, g_headers, g_value = record(granted, "licensure")
    assert reader.check(g_topic, g_key, g_headers, g_value) == "licensure.state-record.v3.recognition_granted"
    without_outcome = g_value.replace(b'"recognition":{', b'"recognition":null,"moved":{')
    with pytest.raises(RecordRejected, match="no message"):
        reader.check(g_topic, g_key, g_headers, without_outcome)

    # A reader written from the documents refuses what they do not describe.
    with pytest.raises(RecordRejected, match="ce_source"):
        reader.check(*record(retired, "award"))
    with pytest.raises(RecordRejected, match="payload's"):
        reader.check("licensure.state.UT", key, headers, value)
    with pytest.raises(RecordRejected, match="documented channels"):
        reader.check("licensure.state", key, headers, value)
    without_reason = value.replace(b'"reason":"no TN rule set was in force"', b'"reason":null')
    with pytest.raises(RecordRejected, match="no message"):
        reader.check(topic, key, headers, without_reason)


def test_a_per_state_address_matches_only_a_state_topic(documents: dict[str, dict[str, Any]]) -> None:
    reader = DocumentReader(documents)
    channel, parameters = reader.channel_of("licensure.state.TN")
    assert (channel.address, parameters) == ("licensure.state.{state}", {"state": "TN"})
    assert re.fullmatch(channel.pattern, "licensure.state.TN.dlt") is None
