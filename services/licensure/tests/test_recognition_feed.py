"""Recognitions in the state's feed (issue 21 point 2): every grant and reversal is a record of the state's feed
for each license of the teacher the program applies to, none for a license in another district or state; and a
district's own webhook subscription is queued the records of its district's licenses only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from microcred.events import CredentialAwarded, RecognitionGranted, StackChanged, StateFeedRecord
from microcred.licensure.domain.model import License
from microcred.licensure.domain.recognition import Program
from microcred.licensure.domain.webhooks import new_subscription
from microcred.licensure.service_layer.handlers import post_credits, record_collection, record_revocation

STACK = uuid4()


def mentor(state: str = "TN", district: str | None = None) -> Program:
    return Program.model_validate({
        "program_id": f"{state}-{(district or 'STATE').split()[0].upper()}-MENTOR", "version": 1, "state": state, "district": district,
        "name": "Mentor Teacher designation", "effective_from": "2024-07-01",
        "outcome": {"kind": "designation", "label": "Mentor Teacher"},
        "rule": {"kind": "complete_stack", "stack_id": str(STACK)}, "on_revocation": "reverse",
    })


async def licensed(uow: Any, build: Any, *where: tuple[str, str | None]) -> dict[tuple[str, str | None], License]:
    licenses = {}
    for state, district in where:
        licenses[(state, district)] = build.license(state=state, district=district)
        await uow.licenses.add_once(licenses[(state, district)])
    return licenses


async def complete_the_stack(uow: Any, build: Any, programs: list[Program]) -> list[CredentialAwarded]:
    three = [uuid4() for _ in range(3)]
    await record_collection(StackChanged(correlation_id=uuid4(), stack_id=STACK, revision=1, issuer_id=uuid4(),
                                         name="Mentor Teacher", description="three", credential_ids=tuple(three),
                                         active=True), uow, programs)
    awards = []
    for credential_id in three:
        awarded = build.awarded().model_copy(update={"credential_id": credential_id})
        await post_credits(awarded, uow, programs)
        awards.append(awarded)
    return awards


def recognitions(uow: Any) -> list[StateFeedRecord]:
    return [r for r in uow.feed() if r.record_type.startswith("recognition_")]


async def test_a_district_programs_grant_is_a_feed_record_for_the_license_in_that_district_only(
    uow: Any, build: Any,
) -> None:
    licenses = await licensed(uow, build, ("TN", "Knox County"), ("TN", "Shelby County"), ("TN", None), ("UT", None))
    await complete_the_stack(uow, build, [mentor("TN", "Knox County")])
    [grant] = [e for e in uow.published if isinstance(e, RecognitionGranted)]
    [record] = recognitions(uow)
    knox = licenses[("TN", "Knox County")]
    assert (record.record_type, record.state, record.district, record.license_id) == (
        "recognition_granted", "TN", "Knox County", knox.license_id)
    assert (record.license_number, record.license_type, record.teacher_id) == (
        knox.license_number, knox.license_type, "teacher-42")
    assert record.award_id is None and record.recognition is not None
    outcome = record.recognition
    assert (outcome.entry_id, outcome.program_id, outcome.program_version, outcome.key, outcome.pending) == (
        grant.entry_id, "TN-KNOX-MENTOR", 1, "complete", False)
    assert (outcome.outcome_kind, outcome.outcome_label, outcome.district) == (
        "designation", "Mentor Teacher", "Knox County")
    assert outcome.award_ids == grant.award_ids and outcome.reason == grant.reason
    assert record.causation_id == grant.causation_id and record.correlation_id == grant.correlation_id
    assert uow.webhooks.records[-1] == record, "the webhooks are queued the same record"


async def test_a_state_programs_grant_and_reversal_reach_every_license_in_the_state_and_none_elsewhere(
    uow: Any, build: Any,
) -> None:
    licenses = await licensed(uow, build, ("TN", "Knox County"), ("TN", None), ("UT", None))
    awards = await complete_the_stack(uow, build, [mentor("TN")])
    tn = {licenses[("TN", "Knox County")].license_id, licenses[("TN", None)].license_id}
    granted = recognitions(uow)
    assert {r.license_id for r in granted} == tn and len(granted) == 2
    assert {r.record_type for r in granted} == {"recognition_granted"}
    assert not [r for r in uow.feed("UT") if r.record_type.startswith("recognition_")]

    await record_revocation(build.revoked(awards[1]), uow, [mentor("TN")])
    reversed_ = recognitions(uow)[2:]
    assert {r.license_id for r in reversed_} == tn and {r.record_type for r in reversed_} == {"recognition_reversed"}
    assert all(r.recognition is not None and str(awards[1].award_id) in r.recognition.reason for r in reversed_)
    assert len({r.recognition.entry_id for r in reversed_ if r.recognition}) == 1, "one ledger entry, two licenses"


async def test_a_district_subscription_is_queued_its_districts_records_of_every_kind_and_no_other(
    uow: Any, build: Any,
) -> None:
    def subscription(state: str, district: str | None) -> UUID:
        made = new_subscription(state=state, district=district, url="https://hooks.example.org/feed", secret=None,
                                created_by="admin", now=datetime.now(UTC), allow_http=False)
        uow.webhooks.subscriptions.append(made)
        return made.subscription_id

    state, knox, shelby, utah = (subscription("TN", None), subscription("TN", "Knox County"),
                                 subscription("TN", "Shelby County"), subscription("UT", None))
    licenses = await licensed(uow, build, ("TN", "Knox County"), ("UT", None))
    await complete_the_stack(uow, build, [mentor("TN", "Knox County")])

    def queued(subscription_id: UUID) -> list[StateFeedRecord]:
        return [record for to, record in uow.webhooks.deliveries if to == subscription_id]

    knox_license = licenses[("TN", "Knox County")].license_id
    tn_records = uow.feed("TN")
    assert {r.record_type for r in queued(knox)} >= {"award", "credit_posted", "recognition_granted"}
    assert queued(knox) == tn_records and all(r.license_id == knox_license for r in queued(knox))
    assert queued(state) == tn_records, "the state's subscription keeps receiving every record of the state"
    assert queued(shelby) == []
    assert queued(utah) == uow.feed("UT") and all(r.district is None for r in queued(utah))
