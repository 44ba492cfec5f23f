"""Licensure use cases. Each runs in one unit of work and commits once.

An award reaches a license in one of two ways: the award.awarded event finds the teacher's licenses, or
a license registered later finds the teacher's earlier awards. Both take the teacher's lock and go
through :func:`_credit`, whose ledger insert is unique on (award, license, kind), so either order, and
any number of redeliveries, yields one credit.

catalog.credential-published only feeds the ``credential_versions`` read model that names a credit's
credential for readers; it never credits anything, so its arrival order relative to awards is irrelevant.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID, uuid4

from pydantic import BaseModel, Field, model_validator

from microcred.events import CredentialAwarded, CredentialPublished, CreditPosted
from microcred.licensure.domain.model import (
    AwardRecord,
    CredentialVersion,
    DescribedEntry,
    License,
    RuleSet,
    credit_for,
    describe_entry,
    earned_in_cycle,
    rule_in_force,
)
from microcred.licensure.service_layer.unit_of_work import LicensureUnitOfWork
from microcred.runtime.auth import Principal, Role
from microcred.runtime.context import current_correlation_id
from microcred.runtime.errors import Conflict, Forbidden, Invalid, NotFound

log = logging.getLogger(__name__)


class RegisterLicense(BaseModel):
    teacher_id: str | None = Field(default=None, min_length=1, description="Defaults to the calling teacher.")
    state: str = Field(pattern=r"^[A-Z]{2}$")
    license_number: str = Field(min_length=1, max_length=100)
    license_type: str = Field(min_length=1, max_length=200)
    cycle_start: date
    cycle_end: date

    @model_validator(mode="after")
    def _cycle_ends_after_it_starts(self) -> RegisterLicense:
        if self.cycle_end <= self.cycle_start:
            raise ValueError("cycle_end must be after cycle_start")
        return self


@dataclass(frozen=True)
class Progress:
    license: License
    rule_set: RuleSet | None
    earned: Decimal
    entries: list[DescribedEntry]


def may_see(principal: Principal, license: License) -> bool:
    return (
        principal.has(Role.OPERATOR)
        or (principal.has(Role.STATE_ADMIN) and license.state in principal.states)
        or (principal.has(Role.TEACHER) and license.teacher_id == principal.subject)
    )


async def _credit(
    uow: LicensureUnitOfWork, license: License, award: AwardRecord, *, correlation_id: UUID, causation_id: UUID | None
) -> bool:
    rule_set = rule_in_force(await uow.rule_sets.of_state(license.state), license.state, award.earned_on)
    if rule_set is None:
        log.info("no %s rule set in force on %s; award %s earns license %s nothing",
                 license.state, award.earned_on, award.award_id, license.license_id)
        return False
    entry = credit_for(license, rule_set, award, uuid4())
    if entry is None or not await uow.ledger.append_once(entry):
        return False
    earned = earned_in_cycle(license, await uow.ledger.of_license(license.license_id))
    uow.publish(
        CreditPosted(
            correlation_id=correlation_id,
            causation_id=causation_id,
            states=(license.state,),
            entry_id=entry.entry_id,
            license_id=license.license_id,
            award_id=award.award_id,
            teacher_id=license.teacher_id,
            state=license.state,
            amount=entry.amount,
            unit=entry.unit,
            rule_set_id=entry.rule_set_id,
            rule_set_version=entry.rule_set_version,
            earned_in_cycle=earned,
            required_in_cycle=rule_set.required_per_cycle,
        )
    )
    return True


async def post_credits(event: CredentialAwarded, uow: LicensureUnitOfWork) -> None:
    """Credit every license of the teacher whose cycle holds the award; remember the award for later licenses."""
    async with uow:
        if not await uow.claim("licensure.post_credits", event.event_id):
            return
        await uow.licenses.lock_teacher(event.teacher_id)
        award = AwardRecord(
            award_id=event.award_id,
            teacher_id=event.teacher_id,
            credential_id=event.credential_id,
            credential_version=event.credential_version,
            credential_name=event.credential_name,
            issued_at=event.issued_at,
        )
        await uow.awards.add(award)
        licenses = await uow.licenses.of_teacher(event.teacher_id)
        if not licenses:
            log.info("teacher %s has no license registered; award %s credits nothing yet",
                     event.teacher_id, event.award_id)
        for license in licenses:
            await _credit(uow, license, award, correlation_id=event.correlation_id, causation_id=event.event_id)
        await uow.commit()


async def record_credential_version(event: CredentialPublished, uow: LicensureUnitOfWork) -> None:
    """Remember the version's name, issuer and credit hints, to show them beside the credits it earns."""
    async with uow:
        if not await uow.claim("licensure.record_credential_version", event.event_id):
            return
        await uow.credentials.upsert(CredentialVersion.from_event(event))
        await uow.commit()


async def register_license(command: RegisterLicense, principal: Principal, uow: LicensureUnitOfWork) -> License:
    teacher_id = command.teacher_id
    if teacher_id is None:
        if not principal.has(Role.TEACHER):
            raise Invalid("teacher_id is required unless a teacher registers their own license",
                          code="teacher_id_required")
        teacher_id = principal.subject
    license = License(
        license_id=uuid4(),
        teacher_id=teacher_id,
        state=command.state,
        license_number=command.license_number,
        license_type=command.license_type,
        cycle_start=command.cycle_start,
        cycle_end=command.cycle_end,
    )
    if not may_see(principal, license):
        raise Forbidden(
            "a teacher registers their own licenses; a state admin those of the states they administer",
            code="license_not_yours",
        )
    async with uow:
        await uow.licenses.lock_teacher(teacher_id)
        if not await uow.licenses.add_once(license):
            raise Conflict(
                f"{command.state} license {command.license_number} is already registered", code="license_exists"
            )
        correlation_id = current_correlation_id()
        for award in await uow.awards.of_teacher(teacher_id):
            await _credit(uow, license, award, correlation_id=correlation_id, causation_id=None)
        await uow.commit()
    return license


async def license_progress(
    license_id: UUID, principal: Principal, uow: LicensureUnitOfWork, *, today: date | None = None
) -> Progress:
    async with uow:
        license = await uow.licenses.get(license_id)
        if license is None:
            raise NotFound(f"license {license_id} does not exist", code="license_not_found")
        if not may_see(principal, license):
            raise Forbidden(
                "only the license holder, an admin of its state or an operator may see its progress",
                code="license_not_yours",
            )
        entries = await uow.ledger.of_license(license_id)
        day = license.cycle_reference_day(today or datetime.now(UTC).date())
        rule_set = rule_in_force(await uow.rule_sets.of_state(license.state), license.state, day)
        awards = {a.award_id: a for a in await uow.awards.of_ids({e.award_id for e in entries})}
        credentials = {
            (c.credential_id, c.version): c
            for c in await uow.credentials.of_keys({(a.credential_id, a.credential_version) for a in awards.values()})
        }
    described = []
    for entry in entries:
        award = awards.get(entry.award_id)
        credential = None if award is None else credentials.get((award.credential_id, award.credential_version))
        described.append(describe_entry(entry, award, credential))
    # Earned is summed from the ledger (the state's amounts) only; descriptions add names and hints for reading.
    return Progress(license=license, rule_set=rule_set, earned=earned_in_cycle(license, entries), entries=described)
