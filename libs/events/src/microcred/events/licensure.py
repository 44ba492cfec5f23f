"""Licensure contracts."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from microcred.events.base import Contract, IntegrationEvent, RecordKind


class CreditPosted(IntegrationEvent):
    """One award credited one license, under the rule set version named here. Amounts are exact."""

    topic: ClassVar[str] = "licensure.credit-posted"
    key_field: ClassVar[str] = "license_id"

    event_type: Literal["licensure.credit-posted"] = "licensure.credit-posted"
    event_version: Literal[1] = 1

    entry_id: UUID
    license_id: UUID
    award_id: UUID
    teacher_id: str
    state: str = Field(min_length=2, max_length=2)
    amount: Decimal
    unit: str
    rule_set_id: str
    rule_set_version: int
    earned_in_cycle: Decimal
    required_in_cycle: Decimal


class CreditReversed(IntegrationEvent):
    """A posted credit was taken back (the credential was revoked, or expired under a rule that says so).

    The ledger keeps the credit and appends this reversal; the balance is their sum.
    """

    topic: ClassVar[str] = "licensure.credit-reversed"
    key_field: ClassVar[str] = "license_id"

    event_type: Literal["licensure.credit-reversed"] = "licensure.credit-reversed"
    event_version: Literal[1] = 1

    entry_id: UUID = Field(description="The reversal entry.")
    reverses_entry_id: UUID
    license_id: UUID
    award_id: UUID
    teacher_id: str
    state: str = Field(min_length=2, max_length=2)
    amount: Decimal = Field(description="Negative: the amount taken back.")
    unit: str
    reason: str
    earned_in_cycle: Decimal
    required_in_cycle: Decimal


RecognitionOutcomeKind = Literal["salary_step", "designation", "eligibility", "incentive", "equivalency_hours"]


class _RecognitionChange(IntegrationEvent):
    """What the recognition ledger's entries say, for those who act on them (payroll, HR, a district's roster).

    Keyed by teacher: a teacher's grants and reversals stay in order on one partition.
    """

    key_field: ClassVar[str] = "teacher_id"

    entry_id: UUID = Field(description="The recognition ledger entry.")
    teacher_id: str
    program_id: str
    program_version: int = Field(ge=1)
    state: str = Field(min_length=2, max_length=2)
    district: str | None = None
    outcome_kind: RecognitionOutcomeKind
    outcome_label: str
    amount: Decimal | None = Field(default=None, description="This entry's amount (an incentive's top-up), if any.")
    unit: str | None = None
    key: str = Field(description='The outcome within the program: "complete", "step-2", "year-2025".')
    year: int
    award_ids: tuple[UUID, ...] = Field(description="The awards the outcome rests on.")
    reason: str


class RecognitionGranted(_RecognitionChange):
    """A teacher earned a program's outcome (a designation, a salary step, an eligibility, an incentive, hours);
    ``pending`` while the program's district has yet to approve it. The district's approval is published as
    this event again, for the same key, with ``pending`` false and the approval as the reason."""

    topic: ClassVar[str] = "licensure.recognition-granted"

    event_type: Literal["licensure.recognition-granted"] = "licensure.recognition-granted"
    event_version: Literal[1] = 1

    pending: bool = False


class RecognitionReversed(_RecognitionChange):
    """A granted outcome was taken back (in part, for an incentive) because the awards behind it no longer
    earn it, as the program says (a revocation, a suspension, an expiry, a growth plan changed), or a pending
    one was declined by the program's district, the reason then being the district's. A declined outcome is
    not granted again."""

    topic: ClassVar[str] = "licensure.recognition-reversed"

    event_type: Literal["licensure.recognition-reversed"] = "licensure.recognition-reversed"
    event_version: Literal[1] = 1

    pending: bool = False


StateRecordTypeV1 = Literal["award", "credit_pending", "credit_posted", "credit_rejected", "credit_reversed"]
#: v2 adds the credential's status changes, so a state limited to its own topic learns that a credential it
#: was told about (and perhaps credited) was suspended, reinstated, revoked or has expired.
StateRecordTypeV2 = Literal[
    "award", "credit_pending", "credit_posted", "credit_rejected", "credit_reversed",
    "credential_suspended", "credential_reinstated", "credential_revoked", "credential_expired",
]
#: v3 adds the recognition records: a licensee earned, or lost, an outcome of a recognition program of the state
#: or of the license's district (a designation, a salary step, an eligibility, an incentive, equivalency hours).
StateRecordType = Literal[
    "award", "credit_pending", "credit_posted", "credit_rejected", "credit_reversed",
    "credential_suspended", "credential_reinstated", "credential_revoked", "credential_expired",
    "recognition_granted", "recognition_reversed",
]
#: What a status change did to the license's credit for the award: ``kept`` (a posted credit stays posted),
#: ``reversed`` (this change reversed it; the record names the reversal entry), ``none`` (no posted credit was
#: affected: the claim was pending, rejected or already reversed).
CreditConsequence = Literal["kept", "reversed", "none"]


_CREDIT = ("entry_id", "amount", "unit", "earned_in_cycle", "required_in_cycle", "rule_set_id", "rule_set_version")

#: The kinds of version 2, as published: the frozen StateFeedRecordV2 checks its records against them.
STATE_RECORD_KINDS_V2: dict[str, RecordKind] = {
    "award": RecordKind(
        "The licensee earned a credential; the signed credential travels along. Its credit decision follows.",
        ("credential",)),
    "credit_posted": RecordKind(
        "The award credited the license: the ledger entry, the amount, and the cycle's balance after it.",
        (*_CREDIT, "credential")),
    "credit_pending": RecordKind(
        "The credit waits for the licensee's district to approve it: the amount it would post.",
        ("amount", "unit", "rule_set_id", "rule_set_version")),
    "credit_rejected": RecordKind(
        "The award earns this license no credit, and why (not accepted, cap reached, no rule in force...).",
        ("reason",)),
    "credit_reversed": RecordKind(
        "A posted credit was taken back (revocation, or an expiry the state's rules reverse); the reversal entry "
        "and the balance after it.",
        (*_CREDIT, "reason")),
    "credential_suspended": RecordKind(
        "The issuer suspended the credential; reinstatement may follow. The consequence is always kept or none: "
        "a suspension moves no credit.", ("reason", "changed_at", "changed_by", "consequence")),
    "credential_reinstated": RecordKind(
        "The issuer reinstated a suspended credential. Kept or none, like the suspension it ends.",
        ("reason", "changed_at", "changed_by", "consequence")),
    "credential_revoked": RecordKind(
        "The issuer revoked the credential, for good. Reversed (naming the reversal and the credit it takes back) "
        "where the state's rules say a revocation reverses, else kept or none.",
        ("reason", "changed_at", "changed_by", "consequence")),
    "credential_expired": RecordKind(
        "The credential's validUntil passed (changed_at). Reversed where the state's rules say an expiry reverses, "
        "else kept or none.", ("reason", "changed_at", "consequence")),
}


_CREDENTIAL = ("award_id", "credential_id", "credential_name")

#: Every kind of state record, for the record's own check and for the feed's AsyncAPI document (a message each).
#: Version 3 made the credential's fields optional in the model, since a recognition rests on several awards; every
#: kind about one award still always carries them.
STATE_RECORD_KINDS: dict[str, RecordKind] = {
    **{kind: RecordKind(spec.description, (*_CREDENTIAL, *spec.required))
       for kind, spec in STATE_RECORD_KINDS_V2.items()},
    "recognition_granted": RecordKind(
        "The licensee earned an outcome of a recognition program of the state or of the license's district (a "
        "designation, a salary step, an eligibility, an incentive, equivalency hours): one record per license the "
        "program applies to. recognition.pending is true while the district has yet to approve it; its approval is "
        "a second recognition_granted record with pending false, a decline a recognition_reversed one.",
        ("recognition",)),
    "recognition_reversed": RecordKind(
        "An outcome granted earlier was taken back (in part, for an incentive) because the awards behind it no "
        "longer earn it as the program says (a revocation, a suspension, an expiry), or the district declined it. "
        "recognition.reason says why.",
        ("recognition",)),
}


def state_feed_topic(state: str) -> str:
    """The topic of one state's feed: only records about that state's licensees, one ACL per state."""
    if len(state) != 2 or not state.isalpha() or not state.isupper():
        raise ValueError(f"not a two-letter state code: {state!r}")
    return f"{StateFeedRecord.topic}.{state}"


# Version 1 of a state feed record, as published until status records were added; frozen. No longer
# produced: kept so that the records already on the topics (and webhook replays, which resend the stored
# bytes) still decode, and so its snapshot keeps holding it to what was published. Its docstring and
# schema title are the published ones, so the committed v1 snapshot stays byte for byte as it was.
class StateFeedRecordV1(IntegrationEvent):
    """One record of a state's feed (Kafka topic ``licensure.state.<XX>`` and signed webhooks).

    Written for a state agency that consumes with any Kafka client or HTTP endpoint: self-contained
    (license number, credential name, amounts, the cycle balance), and carrying the signed Open Badges
    credential so the state can verify the award itself instead of trusting the transport.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", title="StateFeedRecord")
    topic: ClassVar[str] = "licensure.state"
    key_field: ClassVar[str] = "license_id"

    event_type: Literal["licensure.state-record"] = "licensure.state-record"
    event_version: Literal[1] = 1

    record_type: StateRecordTypeV1
    state: str = Field(min_length=2, max_length=2)
    license_id: UUID
    license_number: str
    license_type: str
    teacher_id: str
    award_id: UUID
    credential_id: UUID
    credential_name: str
    issuer_id: UUID | None = None
    entry_id: UUID | None = Field(default=None, description="The ledger entry, for credit records.")
    amount: Decimal | None = None
    unit: str | None = None
    earned_in_cycle: Decimal | None = None
    required_in_cycle: Decimal | None = None
    rule_set_id: str | None = None
    rule_set_version: int | None = None
    reason: str | None = Field(default=None, description="Why a credit was capped, rejected or reversed.")
    credential: dict[str, Any] | None = Field(
        default=None, description="The signed OpenBadgeCredential (award and credit_posted records)."
    )
    credential_url: str | None = None

    def destination_topic(self) -> str:
        return state_feed_topic(self.state)


