"""The shipped recognition programs over the sample catalog, across the five processes.

Nothing here is written for the test: the catalog is the sample catalog `make up` imports, and the programs are
the ones licensure ships (services/licensure/src/microcred/licensure/programs). They name the catalog's stacks by
ids derived from issuer and stack keys, so the ids below are the ones any installation gets.

- A Louisiana teacher earns the six credentials of BloomBoard's Elementary Mentor Teacher set and is designated
  under LA-MENTOR-TEACHER (licensure.recognition-granted), which Louisiana reads on its own feed
  (licensure.state.LA) and the teacher on their page ("6 of 6"); revoking one credential reverses the
  designation, as the program's on_revocation says (licensure.recognition-reversed, and in the feed).
- A Pulaski County teacher who completes the hard-to-staff secondary science stack is granted eligibility
  under AR-PULASKI-SECONDARY-SCIENCE, and Pulaski County's administrator finds them in the eligibility list.

Each story is a module fixture that earns the credentials once; the tests read what it left. So an assertion
about the same moment (the state feed licensure.state.LA after the grant, a district's eligibility list after
the science grant) is one more test placed where it belongs in the file: tests run in file order, and the
revocation test comes last.
"""

from __future__ import annotations

import functools
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from microcred.catalog.domain.model import stack_id_for
from microcred.devstack.client import Actor, PlatformClient
from microcred.devstack.platform import Platform
from microcred.devstack.samples import make_video
from microcred.devstack.seed import load_catalog
from microcred.devstack.topics import read_until
from microcred.events import StateFeedRecord
from microcred.runtime.auth import Role

MENTOR_PROGRAM = "LA-MENTOR-TEACHER"
MENTOR_STACK = stack_id_for("bloomboard", "la-elementary-mentor-teacher")
SCIENCE_PROGRAM = "AR-PULASKI-SECONDARY-SCIENCE"
SCIENCE_STACK = stack_id_for("microcred-samples", "secondary-science")
PULASKI = "Pulaski County"
GRANTED, REVERSED = "licensure.recognition-granted", "licensure.recognition-reversed"


@functools.cache
def video_of(seconds: int) -> bytes:
    """A real MP4 at least ``seconds`` long (the submission service measures what it receives)."""
    with tempfile.TemporaryDirectory() as scratch:
        return make_video(Path(scratch) / "evidence.mp4", float(seconds)).read_bytes()


def earn_from_catalog(world: Any, teacher: Actor, credential_id: str) -> dict[str, Any]:
    """Earn a catalog credential as a teacher would: evidence for every required item of its own criteria, an
    answer to each prompt, and a reviewer of its own scoring every criterion at its top level."""
    client: PlatformClient = world.client
    definition = client.call("GET", "catalog", f"/credentials/{credential_id}", world.operator)
    reviewer = world.reviewer(credential_id)
    submission_id = str(client.start_submission(teacher, credential_id)["submission_id"])
    answers: dict[tuple[str, int], str] = {}
    for item in definition["submission_criteria"]["items"]:
        if not item["required"]:
            continue
        for n in range(item["min_count"]):
            if item["kind"] == "video":
                content, content_type, name = video_of(item["min_duration_seconds"] or 1), "video/mp4", "clip.mp4"
            else:
                content, content_type, name = f"{item['title']}: evidence {n}".encode(), "text/plain", "evidence.txt"
            client.upload(teacher, submission_id, item["key"], content, content_type, name)
        answers |= {(item["key"], i): f"My answer to: {prompt}" for i, prompt in enumerate(item["prompts"])}
    if answers:
        client.answer_prompts(teacher, submission_id, answers)
    client.submit(teacher, submission_id)
    review = client.assigned_review(reviewer, submission_id, attempt=1)
    top = {c["key"]: max(c["levels"], key=lambda level: level["points"])["key"]
           for c in definition["rubric"]["criteria"]}
    client.score(reviewer, review["review_id"], top)
    awarded = client.wait_status(teacher, submission_id, "awarded", timeout=90)
    return client.call("GET", "award", f"/awards/{awarded['award_id']}")  # type: ignore[no-any-return]


