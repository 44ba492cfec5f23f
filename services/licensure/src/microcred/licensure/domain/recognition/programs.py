"""Recognition programs as data: what a state or a district gives a teacher for earned micro-credentials.

A program is versioned and effective-dated like a renewal rule set: a version is immutable once
published (ledger entries cite it), so a change is a new version. A program has one outcome (a salary
step, a designation, an eligibility, an incentive or a master's equivalency) and ONE rule of a kind that
says what earns it. Programs are pydantic models rather than dataclasses because they travel as JSON
(files now, the database and the API later) and the rule is a union told apart by its ``kind``.

Stack and pathway membership is not part of a program: the catalog owns it and publishes it
(catalog.stack-changed, catalog.pathway-changed), so a program names a stack or pathway by id and the
evaluation is handed the current membership as data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

Treatment = Literal["reverse", "keep"]
#: Why an award stopped counting. A program's own validity window is an expiry it sets itself.
Cause = Literal["revocation", "suspension", "expiry"]
OutcomeKind = Literal["salary_step", "designation", "eligibility", "incentive", "equivalency_hours"]
Positive = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=4)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Role(_Model):
    """The position an eligibility or designation is for, as a district posts it."""

    title: Name
    subject: Annotated[str, Field(max_length=200)] | None = None
    grade_band: Annotated[str, Field(max_length=50)] | None = None


class OutcomeSpec(_Model):
    """What the program gives. ``amount`` is per outcome (one step, one designation); for an incentive
    it is what each credential earns, the rule's cap bounding a year's total."""

    kind: OutcomeKind
    label: Name
    role: Role | None = None
    amount: Positive | None = None
    unit: Annotated[str, Field(min_length=1, max_length=20)] | None = None  # "USD", "hours", "lane step"

    @model_validator(mode="after")
    def _amount_has_unit(self) -> OutcomeSpec:
        if (self.amount is None) != (self.unit is None):
            raise ValueError("amount and unit go together: give both or neither")
        return self


class CredentialSet(_Model):
    """Which credentials a rule counts: listed ones, any credential of listed stacks, or any at all.

    "Any" means any credential the catalog published: publication is the catalog's approval, so there is
    no separate approved list to keep in step.
    """

    credentials: tuple[UUID, ...] = ()
    stacks: tuple[UUID, ...] = ()
    any_credential: bool = False

    @model_validator(mode="after")
    def _says_something(self) -> CredentialSet:
        if self.any_credential and (self.credentials or self.stacks):
            raise ValueError("any_credential counts every credential: list no credentials or stacks with it")
        if not (self.any_credential or self.credentials or self.stacks):
            raise ValueError("name credentials or stacks, or set any_credential")
        return self

    def contains(self, credential_id: UUID, stacks: Mapping[UUID, frozenset[UUID]]) -> bool:
        return (self.any_credential or credential_id in self.credentials
                or any(credential_id in stacks.get(stack, frozenset()) for stack in self.stacks))


class CountFromSet(_Model):
    """Every ``count`` distinct credentials from the set earn one unit (a lane step).

    At most ``max_per_year`` units fall in one year; a unit earned beyond it waits for the next year
    rather than being lost, since a salary schedule banks credentials. Without ``repeats`` only the
    first unit is ever earned.
    """

    kind: Literal["count_from_set"] = "count_from_set"
    from_set: CredentialSet
    count: Annotated[int, Field(ge=1, le=1000)]
    max_per_year: Annotated[int, Field(ge=1, le=100)] | None = None
    repeats: bool = True
    year: Literal["calendar", "program"] = "calendar"


class CompleteStack(_Model):
    kind: Literal["complete_stack"] = "complete_stack"
    stack_id: UUID


class CompletePathway(_Model):
    kind: Literal["complete_pathway"] = "complete_pathway"
    pathway_id: UUID


class Eligibility(_Model):
    """Eligibility for a role once the teacher holds every listed credential and every credential of
    every listed stack."""

    kind: Literal["eligibility"] = "eligibility"
    credentials: tuple[UUID, ...] = ()
    stacks: tuple[UUID, ...] = ()

    @model_validator(mode="after")
    def _requires_something(self) -> Eligibility:
        if not (self.credentials or self.stacks):
            raise ValueError("eligibility needs credentials or stacks")
        return self


class IncentivePerCredential(_Model):
    """Each distinct credential from the priority set earns the outcome's amount, in the year it was
    issued, with a year's total held to ``cap_per_year``; what is over the cap is not owed later."""

    kind: Literal["incentive_per_credential"] = "incentive_per_credential"
    from_set: CredentialSet
    cap_per_year: Positive | None = None
    year: Literal["calendar", "program"] = "calendar"


