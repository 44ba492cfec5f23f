"""Recognitions in the state's feed and in a district's own webhook, over the five processes (issue 21 point 2).

A teacher licensed in a district completes a stack that a program of that district designates; the
recognition_granted record appears on licensure.state.TN (a v3 state record), and the district's webhook (a
local HTTP server checking our HMAC with nothing but ``hmac``, subscribed by the district's admin) receives it,
signed, while another district's subscription is queued nothing.

Programs are files licensure reads at start, so this test writes its own (in districts no other test's teacher
is in) into a folder, points licensure's MICROCRED_EXTRA_PROGRAMS_DIR at it and restarts licensure, as
tests/e2e/test_recognitions.py does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from webhook_receiver import SignedReceiver

from microcred.devstack.client import PlatformClient, wait_for
from microcred.devstack.platform import Platform
from microcred.devstack.topics import read_until
from microcred.events import StateFeedRecord
from microcred.runtime.auth import Role

pytestmark = pytest.mark.stack



def designation(program_id: str, district: str, stack_id: str) -> dict[str, Any]:
    return {
        "program_id": program_id, "state": "TN", "district": district, "agency": "e2e test district",
        "confirm_with_agency": True, "note": "written by tests/e2e/test_recognition_feeds.py",
        "versions": [{
            "version": 1, "name": "E2E Teacher Leader designation", "effective_from": "2024-07-01",
            "outcome": {"kind": "designation", "label": "Teacher Leader"},
            "rule": {"kind": "complete_stack", "stack_id": stack_id},
        }],
    }


def test_a_designation_reaches_the_states_topic_and_its_districts_webhook_but_not_another_districts(
    platform: Platform, client: PlatformClient, world: Any, licensure_reads: Path,
) -> None:
    two = [world.publish(f"Leader Practice {n}") for n in (1, 2)]
    stack = client.call("POST", "catalog", "/stacks", world.admin, expect=201, json={
        "issuer_id": world.issuer_id, "name": f"Teacher Leader Set {world.unique}",
        "description": "The two credentials of the teacher leader designation.", "credential_ids": two})
    district, other = f"Feed County {world.unique}", f"Other County {world.unique}"
    program_id = f"TN-E2E-LEADER-{world.unique}"
    (licensure_reads / "e2e-leader.json").write_text(json.dumps(designation(program_id, district, stack["stack_id"])))
    platform.stop_service("licensure")
    platform.restart_service("licensure")

    district_admin = client.actor(f"district-admin-{world.unique}", Role.DISTRICT_ADMIN, states=("TN",),
                                  district=district)
    tn_admin = client.actor(f"tn-admin-{world.unique}", Role.STATE_ADMIN, states=("TN",))
    with SignedReceiver("d" * 40) as ours, SignedReceiver("o" * 40) as theirs:
        # The district's admin subscribes for their own district (naming none); the state's admin for another one.
        mine = client.call("POST", "licensure", "/webhooks", district_admin, expect=201,
                           json={"state": "TN", "url": ours.url, "secret": "d" * 40})
        elsewhere = client.call("POST", "licensure", "/webhooks", tn_admin, expect=201,
                                json={"state": "TN", "district": other, "url": theirs.url, "secret": "o" * 40})
        try:
            assert (mine["district"], elsewhere["district"]) == (district, other)
            listed = client.call("GET", "licensure", "/webhooks", district_admin)
            assert [s["subscription_id"] for s in listed] == [mine["subscription_id"]]
            hidden = client.attempt("GET", "licensure", f"/webhooks/{elsewhere['subscription_id']}/deliveries",
                                    district_admin)
            assert hidden.status_code == 404 and hidden.json()["error"] == "webhook_not_found"

            teacher = world.teacher("TN", district=district)
            (license_,) = client.call("GET", "licensure", "/licenses", teacher)
            awards = [world.earn(teacher, credential_id) for credential_id in two]

            def granted(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
                return [r for r in records if r.get("record_type") == "recognition_granted"
                        and r["recognition"]["program_id"] == program_id]

            on_topic = granted(read_until(platform.endpoints.kafka_bootstrap, "licensure.state.TN",
                                          lambda rs: bool(granted(rs))))
            assert len(on_topic) == 1, on_topic
            record = StateFeedRecord.model_validate(on_topic[0])
            print("recognition_granted on licensure.state.TN:", json.dumps(on_topic[0], indent=2))
            assert (record.event_version, record.state, record.district) == (3, "TN", district)
            assert (str(record.license_id), record.license_number, record.teacher_id) == (
                license_["license_id"], license_["license_number"], teacher.subject)
            assert record.recognition is not None and record.award_id is None
            outcome = record.recognition
            assert (outcome.outcome_kind, outcome.outcome_label, outcome.key, outcome.pending) == (
                "designation", "Teacher Leader", "complete", False)
            assert {str(a) for a in outcome.award_ids} == {a["award_id"] for a in awards}

            wait_for(lambda: granted(list(ours.received.values())), "the district's webhook to receive the grant",
                     timeout=60)
            assert granted(list(ours.received.values())) == on_topic, "the same record, byte for byte in meaning"
            assert ours.bad_signatures == 0
            kinds = {r["record_type"] for r in ours.received.values() if r["license_id"] == license_["license_id"]}
            assert {"award", "recognition_granted"} <= kinds, "every kind of record of the district's licenses"
            assert all(r["district"] == district for r in ours.received.values())
            # Deliveries are queued in the transaction that writes the record: the other district has none at all.
            queued = client.call("GET", "licensure", f"/webhooks/{elsewhere['subscription_id']}/deliveries", tn_admin)
            assert queued == [] and theirs.received == {}
        finally:
            for subscription in (mine, elsewhere):
                client.attempt("DELETE", "licensure", f"/webhooks/{subscription['subscription_id']}", tn_admin)
