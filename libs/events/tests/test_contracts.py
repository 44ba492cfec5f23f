"""The published language: snapshots, compatibility rule, tolerant readers, poison detection."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from pydantic import ValidationError

from microcred.events import (
    ALL_EVENTS,
    CreditPosted,
    IntegrationEvent,
    PoisonMessage,
    Rubric,
    StateFeedRecord,
    StateFeedRecordV1,
    StateFeedRecordV2,
    decode_event,
    state_feed_topic,
)
from microcred.events.registry import PER_STATE_EVENTS, all_topics
from microcred.events.snapshots import current_schema, incompatibilities, snapshot_path


def credit(**overrides: object) -> CreditPosted:
    fields: dict[str, object] = dict(
        correlation_id=uuid.uuid4(), entry_id=uuid.uuid4(), license_id=uuid.uuid4(), award_id=uuid.uuid4(),
        teacher_id="t-1", state="TN", amount=Decimal("6"), unit="points", rule_set_id="TN", rule_set_version=1,
        earned_in_cycle=Decimal("6"), required_in_cycle=Decimal("60"),
    )
    return CreditPosted(**(fields | overrides))  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.__name__)
def test_every_published_version_has_a_committed_snapshot_it_still_satisfies(cls: type) -> None:
    path = snapshot_path(cls)
    assert path.exists(), f"no snapshot for {cls.__name__}: run python -m microcred.events.snapshots"
    problems = incompatibilities(json.loads(path.read_text()), current_schema(cls))
    assert not problems, f"{cls.__name__} changed incompatibly; publish a new event_version instead: {problems}"


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.__name__)
def test_snapshots_are_up_to_date(cls: type) -> None:
    assert json.loads(snapshot_path(cls).read_text()) == current_schema(cls), (
        "schema grew compatibly but the snapshot is stale: run python -m microcred.events.snapshots"
    )


def test_adding_an_optional_field_is_compatible_but_removing_or_requiring_is_not() -> None:
    old = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["a"]}
    grown = {**old, "properties": {**old["properties"], "c": {"type": "string"}}}
    assert incompatibilities(old, grown) == []
    assert incompatibilities(old, {**old, "properties": {"a": {"type": "string"}}}) == ["$.b: removed"]
    assert incompatibilities(old, {**grown, "required": ["a", "c"]}) == ["$.c: became required"]
    retyped = {**old, "properties": {**old["properties"], "b": {"type": "string"}}}
    assert incompatibilities(old, retyped)


def test_every_event_has_its_own_topic_and_a_dead_letter_companion() -> None:
    # Versions of one event type share its topic; two event types never do.
    topic_of_type = {cls.model_fields["event_type"].default: cls.topic for cls in ALL_EVENTS}
    assert len(set(topic_of_type.values())) == len(topic_of_type)
    assert all(topic_of_type[cls.model_fields["event_type"].default] == cls.topic for cls in ALL_EVENTS)
    fixed = [cls.topic for cls in ALL_EVENTS if cls not in PER_STATE_EVENTS]
    assert set(all_topics()) == set(fixed) | {f"{t}.dlt" for t in fixed}


def test_a_state_feed_record_goes_to_its_own_states_topic_only() -> None:
    assert state_feed_topic("TN") == "licensure.state.TN"
    for bad in ("tn", "T", "TNN", "T1"):
        with pytest.raises(ValueError):
            state_feed_topic(bad)
    assert "licensure.state" not in all_topics(), "the prefix is not a topic of its own"


def feed_record(cls: type[IntegrationEvent], **overrides: object) -> IntegrationEvent:
    fields: dict[str, object] = dict(
        correlation_id=uuid.uuid4(), record_type="credit_posted", state="TN", license_id=uuid.uuid4(),
        license_number="TN-1", license_type="Professional", teacher_id="t-1", award_id=uuid.uuid4(),
        credential_id=uuid.uuid4(), credential_name="Checking for Understanding", amount=Decimal("6"),
        entry_id=uuid.uuid4(), unit="points", earned_in_cycle=Decimal("6"), required_in_cycle=Decimal("60"),
        rule_set_id="tn-2026", rule_set_version=1, credential={"id": "urn:uuid:1"},
    )
    return cls(**(fields | overrides))


def test_status_records_needed_a_second_version_of_the_state_record_and_v1_records_still_decode() -> None:
    # A new record_type value is a changed constraint: a reader validating v1 refuses it, so it cannot
    # be growth of v1. The snapshots' rule says so, and that is why there was a version 2.
    assert incompatibilities(current_schema(StateFeedRecordV1), current_schema(StateFeedRecordV2))
    old = feed_record(StateFeedRecordV1)
    assert type(decode_event(old.to_json())) is StateFeedRecordV1, "records already on the topics still read"
    suspended = feed_record(StateFeedRecordV2, record_type="credential_suspended", consequence="kept",
                            changed_at="2026-01-05T10:00:00Z", changed_by="admin-1", reason="Evidence under review")
    decoded = decode_event(suspended.to_json())
    assert isinstance(decoded, StateFeedRecordV2) and decoded.event_version == 2
    assert decoded.consequence == "kept" and decoded.destination_topic() == "licensure.state.TN"
    # Every v1 record is v2 content: a v2 reader may read the topic's history with the v2 model.
    as_v2 = json.loads(old.to_json()) | {"event_version": 2}
    assert StateFeedRecordV2.model_validate(as_v2).record_type == "credit_posted"
    with pytest.raises(ValidationError):
        feed_record(StateFeedRecordV1, record_type="credential_suspended")
    # A v2 record has what its kind promises (the feed's AsyncAPI document lists it): no consequence, no record.
    with pytest.raises(ValidationError, match="needs consequence"):
        feed_record(StateFeedRecordV2, record_type="credential_suspended", changed_at="2026-01-05T10:00:00Z",
                    changed_by="admin-1", reason="Evidence under review")


def recognition(**overrides: object) -> dict[str, object]:
    return dict(entry_id=uuid.uuid4(), program_id="LA-MENTOR-TEACHER", program_version=1, outcome_kind="designation",
                outcome_label="Mentor Teacher", key="complete", year=2026, award_ids=(uuid.uuid4(),),
                reason="holds every credential of the stack") | overrides


def test_recognition_records_needed_a_third_version_and_v2_records_still_decode_and_read_as_v3() -> None:
    assert incompatibilities(current_schema(StateFeedRecordV2), current_schema(StateFeedRecord))
    old = feed_record(StateFeedRecordV2)
    assert type(decode_event(old.to_json())) is StateFeedRecordV2, "records already on the topics still read"
    assert StateFeedRecord.model_validate(json.loads(old.to_json()) | {"event_version": 3}).award_id == old.award_id
    granted = feed_record(StateFeedRecord, record_type="recognition_granted", district="Caddo Parish", award_id=None,
                          credential_id=None, credential_name=None, amount=None, entry_id=None, unit=None,
                          earned_in_cycle=None, required_in_cycle=None, rule_set_id=None, rule_set_version=None,
                          credential=None, recognition=recognition(district="Caddo Parish"))
    decoded = decode_event(granted.to_json())
    assert isinstance(decoded, StateFeedRecord) and decoded.event_version == 3 and decoded.recognition is not None
    assert decoded.recognition.outcome_label == "Mentor Teacher" and decoded.district == "Caddo Parish"
    with pytest.raises(ValidationError):
        feed_record(StateFeedRecordV2, record_type="recognition_granted")
    # Each kind has what the feed's document promises it: a recognition its outcome, an award record its award.
    with pytest.raises(ValidationError, match="needs recognition"):
        feed_record(StateFeedRecord, record_type="recognition_reversed")
    with pytest.raises(ValidationError, match="needs award_id"):
        feed_record(StateFeedRecord, award_id=None)


def test_producers_cannot_invent_fields_but_consumers_ignore_unknown_ones() -> None:
    with pytest.raises(ValidationError):
        CreditPosted.model_validate(json.loads(credit().to_json()) | {"bonus": 1})
    grown = json.loads(credit().to_json()) | {"added_in_a_later_release": "x"}
    decoded = decode_event(json.dumps(grown))
    assert isinstance(decoded, CreditPosted)


def test_occurred_at_is_utc_and_states_are_state_codes() -> None:
    event = credit()
    assert event.occurred_at.utcoffset() is not None and event.occurred_at.utcoffset().total_seconds() == 0
    with pytest.raises(ValidationError):
        credit(states=("Tennessee",))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{nope", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"event_type": "licensure.credit-posted"}', "required"),
        (b'{"event_type": "licensure.credit-posted", "event_version": 7}', "unknown event type/version"),
        (b'{"event_type": "licensure.credit-posted", "event_version": 1}', "failed validation"),
    ],
)
def test_messages_that_can_never_succeed_are_poison(raw: bytes, reason: str) -> None:
    with pytest.raises(PoisonMessage, match=reason):
        decode_event(raw)


def test_a_rubric_needs_its_passing_level_in_every_criterion() -> None:
    levels = [{"key": "not-yet", "name": "Not Yet", "points": 0}, {"key": "proficient", "name": "Proficient", "points": 1}]
    with pytest.raises(ValidationError, match="passing level"):
        Rubric.model_validate({"criteria": [{"key": "a", "name": "A", "levels": levels}],
                               "passing_rule": {"kind": "all_criteria_at_least", "level": "exemplary"}})