class EquivalencyHours(_Model):
    """Each distinct credential from the set counts ``hours_per_credential`` toward ``target_hours``."""

    kind: Literal["equivalency_hours"] = "equivalency_hours"
    from_set: CredentialSet
    hours_per_credential: Positive
    target_hours: Positive


Rule = Annotated[
    CountFromSet | CompleteStack | CompletePathway | Eligibility | IncentivePerCredential | EquivalencyHours,
    Field(discriminator="kind"),
]

#: Which outcomes each rule kind can give: a count of credentials is a step or a one-off designation, a
#: completion a designation or an eligibility, and money and hours need the rules that count them.
OUTCOMES_BY_RULE: dict[str, frozenset[str]] = {
    "count_from_set": frozenset({"salary_step", "designation"}),
    "complete_stack": frozenset({"designation", "eligibility"}),
    "complete_pathway": frozenset({"designation", "eligibility"}),
    "eligibility": frozenset({"eligibility"}),
    "incentive_per_credential": frozenset({"incentive"}),
    "equivalency_hours": frozenset({"equivalency_hours"}),
}


class Program(_Model):
    """One version of a recognition program of a state or of one of its districts."""

    program_id: Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._-]+$")]
    version: Annotated[int, Field(ge=1)]
    state: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    district: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    name: Name
    effective_from: date
    effective_to: date | None = None  # the last day it is in force; None = until a later version
    outcome: OutcomeSpec
    rule: Rule
    validity_months: Annotated[int, Field(ge=1, le=1200)] | None = None
    requires_growth_plan: bool = False
    requires_district_approval: bool = False
    on_revocation: Treatment = "reverse"
    on_suspension: Treatment = "reverse"
    on_expiry: Treatment = "keep"
    # The first day of a program year (MM-DD), for rules that count by program year rather than calendar.
    program_year_starts: Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")] = "07-01"
    confirm_with_agency: bool = True
    note: Annotated[str, Field(max_length=20_000)] = ""

    @model_validator(mode="after")
    def _coherent(self) -> Program:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        if self.outcome.kind not in OUTCOMES_BY_RULE[self.rule.kind]:
            allowed = ", ".join(sorted(OUTCOMES_BY_RULE[self.rule.kind]))
            raise ValueError(f"a {self.rule.kind} rule gives {allowed}, not {self.outcome.kind}")
        if self.rule.kind == "incentive_per_credential" and self.outcome.amount is None:
            raise ValueError("an incentive needs the outcome's amount per credential")
        if self.requires_district_approval and self.district is None:
            raise ValueError("requires_district_approval needs the program's district")
        return self

    @property
    def owner(self) -> str:
        return self.state if self.district is None else f"{self.district}, {self.state}"

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def year_of(self, day: date, basis: Literal["calendar", "program"]) -> int:
        """The year a day counts in, named by the calendar year it starts in (program year 2025 = from
        2025-07-01 to 2026-06-30 with the default start)."""
        if basis == "calendar":
            return day.year
        month, first = (int(part) for part in self.program_year_starts.split("-"))
        return day.year if (day.month, day.day) >= (month, first) else day.year - 1

    def treatment(self, cause: Cause) -> Treatment:
        return {"revocation": self.on_revocation, "suspension": self.on_suspension,
                "expiry": self.on_expiry}[cause]


def program_in_force(programs: Iterable[Program], program_id: str, on: date) -> Program | None:
    """The version of ``program_id`` in force ``on`` that day: the latest effective, then the highest."""
    candidates = [p for p in programs if p.program_id == program_id and p.in_force(on)]
    return max(candidates, key=lambda p: (p.effective_from, p.version), default=None)
