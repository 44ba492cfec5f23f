"""The recognition review queue over the five processes: a stack changed after a teacher earned its credentials
designates them through the queue (licensure enqueues the stack's holders in the change's own transaction, and
its periodic task re-evaluates them in bounded batches), not in the stack change's transaction.

The program is a file licensure reads at start (see test_recognitions.py), for a district of this test alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from microcred.devstack.client import PlatformClient
from microcred.devstack.platform import Platform
from microcred.devstack.topics import read_until

pytestmark = pytest.mark.stack



def test_a_stack_changed_after_the_awards_designates_its_holders_through_the_queue(
    platform: Platform, client: PlatformClient, world: Any, licensure_reads: Path,
) -> None:
    first, second, never = (world.publish(f"Queue Practice {n}") for n in (1, 2, 3))
    body = {"name": f"Queue Set {world.unique}", "description": "Two of three.", "credential_ids": [first, never]}
    stack = client.call("POST", "catalog", "/stacks", world.admin, expect=201,
                        json={"issuer_id": world.issuer_id, **body})
    district = f"Queue County {world.unique}"
    program_id = f"TN-E2E-QUEUE-{world.unique}"
    (licensure_reads / "e2e-queue.json").write_text(json.dumps({
        "program_id": program_id, "state": "TN", "district": district, "agency": "e2e test district",
        "confirm_with_agency": True, "note": "written by tests/e2e/test_recognition_reviews.py",
        "versions": [{"version": 1, "name": "E2E queue designation", "effective_from": "2024-07-01",
                      "outcome": {"kind": "designation", "label": "Queue designation"},
                      "rule": {"kind": "complete_stack", "stack_id": stack["stack_id"]}}]}))
    platform.stop_service("licensure")
    platform.restart_service("licensure")

    teacher = world.teacher("TN", district=district)
    awards = [world.earn(teacher, credential_id) for credential_id in (first, second)]
    bootstrap = platform.endpoints.kafka_bootstrap

    def of_program(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in records if r.get("program_id") == program_id]

    # The stack as it is (first and never) is not complete; as changed (first and second) it is.
    assert of_program(read_until(bootstrap, "licensure.recognition-granted", lambda rs: False, timeout=2)) == []
    client.call("PUT", "catalog", f"/stacks/{stack['stack_id']}", world.admin, json=body | {"credential_ids": [
        first, second]})
    (grant,) = of_program(read_until(bootstrap, "licensure.recognition-granted", lambda rs: bool(of_program(rs))))
    assert (grant["teacher_id"], grant["key"], grant["pending"]) == (teacher.subject, "complete", False)
    assert set(grant["award_ids"]) == {a["award_id"] for a in awards}
    assert grant["causation_id"] is None  # the queue's re-evaluation, not the stack event's transaction