# Version 2 of a state feed record, as published until the recognition records were added; frozen like version
# 1 and for the same reasons (records on the topics and webhook replays still decode; its snapshot is unchanged
# byte for byte: same docstring, same title). Every v2 record is v3 content.
class StateFeedRecordV2(IntegrationEvent):
    """One record of a state's feed (Kafka topic ``licensure.state.<XX>`` and signed webhooks). Version 2.

    Written for a state agency that consumes with any Kafka client or HTTP endpoint: self-contained
    (license number, credential name, amounts, the cycle balance), and carrying the signed Open Badges
    credential so the state can verify the award itself instead of trusting the transport.

    Version 2 is version 1 plus the ``credential_*`` status records and the optional fields they fill
    (``changed_at``, ``changed_by``, ``consequence``, ``reverses_entry_id``). A new value of
    ``record_type`` is a changed constraint, which a reader validating v1 would refuse, so it is a new
    version rather than growth of v1 (ADR 0003). Every v1 record reads as v2 content unchanged.

    A status record's ledger fields depend on its consequence: ``kept`` names the credit that stays
    (``entry_id``, ``amount``, ``unit``); ``reversed`` names the reversal this change appended (its
    ``entry_id`` and negative ``amount``, ``reverses_entry_id`` the credit, and the new balance);
    ``none`` names no entry.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", title="StateFeedRecord")
    topic: ClassVar[str] = "licensure.state"
    key_field: ClassVar[str] = "license_id"
    record_kind_field: ClassVar[str | None] = "record_type"
    record_kinds: ClassVar[Mapping[str, RecordKind]] = STATE_RECORD_KINDS_V2

    event_type: Literal["licensure.state-record"] = "licensure.state-record"
    event_version: Literal[2] = 2

    record_type: StateRecordTypeV2
    state: str = Field(min_length=2, max_length=2)
    license_id: UUID
    license_number: str
    license_type: str
    teacher_id: str
    award_id: UUID
    credential_id: UUID
    credential_name: str
    issuer_id: UUID | None = None
    entry_id: UUID | None = Field(
        default=None, description="The ledger entry: of a credit record, or the one a status record kept or appended."
    )
    amount: Decimal | None = None
    unit: str | None = None
    earned_in_cycle: Decimal | None = None
    required_in_cycle: Decimal | None = None
    rule_set_id: str | None = None
    rule_set_version: int | None = None
    reason: str | None = Field(
        default=None, description="Why a credit was capped, rejected or reversed, or why the status changed."
    )
    credential: dict[str, Any] | None = Field(
        default=None, description="The signed OpenBadgeCredential (award and credit_posted records)."
    )
    credential_url: str | None = None
    changed_at: AwareDatetime | None = Field(
        default=None, description="Status records: when the status changed (for an expiry, the credential's "
        "validUntil). Changes can arrive out of order; the latest changed_at is the credential's status.",
    )
    changed_by: str | None = Field(
        default=None, description="Status records: who made the change, when known (an expiry has nobody)."
    )
    consequence: CreditConsequence | None = Field(
        default=None, description="Status records: what the change did to this license's credit for the award.",
    )
    reverses_entry_id: UUID | None = Field(
        default=None, description="Status records with consequence reversed: the credit entry taken back.",
    )

    @model_validator(mode="after")
    def _fields_of_its_kind(self) -> StateFeedRecordV2:
        # What the feed's document promises each kind of record carries, no record goes out without.
        missing = [name for name in self.record_kinds[self.record_type].required if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.record_type} record needs {', '.join(missing)}")
        return self

    def destination_topic(self) -> str:
        return state_feed_topic(self.state)


class RecognitionOutcome(Contract):
    """What a recognition record says: the program's outcome the licensee earned or lost, as the recognition
    ledger's entry has it. The same facts as the licensure.recognition-granted and -reversed events."""

    entry_id: UUID = Field(description="The recognition ledger entry: one per grant, reversal, approval or decline.")
    program_id: str = Field(description="The recognition program, as the state or district named it.")
    program_version: int = Field(ge=1, description="The version of the program in force that decided this entry.")
    outcome_kind: RecognitionOutcomeKind = Field(
        description="salary_step, designation, eligibility (for a role), incentive (an amount owed) or "
        "equivalency_hours (toward a master's equivalency).")
    outcome_label: str = Field(description='The outcome as the program names it: "Mentor Teacher", "Salary lane step".')
    district: str | None = Field(
        default=None, description="The program's district; none for a program of the whole state.")
    amount: Decimal | None = Field(
        default=None, description="This entry's amount, if the outcome has one (an incentive's, equivalency hours).")
    unit: str | None = Field(default=None, description="The amount's unit: USD, hours.")
    key: str = Field(description='Which outcome within the program: "complete" for a designation or eligibility, '
                     '"step-2" for a salary step, "year-2025" for an incentive of a program year.')
    year: int = Field(description="The calendar or program year the outcome counts in (caps are per year).")
    award_ids: tuple[UUID, ...] = Field(description="The awards the outcome rests on (the credentials it counted).")
    pending: bool = Field(
        default=False, description="Granted but waiting for the district's approval; an approval or a decline follows.")
    reason: str = Field(description="Why the ledger changed, in words: what earned it, or what took it back.")


