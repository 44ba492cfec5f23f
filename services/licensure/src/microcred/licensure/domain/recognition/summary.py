"""A program in plain words, for the teachers and staff who read it in the portal and the API.

The words come from the program's data alone, plus the catalog's current stacks and pathways (how many
credentials "every credential of the stack" is today) and the credential names licensure has heard: a
program file is the only source, so the summary can never say something the evaluation does not do.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from uuid import UUID

from microcred.licensure.domain.recognition.programs import (
    CompletePathway,
    CompleteStack,
    CountFromSet,
    CredentialSet,
    Eligibility,
    EquivalencyHours,
    IncentivePerCredential,
    Program,
)
from microcred.licensure.domain.recognition.replay import Memberships


def _num(amount: Decimal) -> str:
    return format(amount.normalize(), "f")


def _credentials(n: int) -> str:
    return "1 credential" if n == 1 else f"{n} credentials"


def _listed(ids: tuple[UUID, ...], names: Mapping[UUID, str]) -> str:
    return ", ".join(names.get(i, f"credential {i}") for i in ids)


def _stack(stack_id: UUID, memberships: Memberships) -> str:
    members = memberships.stacks.get(stack_id)
    return "a stack the catalog has not described yet" if not members else f"a stack of {_credentials(len(members))}"


def _set(from_set: CredentialSet, memberships: Memberships, names: Mapping[UUID, str]) -> str:
    """The set as what follows "from": "all published micro-credentials", "a stack of 3 credentials"."""
    if from_set.any_credential:
        return "all published micro-credentials"
    parts = []
    if from_set.credentials:
        parts.append(_listed(from_set.credentials, names))
    parts += [_stack(s, memberships) for s in from_set.stacks]
    return " or ".join(parts)


def rule_summary(program: Program, memberships: Memberships, names: Mapping[UUID, str]) -> str:
    """What earns the outcome, in one sentence."""
    rule, outcome = program.rule, program.outcome
    label = outcome.label
    if isinstance(rule, CountFromSet):
        basis = "calendar year" if rule.year == "calendar" else "program year"
        cap = f", at most {rule.max_per_year} per {basis} (more wait for the next year)" if rule.max_per_year else ""
        if rule.repeats and outcome.kind == "salary_step":
            return (f"Every {_credentials(rule.count)} from {_set(rule.from_set, memberships, names)} earn one "
                    f"{label}{cap}.")
        return f"{_credentials(rule.count)} from {_set(rule.from_set, memberships, names)} earn {label}{cap}."
    if isinstance(rule, CompleteStack):
        return f"Holding every credential of {_stack(rule.stack_id, memberships)} earns {label}."
    if isinstance(rule, CompletePathway):
        members = memberships.pathways.get(rule.pathway_id)
        what = "a pathway the catalog has not described yet" if not members else \
            f"a pathway of {_credentials(len(members))}"
        return f"Holding every credential of {what} earns {label}."
    if isinstance(rule, Eligibility):
        parts = ([_listed(rule.credentials, names)] if rule.credentials else []) + [
            f"every credential of {_stack(s, memberships)}" for s in rule.stacks]
        role = outcome.role
        where = "" if role is None else " (" + ", ".join(
            p for p in (role.title, role.subject, None if role.grade_band is None else f"grades {role.grade_band}")
            if p) + ")"
        return f"Holding {' and '.join(parts)} makes a teacher eligible for {label}{where}."
    if isinstance(rule, IncentivePerCredential):
        assert outcome.amount is not None  # Program refuses an incentive without one
        basis = "calendar year" if rule.year == "calendar" else "program year"
        cap = "" if rule.cap_per_year is None else f", at most {_num(rule.cap_per_year)} {outcome.unit} per {basis}"
        return (f"Each credential from {_set(rule.from_set, memberships, names)} earns {_num(outcome.amount)} "
                f"{outcome.unit} ({label}){cap}.")
    assert isinstance(rule, EquivalencyHours)
    return (f"Each credential from {_set(rule.from_set, memberships, names)} counts "
            f"{_num(rule.hours_per_credential)} hours toward {_num(rule.target_hours)} hours for {label}.")


def options_summary(program: Program) -> list[str]:
    """The program's options that change what a teacher must do or keeps, one short sentence each."""
    said = []
    if program.validity_months is not None:
        said.append(f"A credential counts for {program.validity_months} months after it is issued.")
    if program.requires_growth_plan:
        said.append("Only credentials in the teacher's professional growth plan count.")
    if program.requires_district_approval:
        said.append(f"{program.district} approves each outcome before it is final.")
    for cause, treatment in (("revocation", program.on_revocation), ("suspension", program.on_suspension),
                             ("expiry", program.on_expiry)):
        said.append(f"A credential's {cause} {'takes the outcome back' if treatment == 'reverse' else 'keeps it'}.")
    return said
