"""Licensure contracts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import Field

from microcred.events.base import IntegrationEvent


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


StateRecordType = Literal["award", "credit_pending", "credit_posted", "credit_rejected", "credit_reversed"]


def state_feed_topic(state: str) -> str:
    """The topic of one state's feed: only records about that state's licensees, one ACL per state."""
    if len(state) != 2 or not state.isalpha() or not state.isupper():
        raise ValueError(f"not a two-letter state code: {state!r}")
    return f"{StateFeedRecord.topic}.{state}"


class StateFeedRecord(IntegrationEvent):
    """One record of a state's feed (Kafka topic ``licensure.state.<XX>`` and signed webhooks).

    Written for a state agency that consumes with any Kafka client or HTTP endpoint: self-contained
    (license number, credential name, amounts, the cycle balance), and carrying the signed Open Badges
    credential so the state can verify the award itself instead of trusting the transport.
    """

    topic: ClassVar[str] = "licensure.state"  # a prefix: each state's feed is state_feed_topic(state)
    key_field: ClassVar[str] = "license_id"

    event_type: Literal["licensure.state-record"] = "licensure.state-record"
    event_version: Literal[1] = 1

    record_type: StateRecordType
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
