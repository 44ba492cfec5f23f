"""Every record on a running platform's topics, read as a consumer written from the AsyncAPI documents alone.

The reader (``tests/asyncapi/document_reader.py``) knows nothing of our code: it takes the five documents the
services serve, finds each topic's channel (a state's topic through the ``licensure.state.{state}`` template)
and checks each record's key, headers and value against the messages the document gives it. First this module
makes a record of every kind the state feed documents, so each one is read at least once; then it reads every
topic on the broker from the start, which includes what the earlier end-to-end modules of the session wrote.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from document_reader import TEST_POISON_HEADER, DocumentReader, RecordRejected

from microcred.devstack.client import PlatformClient, publish_as, wait_for
from microcred.devstack.platform import SERVICES, Platform
from microcred.devstack.samples import expiring_award
from microcred.runtime.offsets import LogEnds

pytestmark = pytest.mark.stack

PROGRAMS_DIR = "MICROCRED_EXTRA_PROGRAMS_DIR"


def documents(platform: Platform) -> dict[str, dict[str, Any]]:
    with httpx.Client(timeout=10.0) as http:
        return {service: http.get(f"{platform.url(service)}/asyncapi.json").raise_for_status().json()
                for service in SERVICES}


def read_everything(bootstrap: str, reader: DocumentReader) -> tuple[Counter[str], list[str], list[str]]:
    """Every record of every topic, up to the ends the partitions had when reading began: the messages they
    matched, the topics no document sends to, and each record no message describes."""

    async def read() -> tuple[Counter[str], list[str], list[str]]:
        seen: Counter[str] = Counter()
        undocumented: list[str] = []
        rejected: list[str] = []
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            topics = sorted(t for t in await consumer.topics() if not t.startswith("__"))
            for topic in topics:
                try:
                    reader.channel_of(topic)
                except RecordRejected:
                    undocumented.append(topic)
            async with LogEnds(bootstrap) as log_ends:
                ends = {tp: end for tp, end in (await log_ends.read(await log_ends.partitions(topics))).items()
                        if end > 0}
            # Every topic gets a dead-letter companion when the platform is provisioned (events.all_topics), read
            # by a service or not: an empty one that no document names is not a record a reader could meet.
            written = {tp.topic for tp in ends}
            undocumented = [t for t in undocumented if t in written or not t.endswith(".dlt")]
            ends = {tp: end for tp, end in ends.items() if tp.topic not in undocumented}
            consumer.assign(list(ends))
            await consumer.seek_to_beginning(*ends)
            remaining = dict(ends)
            while remaining:
                batches = await consumer.getmany(*remaining, timeout_ms=2000)
                if not batches:
                    raise AssertionError(f"partitions stopped short of their ends: {remaining}")
                for tp, records in batches.items():
                    for record in records:
                        if not record.topic.endswith(".dlt") and any(
                                name == TEST_POISON_HEADER for name, _ in record.headers or ()):
                            continue  # written by a test, not by a service (its dead-letter copy is checked)
                        try:
                            seen[reader.check(record.topic, record.key, record.headers, record.value)] += 1
                        except RecordRejected as error:
                            rejected.append(f"{record.topic}@{record.partition}:{record.offset}: {error}")
                    if records and records[-1].offset + 1 >= remaining.get(tp, 0):
                        remaining.pop(tp, None)
        finally:
            await consumer.stop()
        return seen, undocumented, rejected

    return asyncio.run(read())


def recognise_and_reverse(platform: Platform, client: PlatformClient, world: Any, programs: Path) -> None:
    """A recognition_granted and a recognition_reversed record: a district program of this module alone (a file
    licensure reads at start, as in test_recognitions) designates the holder of a one-credential stack, which a
    revocation takes back."""
    credential_id = world.publish("Wire Recognised Practice")
    stack = client.call("POST", "catalog", "/stacks", world.admin, expect=201, json={
        "issuer_id": world.issuer_id, "name": f"Wire Stack {world.unique}", "description": "One credential.",
        "credential_ids": [credential_id]})
    district = f"Wire County {world.unique}"
    (programs / "wire.json").write_text(json.dumps({
        "program_id": f"TN-WIRE-{world.unique}", "state": "TN", "district": district, "agency": "e2e wire test",
        "confirm_with_agency": True, "note": "written by tests/e2e/test_wire_documents.py",
        "versions": [{"version": 1, "name": "Wire designation", "effective_from": "2024-07-01",
                      "outcome": {"kind": "designation", "label": "Wire Leader"},
                      "rule": {"kind": "complete_stack", "stack_id": stack["stack_id"]}, "on_revocation": "reverse"}],
    }))
    platform.service_env[PROGRAMS_DIR] = str(programs)
    try:
        platform.stop_service("licensure")
        platform.restart_service("licensure")
    finally:
        platform.service_env.pop(PROGRAMS_DIR, None)  # loaded until licensure's next start: a district of its own
    award = world.earn(world.teacher(state="TN", district=district), credential_id)
    client.call("POST", "award", f"/credentials/{award['award_id']}/revoke", world.admin,
                json={"reason": "Wire test: the designation is reversed"})


def test_a_reader_written_from_the_documents_alone_accepts_every_record_on_every_topic(
    platform: Platform, client: PlatformClient, module_world: Any, tmp_path: Path
) -> None:
    # One of every kind of state record, so that each documented message is read at least once.
    recognise_and_reverse(platform, client, module_world, tmp_path)
    teacher = module_world.teacher(state="TN")  # licensed in TN, whose rules post credit at once
    revoked = module_world.earn(teacher, module_world.publish("Wire Revoked Practice"))
    client.call("POST", "award", f"/credentials/{revoked['award_id']}/revoke", module_world.admin,
                json={"reason": "Evidence was not the teacher's own"})
    district = module_world.teacher(state="AR", district="Pulaski County")  # AR: the district approves first
    module_world.earn(district, module_world.publish("Wire District Practice"))
    lapsed = module_world.teacher(state="TN", licensed=False)  # a cycle that ended: no credit
    client.call("POST", "licensure", "/licenses", lapsed, expect=201, json={
        "state": "TN", "license_number": f"TN-{uuid.uuid4().hex[:10]}", "license_type": "Professional",
        "cycle_start": "2018-09-01", "cycle_end": "2023-08-31"})
    module_world.earn(lapsed, module_world.publish("Wire Lapsed Practice"))
    suspended = module_world.earn(teacher, module_world.publish("Wire Suspended Practice"))
    for action in ("suspend", "reinstate"):
        client.call("POST", "award", f"/credentials/{suspended['award_id']}/{action}", module_world.admin,
                    json={"reason": f"{action} for the wire test"})
    expires = datetime.now(UTC) + timedelta(seconds=2)
    publish_as(platform.endpoints.kafka_bootstrap, "award", expiring_award(teacher.subject, expires, states=("TN",)))

    def swept() -> int | None:
        if datetime.now(UTC) <= expires:
            return None
        return client.call("POST", "licensure", "/maintenance/expiry-sweep", module_world.operator)["announced"] or None

    wait_for(swept, "the expiry sweep to announce the expired award")

    found = documents(platform)
    reader = DocumentReader(found)
    (feed,) = [c for c in reader.channels if c.address == "licensure.state.{state}"]
    messages = found[feed.document]["components"]["messages"]
    # The kinds written now (a record_type of their own); version 1 records are only in older deployments' topics.
    feed_kinds = {name for name in feed.messages if "const" in messages[name]["payload"]["properties"]["record_type"]}
    assert len(feed_kinds) == 11

    def everything_read() -> tuple[Counter[str], list[str], list[str]] | None:
        found = read_everything(platform.endpoints.kafka_bootstrap, reader)
        # A wrong record or topic fails at once; otherwise wait for the last state records to be written.
        return found if feed_kinds <= set(found[0]) or found[1] or found[2] else None

    seen, undocumented, rejected = wait_for(everything_read, "a record of every kind of state record", timeout=90,
                                            interval=2.0)
    assert undocumented == [], f"topics no document sends to: {undocumented}"
    assert rejected == [], "\n".join(rejected[:10])
    # This module's own flows alone write each of these; in a whole run, every earlier module's records too.
    assert {"catalog.credential-published.v1", "submission.submitted.v1", "review.scored.v1", "award.awarded.v1",
            "award.revoked.v1", "award.suspended.v1", "award.reinstated.v1", "licensure.credit-posted.v1",
            "licensure.credit-reversed.v1"} <= set(seen)