def recognitions(platform: Platform, topic: str, program_id: str, teacher: Actor) -> list[dict[str, Any]]:
    """This teacher's events of one program on ``topic``, once there is at least one (or the read times out)."""

    def mine(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in records if r.get("program_id") == program_id and r.get("teacher_id") == teacher.subject]

    return mine(read_until(platform.endpoints.kafka_bootstrap, topic, lambda rs: bool(mine(rs)), timeout=90))


def state_feed(platform: Platform, state: str, record_type: str, teacher: Actor) -> list[StateFeedRecord]:
    """This teacher's records of one kind on the state's own feed topic, decoded as the state would (v3)."""

    def mine(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in records if r.get("record_type") == record_type and r.get("teacher_id") == teacher.subject]

    found = mine(read_until(platform.endpoints.kafka_bootstrap, f"licensure.state.{state}", lambda rs: bool(mine(rs)),
                            timeout=90))
    return [StateFeedRecord.model_validate(r) for r in found]


@dataclass
class Story:
    teacher: Actor
    awards: list[dict[str, Any]]
    granted: list[dict[str, Any]]


@pytest.fixture(scope="module")
def sample_catalog(client: PlatformClient) -> dict[str, str]:
    """The sample catalog imported (a second import changes nothing), and its issuers' ids by key."""
    operator = client.operator(f"op-{uuid.uuid4().hex[:6]}")
    client.import_catalog(operator, load_catalog())
    return {i["key"]: i["issuer_id"] for i in client.call("GET", "catalog", "/issuers", operator)}


def stack_credentials(client: PlatformClient, world: Any, stack_id: uuid.UUID) -> list[str]:
    return [str(c) for c in client.call("GET", "catalog", f"/stacks/{stack_id}", world.operator)["credential_ids"]]


@pytest.fixture(scope="module")
def mentor(sample_catalog: dict[str, str], client: PlatformClient, module_world: Any, platform: Platform) -> Story:
    six = stack_credentials(client, module_world, MENTOR_STACK)
    teacher = module_world.teacher("LA")
    awards = [earn_from_catalog(module_world, teacher, credential_id) for credential_id in six]
    return Story(teacher, awards, recognitions(platform, GRANTED, MENTOR_PROGRAM, teacher))


@pytest.fixture(scope="module")
def science(sample_catalog: dict[str, str], client: PlatformClient, module_world: Any, platform: Platform) -> Story:
    stack = stack_credentials(client, module_world, SCIENCE_STACK)
    teacher = module_world.teacher("AR", district=PULASKI)
    awards = [earn_from_catalog(module_world, teacher, credential_id) for credential_id in stack]
    return Story(teacher, awards, recognitions(platform, GRANTED, SCIENCE_PROGRAM, teacher))


def test_the_sample_catalog_gives_the_mentor_teacher_stack_its_six_credentials(
    client: PlatformClient, module_world: Any, sample_catalog: dict[str, str],
) -> None:
    stack = client.call("GET", "catalog", f"/stacks/{MENTOR_STACK}", module_world.operator)
    assert stack["issuer_id"] == sample_catalog["bloomboard"] and len(stack["credential_ids"]) == 6
    sponsors = {client.call("GET", "catalog", f"/credentials/{c}", module_world.operator)["sponsor"]
                for c in stack["credential_ids"]}
    assert sponsors == {"Louisiana Department of Education"}


def test_a_louisiana_teacher_who_earns_the_six_is_designated_mentor_teacher(mentor: Story) -> None:
    assert len(mentor.granted) == 1, mentor.granted
    (grant,) = mentor.granted
    assert (grant["state"], grant["district"], grant["program_version"]) == ("LA", None, 1)
    assert (grant["outcome_kind"], grant["outcome_label"], grant["key"]) == ("designation", "Mentor Teacher", "complete")
    assert set(grant["award_ids"]) == {a["award_id"] for a in mentor.awards} and len(grant["award_ids"]) == 6
    assert grant["pending"] is False


