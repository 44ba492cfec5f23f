"""The rule sets that ship with the service, as data: one JSON file per state in ``rule_sets/``.

A file holds every version of one rule set. Versions are immutable once published (ledger entries cite
them), so a change is a new version with its own ``effective_from``; the service adds missing versions
at start and refuses to start when a file contradicts a version already in the database.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from microcred.licensure.adapters.data_files import json_files, shipped
from microcred.licensure.domain.model import Amount, RuleSet
from microcred.runtime.api_types import Ordinal, Text


class RuleTerms(BaseModel):
    """The terms of one rule set version, as files and the publishing API state them."""

    model_config = ConfigDict(extra="forbid")

    effective_from: date
    unit: Literal["points", "hours", "CEUs", "credits"]
    amount_per_credential: Annotated[Amount, Field(gt=0)]
    required_per_cycle: Annotated[Amount, Field(gt=0)]
    cap_per_cycle: Annotated[Amount, Field(gt=0)] | None = None
    accepts: Literal["all", "listed", "state_approved"] = "all"
    accepted_issuers: list[UUID] = Field(default=[], max_length=1000)
    accepted_credentials: list[UUID] = Field(default=[], max_length=10_000)
    requires_growth_plan_match: bool = False
    requires_district_approval: bool = False
    on_revocation: Literal["reverse", "keep"] = "reverse"
    on_expiry: Literal["reverse", "keep"] = "keep"
    source_url: Annotated[Text, Field(max_length=2000)] | None = None
    source_note: Annotated[Text, Field(max_length=20_000)] = ""

    def rule_set(self, rule_set_id: str, state: str, version: int, example: bool) -> RuleSet:
        return RuleSet(
            rule_set_id=rule_set_id, state=state, version=version, effective_from=self.effective_from,
            unit=self.unit, amount_per_credential=self.amount_per_credential,
            required_per_cycle=self.required_per_cycle, source_note=self.source_note,
            cap_per_cycle=self.cap_per_cycle, accepts=self.accepts, accepted_issuers=tuple(self.accepted_issuers),
            accepted_credentials=tuple(self.accepted_credentials),
            requires_growth_plan_match=self.requires_growth_plan_match,
            requires_district_approval=self.requires_district_approval, on_revocation=self.on_revocation,
            on_expiry=self.on_expiry, source_url=self.source_url, example=example,
        )


class RuleSetVersionFile(RuleTerms):
    version: Ordinal


class RuleSetFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule_set_id: str = Field(min_length=1, max_length=80)
    state: str = Field(pattern=r"^[A-Z]{2}$")
    agency: str
    example: bool
    note: str = ""
    versions: list[RuleSetVersionFile] = Field(min_length=1)

    def rule_sets(self) -> list[RuleSet]:
        return [v.rule_set(self.rule_set_id, self.state, v.version, self.example) for v in self.versions]


def parse_rule_set_file(text: str, name: str) -> list[RuleSet]:
    try:
        return RuleSetFile.model_validate(json.loads(text)).rule_sets()
    except (ValidationError, json.JSONDecodeError) as error:
        raise ValueError(f"rule set file {name} is invalid: {error}") from None


def shipped_rule_sets() -> list[RuleSet]:
    return [rule_set for name, text in json_files(shipped("rule_sets")) for rule_set in parse_rule_set_file(text, name)]
