"""Licensure contracts."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal
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