def test_the_designation_is_a_record_of_louisianas_feed_for_the_teachers_license(
    mentor: Story, client: PlatformClient, platform: Platform,
) -> None:
    (license_,) = client.call("GET", "licensure", "/licenses", mentor.teacher)
    (record,) = state_feed(platform, "LA", "recognition_granted", mentor.teacher)
    assert (str(record.license_id), record.license_number) == (license_["license_id"], license_["license_number"])
    assert record.recognition is not None and record.recognition.entry_id == uuid.UUID(mentor.granted[0]["entry_id"])
    assert (record.recognition.program_id, record.recognition.outcome_label) == (MENTOR_PROGRAM, "Mentor Teacher")
    assert {str(a) for a in record.recognition.award_ids} == {a["award_id"] for a in mentor.awards}


def test_the_teacher_reads_the_designation_and_six_of_six_on_their_own_page(mentor: Story, client: PlatformClient
                                                                               ) -> None:
    (program,) = [p for p in client.call("GET", "licensure", "/recognitions/me", mentor.teacher)["programs"]
                  if p["program_id"] == MENTOR_PROGRAM]
    assert program["progress"]["text"] == "6 of 6 for Mentor Teacher"
    assert [(h["key"], h["status"]) for h in program["held"]] == [("complete", "granted")]
    assert program["missing"] == []


def test_a_pulaski_county_teacher_who_completes_the_science_stack_is_eligible_for_the_hard_to_staff_role(
    science: Story,
) -> None:
    assert len(science.granted) == 1, science.granted
    (grant,) = science.granted
    assert (grant["state"], grant["district"], grant["outcome_kind"]) == ("AR", PULASKI, "eligibility")
    assert grant["outcome_label"] == "Secondary science (hard to staff)" and grant["pending"] is False
    assert set(grant["award_ids"]) == {a["award_id"] for a in science.awards} and len(science.awards) == 2


def test_pulaskis_district_admin_finds_the_teacher_in_the_eligibility_list_and_anothers_does_not(
    science: Story, client: PlatformClient,
) -> None:
    holders = f"/states/AR/recognitions/{SCIENCE_PROGRAM}/holders"
    pulaski = client.actor(f"pulaski-admin-{uuid.uuid4().hex[:6]}", Role.DISTRICT_ADMIN, states=("AR",),
                           district=PULASKI)
    benton = client.actor(f"benton-admin-{uuid.uuid4().hex[:6]}", Role.DISTRICT_ADMIN, states=("AR",),
                          district="Benton County")
    mine = [h for h in client.call("GET", "licensure", holders, pulaski, params={"limit": 200})
            if h["teacher_id"] == science.teacher.subject]
    assert len(mine) == 1, mine
    assert [lic["district"] for lic in mine[0]["licenses"]] == [PULASKI]
    assert science.teacher.subject not in {h["teacher_id"] for h in client.call("GET", "licensure", holders, benton)}


def test_revoking_one_of_the_six_reverses_the_designation(
    mentor: Story, client: PlatformClient, sample_catalog: dict[str, str], platform: Platform,
) -> None:
    """Last in the file: it ends the Mentor Teacher story."""
    bloomboard_admin = client.actor(f"bb-admin-{uuid.uuid4().hex[:6]}", Role.ISSUER_ADMIN,
                                    organization=sample_catalog["bloomboard"])
    revoked = mentor.awards[2]["award_id"]
    client.call("POST", "award", f"/credentials/{revoked}/revoke", bloomboard_admin,
                json={"reason": "The evidence was not the teacher's own"})
    reversed_ = recognitions(platform, REVERSED, MENTOR_PROGRAM, mentor.teacher)
    assert len(reversed_) == 1, reversed_
    (reversal,) = reversed_
    assert reversal["key"] == "complete" and revoked in reversal["reason"]
    assert (reversal["program_version"], reversal["state"]) == (1, "LA")
    (record,) = state_feed(platform, "LA", "recognition_reversed", mentor.teacher)
    assert record.recognition is not None and record.recognition.entry_id == uuid.UUID(reversal["entry_id"])
