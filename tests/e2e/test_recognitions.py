"""Recognition programs over the five processes: a teacher who earns every credential of a stack is designated
under a program in force for their state and district (licensure.recognition-granted), and the revocation of
one of them takes the designation back (licensure.recognition-reversed).

Programs are files licensure reads at start, so this test writes its own (a district program over the stack it
creates, in a district no other test's teacher is in) into a folder, points licensure's
MICROCRED_EXTRA_PROGRAMS_DIR at it and restarts licensure.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from microcred.devstack.client import PlatformClient
from microcred.devstack.platform import Platform
from microcred.devstack.topics import read_until


def mentor_program(program_id: str, district: str, stack_id: str) -> dict[str, Any]:
    return {
        "program_id": program_id, "state": "TN", "district": district, "agency": "e2e test district",
        "confirm_with_agency": True, "note": "written by tests/e2e/test_recognitions.py",
        "versions": [{
            "version": 1, "name": "E2E Mentor Teacher designation", "effective_from": "2024-07-01",
            "outcome": {"kind": "designation", "label": "Mentor Teacher"},
            "rule": {"kind": "complete_stack", "stack_id": stack_id},
            "on_revocation": "reverse",
        }],
    }


def test_six_credentials_of_a_stack_designate_the_teacher_and_a_revocation_reverses_it(
    platform: Platform, client: PlatformClient, world: Any, licensure_reads: Path,
) -> None:
    six = [world.publish(f"Mentor Practice {n}") for n in range(1, 7)]
    stack = client.call("POST", "catalog", "/stacks", world.admin, expect=201, json={
        "issuer_id": world.issuer_id, "name": f"Mentor Teacher Set {world.unique}",
        "description": "The six credentials of the mentor teacher designation.", "credential_ids": six})
    district = f"Recognition County {world.unique}"
    program_id = f"TN-E2E-MENTOR-{world.unique}"
    (licensure_reads / "e2e-mentor.json").write_text(json.dumps(mentor_program(program_id, district, stack["stack_id"])))
    platform.stop_service("licensure")
    platform.restart_service("licensure")

    teacher = world.teacher("TN", district=district)
    awards = [world.earn(teacher, credential_id) for credential_id in six]
    bootstrap = platform.endpoints.kafka_bootstrap

    def of_program(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in records if r.get("program_id") == program_id]

    granted = of_program(read_until(bootstrap, "licensure.recognition-granted", lambda rs: bool(of_program(rs))))
    assert len(granted) == 1, granted
    (grant,) = granted
    assert (grant["teacher_id"], grant["state"], grant["district"]) == (teacher.subject, "TN", district)
    assert (grant["outcome_kind"], grant["outcome_label"], grant["key"]) == ("designation", "Mentor Teacher", "complete")
    assert set(grant["award_ids"]) == {a["award_id"] for a in awards} and grant["pending"] is False

    revoked = awards[3]["award_id"]
    client.call("POST", "award", f"/credentials/{revoked}/revoke", world.admin, json={"reason": "Not the teacher's own"})
    reversed_ = of_program(read_until(bootstrap, "licensure.recognition-reversed", lambda rs: bool(of_program(rs))))
    assert len(reversed_) == 1, reversed_
    assert reversed_[0]["key"] == "complete" and revoked in reversed_[0]["reason"]
    assert reversed_[0]["program_version"] == 1 and reversed_[0]["teacher_id"] == teacher.subject