class StateFeedRecord(IntegrationEvent):
    """One record of a state's feed (Kafka topic ``licensure.state.<XX>`` and signed webhooks). Version 3.

    Written for a state agency that consumes with any Kafka client or HTTP endpoint: self-contained
    (license number, credential name, amounts, the cycle balance), and carrying the signed Open Badges
    credential so the state can verify the award itself instead of trusting the transport.

    Version 3 is version 2 plus the ``recognition_*`` records, the ``recognition`` object they carry, and
    ``district`` (the license's district, on every record, when the license names one: what a district's
    webhook is sent). A recognition rests on several awards rather than one, so ``award_id``,
    ``credential_id`` and ``credential_name`` are optional in the schema; every record about one award (the
    kinds of version 2) still always carries them, as the feed's AsyncAPI document says per kind. A new
    value of ``record_type`` is a changed constraint, hence a new version (ADR 0003); every v2 record reads
    as v3 content unchanged.

    A status record's ledger fields depend on its consequence: ``kept`` names the credit that stays
    (``entry_id``, ``amount``, ``unit``); ``reversed`` names the reversal this change appended (its
    ``entry_id`` and negative ``amount``, ``reverses_entry_id`` the credit, and the new balance);
    ``none`` names no entry.

    A recognition record is written once for each license of the teacher the program applies to (a license
    in the program's state, and in its district when the program belongs to one); its outcome is in
    ``recognition``, and the top-level credit fields stay empty.
    """

    topic: ClassVar[str] = "licensure.state"  # a prefix: each state's feed is state_feed_topic(state)
    key_field: ClassVar[str] = "license_id"
    record_kind_field: ClassVar[str | None] = "record_type"
    record_kinds: ClassVar[Mapping[str, RecordKind]] = STATE_RECORD_KINDS

    event_type: Literal["licensure.state-record"] = "licensure.state-record"
    event_version: Literal[3] = 3

    record_type: StateRecordType
    state: str = Field(min_length=2, max_length=2)
    district: str | None = Field(
        default=None, description="The license's district, when the license names one: a district's own webhooks "
        "are sent the records of its licenses only.")
    license_id: UUID
    license_number: str
    license_type: str
    teacher_id: str
    award_id: UUID | None = Field(default=None, description="The award this record is about (every kind but "
                                  "the recognition records, which name theirs in recognition.award_ids).")
    credential_id: UUID | None = None
    credential_name: str | None = None
    issuer_id: UUID | None = None
    entry_id: UUID | None = Field(
        default=None, description="The ledger entry: of a credit record, or the one a status record kept or appended."
    )
    amount: Decimal | None = None
    unit: str | None = None
    earned_in_cycle: Decimal | None = None
    required_in_cycle: Decimal | None = None
    rule_set_id: str | None = None
    rule_set_version: int | None = None
    reason: str | None = Field(
        default=None, description="Why a credit was capped, rejected or reversed, or why the status changed."
    )
    credential: dict[str, Any] | None = Field(
        default=None, description="The signed OpenBadgeCredential (award and credit_posted records)."
    )
    credential_url: str | None = None
    changed_at: AwareDatetime | None = Field(
        default=None, description="Status records: when the status changed (for an expiry, the credential's "
        "validUntil). Changes can arrive out of order; the latest changed_at is the credential's status.",
    )
    changed_by: str | None = Field(
        default=None, description="Status records: who made the change, when known (an expiry has nobody)."
    )
    consequence: CreditConsequence | None = Field(
        default=None, description="Status records: what the change did to this license's credit for the award.",
    )
    reverses_entry_id: UUID | None = Field(
        default=None, description="Status records with consequence reversed: the credit entry taken back.",
    )
    recognition: RecognitionOutcome | None = Field(
        default=None, description="Recognition records: the program's outcome granted or reversed.")

    @model_validator(mode="after")
    def _fields_of_its_kind(self) -> StateFeedRecord:
        # What the feed's document promises each kind of record carries, no record goes out without.
        missing = [name for name in self.record_kinds[self.record_type].required if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.record_type} record needs {', '.join(missing)}")
        return self

    def destination_topic(self) -> str:
        return state_feed_topic(self.state)
