"""Licensure use cases. Each runs in one unit of work and commits once.

An award reaches a license in one of two ways: the award.awarded event finds the teacher's licenses, or
a license registered later finds the teacher's earlier awards. Both take the teacher's lock and go
through :func:`_settle`, which records the one decision per (award, license) (a primary key), so either
order and any number of redeliveries give one decision and at most one credit.

award.revoked may arrive before or after award.awarded (different topics): it is recorded either way,
a later award then settles as rejected, and posted credits are reversed where the rule set says so.

award.suspended, award.reinstated and award.revoked, and the expiry sweep, tell every state whose licensee
has a decision on the award (posted, pending, rejected or reversed: the state was sent the award record
for each, so its copy of the credential would otherwise go stale) with one status record per change and
license, stating what the change did to that credit: ``kept``, ``reversed`` (naming the reversal) or
``none``. A change is recorded once per (award, status, changed_at), so a redelivery or a republication
under a new event id announces nothing twice; a license that meets an award after it was suspended or
revoked hears the standing right after the award itself.

Every decision is also a record for the state's feed (its Kafka topic and its webhooks), written in the
same transaction through the outbox, so a state sees exactly what the ledger holds.

catalog.credential-published only feeds the ``credential_versions`` read model that names a credit's
credential for readers; it never credits anything, so its arrival order relative to awards is irrelevant.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from pydantic import Field, model_validator

from microcred.events import (
    CredentialAwarded,
    CredentialPublished,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
    CreditPosted,
    CreditReversed,
    PathwayChanged,
    StackChanged,
    StateFeedRecord,
    StateRecordType,
)
from microcred.licensure.adapters.rule_files import RuleTerms
from microcred.licensure.domain.model import (
    Amount,
    AwardRecord,
    ClaimStatus,
    CredentialVersion,
    CreditClaim,
    DescribedEntry,
    EntryKind,
    LedgerEntry,
    License,
    RuleSet,
    StatusChange,
    Treatment,
    capped_amount,
    describe_entry,
    earned_in_cycle,
    evaluate,
    rule_in_force,
    standing,
)
from microcred.licensure.domain.recognition import Program
from microcred.licensure.domain.reports import CompetencyMatrix, competency_matrix
from microcred.licensure.service_layer import recognitions
from microcred.licensure.service_layer.permissions import (
    fields_a_teacher_may_not_set,
    may_administer,
    may_decide,
    may_see,
    report_scope,
)
from microcred.licensure.service_layer.unit_of_work import LicensureUnitOfWork
from microcred.runtime.api_types import Day, Matching, RequestModel, StateCode, Text
from microcred.runtime.auth import Principal, Role
from microcred.runtime.context import current_correlation_id
from microcred.runtime.errors import Conflict, Forbidden, Invalid, NotFound

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


# -- commands ----------------------------------------------------------------------------------------


class RegisterLicense(RequestModel):
    """A license, as its teacher declares it or as the state registers it (who may set what: ADR 0004)."""

    teacher_id: Annotated[Text, Field(
        min_length=1, max_length=200,
        description="Defaults to the calling teacher; a state admin or operator names the teacher.",
    )] | None = None
    state: Annotated[StateCode, Field(description="A teacher registers only in a state their token carries.")]
    license_number: Annotated[Text, Field(min_length=1, max_length=100)]
    license_type: Annotated[Text, Field(min_length=1, max_length=200)]
    cycle_start: Day
    cycle_end: Day
    required_amount: Annotated[Amount, Field(
        gt=0, description="Overrides the rule set's requirement. Set by the state (state admin or operator) only.",
    )] | None = None
    district: Annotated[Text, Field(
        max_length=200,
        description="A teacher's comes from their token (they may repeat it, not change it); the state may set it.",
    )] | None = None
    growth_plan: list[UUID] = Field(default=[], max_length=500,
                                    description="Credentials in the teacher's professional growth plan.")

    @model_validator(mode="after")
    def _cycle_ends_after_it_starts(self) -> RegisterLicense:
        if self.cycle_end <= self.cycle_start:
            raise ValueError("cycle_end must be after cycle_start")
        return self


class PublishRuleSet(RuleTerms):
    """A new version of a state's rule set; versions already published never change."""

    rule_set_id: Annotated[str, Matching(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"), Field(min_length=1, max_length=80)]
    state: StateCode
    example: bool = False


class Decision(RequestModel):
    approve: bool
    reason: Annotated[Text, Field(max_length=2000)] = ""


class GrowthPlan(RequestModel):
    credential_ids: list[UUID] = Field(max_length=500)


class Adjustment(RequestModel):
    """A correction by the state, in the unit of the rule set in force: positive adds, negative takes away."""

    amount: Annotated[Amount, Field(description="Non-zero; in the unit of the license's rule set in force today.")]
    reason: Annotated[Text, Field(min_length=1, max_length=2000)]

    @model_validator(mode="after")
    def _not_zero(self) -> Adjustment:
        if self.amount == 0:
            raise ValueError("an adjustment of zero changes nothing")
        return self


@dataclass(frozen=True)
class Progress:
    license: License
    rule_set: RuleSet | None
    required: Decimal | None
    earned: Decimal
    entries: list[DescribedEntry]
    claims: list[tuple[CreditClaim, AwardRecord | None]]


# -- the state feed ------------------------------------------------------------------------------------


async def _feed(
    uow: LicensureUnitOfWork, record_type: StateRecordType, license: License, award: AwardRecord, *,
    correlation_id: UUID, causation_id: UUID | None, **fields: Any,
) -> None:
    """One record for the license's state: to its Kafka topic (outbox) and its webhooks, in this transaction."""
    record = StateFeedRecord(
        correlation_id=correlation_id,
        causation_id=causation_id,
        states=(license.state,),
        record_type=record_type,
        state=license.state,
        district=license.district,
        license_id=license.license_id,
        license_number=license.license_number,
        license_type=license.license_type,
        teacher_id=license.teacher_id,
        award_id=award.award_id,
        credential_id=award.credential_id,
        credential_name=award.credential_name,
        issuer_id=award.issuer_id,
        credential_url=award.credential_url,
        **fields,
    )
    uow.publish(record)
    await uow.webhooks.enqueue(record)


# -- settling an award against a license -------------------------------------------------------------


async def _post(
    uow: LicensureUnitOfWork, license: License, rule_set: RuleSet, award: AwardRecord, claim: CreditClaim,
    prior: list[LedgerEntry], *, correlation_id: UUID, causation_id: UUID | None,
) -> None:
    """Append the claim's credit; ``prior`` is the license's ledger as the caller read it in this transaction
    (under the teacher's lock), so the new balance is that plus this entry."""
    assert claim.amount is not None
    entry = LedgerEntry(
        entry_id=uuid4(), license_id=license.license_id, award_id=award.award_id, kind=EntryKind.CREDIT,
        amount=claim.amount, unit=rule_set.unit, rule_set_id=rule_set.rule_set_id,
        rule_set_version=rule_set.version, earned_on=award.earned_on, reason=claim.reason,
    )
    if not await uow.ledger.append_once(entry):
        return
    earned = earned_in_cycle(license, [*prior, entry])
    required = license.required(rule_set) or rule_set.required_per_cycle
    posted = CreditPosted(
        correlation_id=correlation_id, causation_id=causation_id, states=(license.state,),
        entry_id=entry.entry_id, license_id=license.license_id, award_id=award.award_id,
        teacher_id=license.teacher_id, state=license.state, amount=entry.amount, unit=entry.unit,
        rule_set_id=entry.rule_set_id, rule_set_version=entry.rule_set_version, earned_in_cycle=earned,
        required_in_cycle=required,
    )
    uow.publish(posted)
    if causation_id is not None:
        # Settled as the award arrived: flow time. A credit for a license registered later, or posted on a
        # district's approval, measures that wait instead, so it is left out.
        uow.note_award_to_credit(license.state, (posted.occurred_at - award.issued_at).total_seconds())
    await _feed(uow, "credit_posted", license, award, correlation_id=correlation_id, causation_id=causation_id,
                entry_id=entry.entry_id, amount=entry.amount, unit=entry.unit, earned_in_cycle=earned,
                required_in_cycle=required, rule_set_id=rule_set.rule_set_id, rule_set_version=rule_set.version,
                reason=claim.reason, credential=award.credential)


@dataclass
class AwardFacts:
    """What settling one award reads about it, read where the first license needs it and shared by the teacher's
    other licenses in the same transaction: under the teacher's lock nothing else writes them meanwhile (a
    revocation or a status change takes the same lock), and settling writes neither."""

    award_id: UUID
    new: bool = False  # added by this transaction: no license can have a decision on it yet
    _revoked: bool | None = None
    _changes: list[StatusChange] | None = None

    async def revoked(self, uow: LicensureUnitOfWork) -> bool:
        if self._revoked is None:
            self._revoked = await uow.awards.is_revoked(self.award_id)
        return self._revoked

    async def changes(self, uow: LicensureUnitOfWork) -> list[StatusChange]:
        if self._changes is None:
            self._changes = await uow.awards.status_changes(self.award_id)
        return self._changes

    def known_changes(self) -> dict[UUID, list[StatusChange]]:
        return {} if self._changes is None else {self.award_id: self._changes}


async def _settle(
    uow: LicensureUnitOfWork, license: License, award: AwardRecord, *, correlation_id: UUID,
    causation_id: UUID | None, facts: AwardFacts | None = None,
) -> None:
    """Decide what ``award`` does for ``license``, once; post, hold for the district, or say why not."""
    facts = facts or AwardFacts(award.award_id)
    if not facts.new and await uow.claims.get(award.award_id, license.license_id) is not None:
        return
    rule_set = rule_in_force(await uow.rule_sets.of_state(license.state), license.state, award.earned_on)
    approved = await uow.approvals.of_state(license.state) if rule_set and rule_set.accepts == "state_approved" \
        else set()
    ledger = await uow.ledger.of_license(license.license_id)
    outcome = evaluate(
        license, rule_set, award, earned_in_cycle=earned_in_cycle(license, ledger), state_approved=approved,
        revoked=await facts.revoked(uow),
    )
    if outcome is None:
        return
    claim = CreditClaim(
        award_id=award.award_id, license_id=license.license_id, status=outcome.status, reason=outcome.reason,
        earned_on=award.earned_on, rule_set_id=None if rule_set is None else rule_set.rule_set_id,
        rule_set_version=None if rule_set is None else rule_set.version, amount=outcome.amount,
        unit=None if rule_set is None else rule_set.unit,
    )
    if not await uow.claims.add_once(claim):
        return
    log.info("award %s for license %s: %s (%s)", award.award_id, license.license_id, claim.status.value,
             claim.reason or "full credit")
    await _feed(uow, "award", license, award, correlation_id=correlation_id, causation_id=causation_id,
                credential=award.credential)
    if claim.status is ClaimStatus.POSTED:
        assert rule_set is not None
        await _post(uow, license, rule_set, award, claim, ledger, correlation_id=correlation_id,
                    causation_id=causation_id)
    elif claim.status is ClaimStatus.PENDING_APPROVAL:
        await _feed(uow, "credit_pending", license, award, correlation_id=correlation_id,
                    causation_id=causation_id, amount=claim.amount, unit=claim.unit, reason=claim.reason,
                    rule_set_id=claim.rule_set_id, rule_set_version=claim.rule_set_version)
    else:
        await _feed(uow, "credit_rejected", license, award, correlation_id=correlation_id,
                    causation_id=causation_id, reason=claim.reason, rule_set_id=claim.rule_set_id,
                    rule_set_version=claim.rule_set_version)
    await _announce_standing(uow, license, award, claim, await facts.changes(uow), correlation_id=correlation_id,
                             causation_id=causation_id)


@dataclass(frozen=True)
class Reversal:
    """A reversal entry this transaction appended, with the credit it takes back and the balance after it."""

    entry: LedgerEntry
    credit: LedgerEntry
    earned_in_cycle: Decimal
    required_in_cycle: Decimal


async def _reverse(
    uow: LicensureUnitOfWork, license: License, award: AwardRecord, claim: CreditClaim, reason: str, *,
    correlation_id: UUID, causation_id: UUID | None,
) -> Reversal | None:
    """Take a posted credit back: a reversal entry beside it, never an edit of it. None when no entry was
    appended (no credit to take back, or it was already reversed)."""
    credit = await uow.ledger.credit_of(award.award_id, license.license_id)
    claim.status, claim.reason = ClaimStatus.REVERSED, reason
    await uow.claims.save(claim)
    if credit is None:
        return None
    entry = LedgerEntry(
        entry_id=uuid4(), license_id=license.license_id, award_id=award.award_id, kind=EntryKind.REVERSAL,
        amount=-credit.amount, unit=credit.unit, rule_set_id=credit.rule_set_id,
        rule_set_version=credit.rule_set_version, earned_on=credit.earned_on, reason=reason,
        reverses_entry_id=credit.entry_id,
    )
    if not await uow.ledger.append_once(entry):
        return None
    earned = earned_in_cycle(license, await uow.ledger.of_license(license.license_id))
    rule_set = await uow.rule_sets.get(credit.rule_set_id, credit.rule_set_version)
    required = license.required(rule_set) or Decimal(0)
    uow.publish(CreditReversed(
        correlation_id=correlation_id, causation_id=causation_id, states=(license.state,),
        entry_id=entry.entry_id, reverses_entry_id=credit.entry_id, license_id=license.license_id,
        award_id=award.award_id, teacher_id=license.teacher_id, state=license.state, amount=entry.amount,
        unit=entry.unit, reason=reason, earned_in_cycle=earned, required_in_cycle=required,
    ))
    await _feed(uow, "credit_reversed", license, award, correlation_id=correlation_id, causation_id=causation_id,
                entry_id=entry.entry_id, amount=entry.amount, unit=entry.unit, earned_in_cycle=earned,
                required_in_cycle=required, rule_set_id=credit.rule_set_id,
                rule_set_version=credit.rule_set_version, reason=reason)
    return Reversal(entry=entry, credit=credit, earned_in_cycle=earned, required_in_cycle=required)


# -- status changes ----------------------------------------------------------------------------------------

StatusRecordType = Literal["credential_suspended", "credential_reinstated", "credential_revoked", "credential_expired"]
RECORD_OF_STATUS: dict[str, StatusRecordType] = {
    "suspended": "credential_suspended", "reinstated": "credential_reinstated", "revoked": "credential_revoked",
}


async def _announce_status(
    uow: LicensureUnitOfWork, record_type: StatusRecordType, license: License, award: AwardRecord,
    claim: CreditClaim, *, treatment: Treatment, reason: str, changed_at: datetime, changed_by: str | None,
    reversal_reason: str, correlation_id: UUID, causation_id: UUID | None,
) -> bool:
    """Apply one status change to one license's decision on the award, and tell the license's state.

    ``treatment`` is what the change does to a posted credit. Only a posted credit can be kept or
    reversed; any other decision (pending, rejected, capped to nothing, already reversed) has consequence
    ``none``. The status record follows the ledger records it caused (a ``credit_reversed``) and names them.
    True when it reversed a credit.
    """
    kept = await uow.ledger.credit_of(award.award_id, license.license_id) \
        if claim.status is ClaimStatus.POSTED else None
    fields: dict[str, Any] = {"consequence": "none"}
    if kept is not None and treatment == "reverse":
        reversal = await _reverse(uow, license, award, claim, reversal_reason, correlation_id=correlation_id,
                                  causation_id=causation_id)
        if reversal is not None:
            fields = {
                "consequence": "reversed", "entry_id": reversal.entry.entry_id, "amount": reversal.entry.amount,
                "unit": reversal.entry.unit, "reverses_entry_id": reversal.credit.entry_id,
                "earned_in_cycle": reversal.earned_in_cycle, "required_in_cycle": reversal.required_in_cycle,
                "rule_set_id": reversal.entry.rule_set_id, "rule_set_version": reversal.entry.rule_set_version,
            }
    elif kept is not None:
        fields = {
            "consequence": "kept", "entry_id": kept.entry_id, "amount": kept.amount, "unit": kept.unit,
            "rule_set_id": kept.rule_set_id, "rule_set_version": kept.rule_set_version,
        }
    await _feed(uow, record_type, license, award, correlation_id=correlation_id, causation_id=causation_id,
                reason=reason, changed_at=changed_at, changed_by=changed_by, **fields)
    return fields["consequence"] == "reversed"


async def _treatment(uow: LicensureUnitOfWork, claim: CreditClaim, rule: Literal["on_revocation", "on_expiry"]
                     ) -> Treatment:
    """What the rule set that decided the claim says a revocation or an expiry does to its credit."""
    if claim.rule_set_id is None or claim.rule_set_version is None:
        return "keep"
    rule_set = await uow.rule_sets.get(claim.rule_set_id, claim.rule_set_version)
    return "keep" if rule_set is None else getattr(rule_set, rule)  # type: ignore[no-any-return]


async def _announce_standing(
    uow: LicensureUnitOfWork, license: License, award: AwardRecord, claim: CreditClaim,
    changes: list[StatusChange], *, correlation_id: UUID, causation_id: UUID | None,
) -> None:
    """A license meeting an award whose standing already changed (suspended, or revoked) hears of it right
    after the award itself: the change was announced before this state had a decision on the award."""
    current = standing(changes)
    if current is None or current.status == "reinstated":
        return
    # A revoked award was just decided as rejected (evaluate), so nothing is posted; a suspended one keeps.
    await _announce_status(uow, RECORD_OF_STATUS[current.status], license, award, claim, treatment="keep",
                           reason=current.reason, changed_at=current.changed_at, changed_by=current.changed_by,
                           reversal_reason="", correlation_id=correlation_id, causation_id=causation_id)


# -- consumers -------------------------------------------------------------------------------------------


async def post_credits(event: CredentialAwarded, uow: LicensureUnitOfWork, programs: Sequence[Program] = ()) -> None:
    """Settle the award against every license of the teacher; remember it for licenses registered later;
    re-evaluate the teacher's recognitions (``programs``: every program version known, the service's files)."""
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
            issuer_id=event.issuer_id,
            valid_until=event.valid_until,
            credential=event.credential,
            credential_url=event.credential_url,
        )
        facts = AwardFacts(award.award_id, new=await uow.awards.add(award))
        # Read once: under the teacher's lock only this transaction could change them, and it does not.
        licenses = await uow.licenses.of_teacher(event.teacher_id)
        if not licenses:
            log.info("teacher %s has no license registered; award %s credits nothing yet",
                     event.teacher_id, event.award_id)
        for license in licenses:
            await _settle(uow, license, award, correlation_id=event.correlation_id, causation_id=event.event_id,
                          facts=facts)
        await recognitions.reevaluate(uow, event.teacher_id, programs, correlation_id=event.correlation_id,
                                      causation_id=event.event_id, licenses=licenses,
                                      status_changes=facts.known_changes())
        await uow.commit()


async def record_revocation(event: CredentialRevoked, uow: LicensureUnitOfWork,
                            programs: Sequence[Program] = ()) -> None:
    """Reverse what a revoked credential earned, where the rule set says so; stop what was pending; tell
    each state with a decision on the award, with the consequence for its credit."""
    async with uow:
        if not await uow.claim("licensure.record_revocation", event.event_id):
            return
        if event.kind != "micro_credential":
            # Stack and pathway credentials earn no credit of their own; their parts did.
            await uow.commit()
            return
        await uow.licenses.lock_teacher(event.teacher_id)
        await uow.awards.record_revocation(event.award_id, event.reason, event.changed_at)
        if not await uow.awards.record_status_change(StatusChange(
            award_id=event.award_id, status="revoked", changed_at=event.changed_at, reason=event.reason,
            changed_by=event.changed_by,
        )):
            await uow.commit()  # this revocation was heard before, under another event id
            return
        award = await uow.awards.get(event.award_id)
        if award is None:
            log.info("award %s revoked before it reached licensure; it will credit nothing", event.award_id)
            await uow.commit()
            return
        reason = f"the credential was revoked: {event.reason}"
        for claim in await uow.claims.of_award(event.award_id):
            license = await uow.licenses.get(claim.license_id)
            assert license is not None
            if claim.status is ClaimStatus.PENDING_APPROVAL:
                claim.status, claim.reason = ClaimStatus.REJECTED, reason
                await uow.claims.save(claim)
                await _feed(uow, "credit_rejected", license, award, correlation_id=event.correlation_id,
                            causation_id=event.event_id, reason=reason)
            await _announce_status(
                uow, "credential_revoked", license, award, claim, treatment=await _treatment(uow, claim, "on_revocation"),
                reason=event.reason, changed_at=event.changed_at, changed_by=event.changed_by,
                reversal_reason=reason, correlation_id=event.correlation_id, causation_id=event.event_id,
            )
        await recognitions.reevaluate(uow, event.teacher_id, programs, correlation_id=event.correlation_id,
                                      causation_id=event.event_id)
        await uow.commit()


async def record_status_change(event: CredentialSuspended | CredentialReinstated, uow: LicensureUnitOfWork,
                               programs: Sequence[Program] = ()) -> None:
    """Tell each state with a decision on the award that it was suspended or reinstated. Neither moves
    credit (see the domain model on ``on_suspension``): a posted credit is ``kept``, anything else ``none``."""
    status: Literal["suspended", "reinstated"] = "suspended" if isinstance(event, CredentialSuspended) \
        else "reinstated"
    async with uow:
        if not await uow.claim(f"licensure.record_{status}", event.event_id):
            return
        if event.kind != "micro_credential":
            await uow.commit()  # a stack or pathway credential has no credit decisions of its own here
            return
        await uow.licenses.lock_teacher(event.teacher_id)
        known = await uow.awards.record_status_change(StatusChange(
            award_id=event.award_id, status=status, changed_at=event.changed_at, reason=event.reason,
            changed_by=event.changed_by,
        ))
        award = await uow.awards.get(event.award_id)
        # Before its award arrives the change is only remembered: the award's licenses hear the standing
        # when they are decided (_announce_standing).
        if known and award is not None:
            for claim in await uow.claims.of_award(event.award_id):
                license = await uow.licenses.get(claim.license_id)
                assert license is not None
                await _announce_status(
                    uow, RECORD_OF_STATUS[status], license, award, claim, treatment="keep", reason=event.reason,
                    changed_at=event.changed_at, changed_by=event.changed_by, reversal_reason="",
                    correlation_id=event.correlation_id, causation_id=event.event_id,
                )
        if known and award is not None:
            await recognitions.reevaluate(uow, event.teacher_id, programs, correlation_id=event.correlation_id,
                                          causation_id=event.event_id)
        await uow.commit()


async def record_credential_version(event: CredentialPublished, uow: LicensureUnitOfWork) -> None:
    """Remember the version's name, issuer and credit hints, to show them beside the credits it earns."""
    async with uow:
        if not await uow.claim("licensure.record_credential_version", event.event_id):
            return
        await uow.credentials.upsert(CredentialVersion.from_event(event))
        await uow.commit()


async def record_collection(event: StackChanged | PathwayChanged, uow: LicensureUnitOfWork,
                            programs: Sequence[Program] = ()) -> None:
    """Keep the stack's or pathway's latest credentials (a later revision wins, an inactive one holds none)
    and enqueue for review the teachers holding any credential it held or holds: a stack completed by a
    credential added to it, or no longer completed, changes a designation."""
    if isinstance(event, StackChanged):
        kind: Literal["stack", "pathway"] = "stack"
        collection_id, credentials = event.stack_id, [*event.credential_ids]
    else:
        kind, collection_id, credentials = "pathway", event.pathway_id, [step.credential_id for step in event.steps]
    async with uow:
        if not await uow.claim(f"licensure.record_{kind}", event.event_id):
            return
        await recognitions.record_membership(uow, kind, collection_id, event.revision, event.active, credentials,
                                             programs)
        await uow.commit()


# -- licenses ----------------------------------------------------------------------------------------------


def _ensure_may_register(command: RegisterLicense, principal: Principal) -> None:
    """The state (or an operator) registers any license of its state; a teacher declares their own, and
    only what ADR 0004 lets a teacher declare."""
    if may_administer(principal, command.state):
        if command.teacher_id is None and not principal.has(Role.TEACHER):
            raise Invalid("teacher_id is required unless a teacher registers their own license",
                          code="teacher_id_required")
        return
    if not principal.has(Role.TEACHER) or command.teacher_id not in (None, principal.subject):
        raise Forbidden(
            "a teacher registers their own licenses; a state admin those of the states they administer",
            code="license_not_yours",
        )
    if command.state not in principal.states:
        raise Forbidden(f"your token does not carry {command.state}: a teacher registers licenses only in "
                        "their own states", code="state_not_yours", details={"states": list(principal.states)})
    refused = fields_a_teacher_may_not_set(principal, required_amount=command.required_amount,
                                           district=command.district)
    if refused:
        raise Forbidden(f"only the state sets {' and '.join(refused)} of a license", code="field_not_allowed",
                        details={"fields": refused})


async def register_license(command: RegisterLicense, principal: Principal, uow: LicensureUnitOfWork,
                           programs: Sequence[Program] = ()) -> License:
    """Register the license, settle the teacher's earlier awards against it, and re-evaluate their recognitions:
    a teacher who earned a state's designation before registering its license is designated now."""
    _ensure_may_register(command, principal)
    teacher_id = command.teacher_id or principal.subject
    license = License(
        license_id=uuid4(),
        teacher_id=teacher_id,
        state=command.state,
        license_number=command.license_number,
        license_type=command.license_type,
        cycle_start=command.cycle_start,
        cycle_end=command.cycle_end,
        required_amount=command.required_amount,
        district=command.district or (principal.district if teacher_id == principal.subject else None),
        growth_plan=tuple(command.growth_plan),
    )
    async with uow:
        await uow.licenses.lock_teacher(teacher_id)
        # Unique per teacher: another teacher's registration of the same number neither blocks this one
        # nor is revealed by it; the state sees both (teacher and number) in its feed and reports.
        if not await uow.licenses.add_once(license):
            raise Conflict(
                f"{command.state} license {command.license_number} is already registered to this teacher",
                code="license_exists",
            )
        correlation_id = current_correlation_id()
        for award in await uow.awards.of_teacher(teacher_id):
            await _settle(uow, license, award, correlation_id=correlation_id, causation_id=None)
        await recognitions.reevaluate(uow, teacher_id, programs, correlation_id=correlation_id, causation_id=None)
        await uow.commit()
    return license


async def _visible_license(uow: LicensureUnitOfWork, license_id: UUID, principal: Principal) -> License:
    """The license, if the caller may see it; NotFound alike for a missing license and someone else's."""
    license = await uow.licenses.get(license_id)
    if license is None or not may_see(principal, license):
        raise NotFound(f"license {license_id} does not exist", code="license_not_found")
    return license


async def set_growth_plan(license_id: UUID, plan: GrowthPlan, principal: Principal, uow: LicensureUnitOfWork,
                          programs: Sequence[Program] = ()) -> License:
    """The credentials the teacher's professional growth plan names; rules may count only those, so the
    teacher's recognitions of programs that require a growth plan are re-evaluated on the new one."""
    async with uow:
        license = await _visible_license(uow, license_id, principal)
        await uow.licenses.lock_teacher(license.teacher_id)
        await uow.licenses.set_growth_plan(license_id, plan.credential_ids)
        await recognitions.reevaluate(uow, license.teacher_id, programs, correlation_id=current_correlation_id(),
                                      causation_id=None)
        await uow.commit()
    return License(**{**license.__dict__, "growth_plan": tuple(plan.credential_ids)})


async def license_progress(
    license_id: UUID, principal: Principal, uow: LicensureUnitOfWork, *, today: date | None = None
) -> Progress:
    async with uow:
        # Six reads, each its own snapshot as they were at READ COMMITTED inside a transaction: the earned
        # credit is summed from the ledger alone (one statement); the rest describes it.
        await uow.without_transaction()
        license = await _visible_license(uow, license_id, principal)
        entries = await uow.ledger.of_license(license_id)
        claims = await uow.claims.of_license(license_id)
        day = license.cycle_reference_day(today or utc_now().date())
        rule_set = rule_in_force(await uow.rule_sets.of_state(license.state), license.state, day)
        award_ids = {e.award_id for e in entries if e.award_id} | {c.award_id for c in claims}
        awards = {a.award_id: a for a in await uow.awards.of_ids(award_ids)}
        credentials = {
            (c.credential_id, c.version): c
            for c in await uow.credentials.of_keys({(a.credential_id, a.credential_version) for a in awards.values()})
        }
    described = []
    for entry in entries:
        award = None if entry.award_id is None else awards.get(entry.award_id)
        credential = None if award is None else credentials.get((award.credential_id, award.credential_version))
        described.append(describe_entry(entry, award, credential))
    # Earned is summed from the ledger (the state's amounts) only; descriptions add names and hints for reading.
    return Progress(
        license=license, rule_set=rule_set, required=license.required(rule_set),
        earned=earned_in_cycle(license, entries), entries=described,
        claims=[(claim, awards.get(claim.award_id)) for claim in claims],
    )


async def adjust(license_id: UUID, command: Adjustment, principal: Principal, uow: LicensureUnitOfWork
                 ) -> LedgerEntry:
    """A state's correction: a ledger entry of its own, never an edit of another."""
    async with uow:
        license = await _visible_license(uow, license_id, principal)
        if not may_administer(principal, license.state):
            raise Forbidden(f"only an admin of {license.state} or an operator adjusts its ledger",
                            code="not_state_admin")
        today = license.cycle_reference_day(utc_now().date())
        rule_set = rule_in_force(await uow.rule_sets.of_state(license.state), license.state, today)
        if rule_set is None:
            raise Conflict(f"no {license.state} rule set is in force: there is no unit to adjust in",
                           code="no_rule_set")
        entry = LedgerEntry(
            entry_id=uuid4(), license_id=license_id, award_id=None, kind=EntryKind.ADJUSTMENT, amount=command.amount,
            unit=rule_set.unit, rule_set_id=rule_set.rule_set_id, rule_set_version=rule_set.version, earned_on=today,
            reason=f"{command.reason} (by {principal.subject})",
        )
        await uow.ledger.append_once(entry)
        await uow.commit()
    return entry


# -- district approval -------------------------------------------------------------------------------------


async def decide_credit(
    award_id: UUID, license_id: UUID, decision: Decision, principal: Principal, uow: LicensureUnitOfWork
) -> CreditClaim:
    """A district approves (the credit posts, within the cap as it stands now) or rejects, with who and why."""
    async with uow:
        license = await _visible_license(uow, license_id, principal)
        if not may_decide(principal, license):
            raise Forbidden("only the license's district, its state or an operator decides its credits",
                            code="not_the_district")
        await uow.licenses.lock_teacher(license.teacher_id)
        claim = await uow.claims.get(award_id, license_id, for_update=True)
        award = await uow.awards.get(award_id)
        if claim is None or award is None:
            raise NotFound(f"award {award_id} has no credit decision for license {license_id}",
                           code="claim_not_found")
        claim.decide(decision.approve, decision.reason, principal.subject, utc_now())
        correlation_id = current_correlation_id()
        if not decision.approve:
            await uow.claims.save(claim)
            await _feed(uow, "credit_rejected", license, award, correlation_id=correlation_id, causation_id=None,
                        reason=claim.reason, rule_set_id=claim.rule_set_id, rule_set_version=claim.rule_set_version)
        else:
            assert claim.rule_set_id is not None and claim.rule_set_version is not None
            rule_set = await uow.rule_sets.get(claim.rule_set_id, claim.rule_set_version)
            assert rule_set is not None
            ledger = await uow.ledger.of_license(license_id)
            outcome = capped_amount(rule_set, earned_in_cycle(license, ledger))
            claim.status, claim.amount = outcome.status, outcome.amount
            claim.reason = outcome.reason or claim.reason
            await uow.claims.save(claim)
            if claim.status is ClaimStatus.POSTED:
                await _post(uow, license, rule_set, award, claim, ledger, correlation_id=correlation_id,
                            causation_id=None)
            else:
                await _feed(uow, "credit_rejected", license, award, correlation_id=correlation_id,
                            causation_id=None, reason=claim.reason)
        await uow.commit()
    return claim


async def pending_credits(state: str, district: str | None, principal: Principal, uow: LicensureUnitOfWork,
                          *, limit: int, offset: int) -> list[tuple[CreditClaim, License, AwardRecord | None]]:
    if principal.has(Role.DISTRICT_ADMIN) and not may_administer(principal, state):
        if state not in principal.states or principal.district is None:
            raise Forbidden("a district admin sees their own district's pending credits", code="not_the_district")
        district = principal.district
    elif not may_administer(principal, state):
        raise Forbidden(f"only an admin of {state} or an operator sees its pending credits", code="not_state_admin")
    async with uow:
        # The district admins' polling. The page is one statement; each claim's license and award are read
        # after it and are never deleted, as at READ COMMITTED inside a transaction before.
        await uow.without_transaction()
        claims = await uow.claims.pending(state, district, limit, offset)
        found = []
        for claim in claims:
            license = await uow.licenses.get(claim.license_id)
            assert license is not None
            found.append((claim, license, await uow.awards.get(claim.award_id)))
    return found


# -- rule sets and state approvals -------------------------------------------------------------------------------


async def refresh_gauges(uow: LicensureUnitOfWork) -> None:
    """Re-read pending approvals and undelivered webhooks per state: three small queries, three gauges that
    never had to agree (each query already read its own snapshot), without a transaction."""
    async with uow:
        await uow.without_transaction()
        states = await uow.rule_sets.states()
        pending = await uow.claims.pending_by_state()
        undelivered = await uow.webhooks.undelivered_by_state()
    uow.metrics.set_gauges(states, pending, undelivered)


async def sync_shipped_rule_sets(rule_sets: list[RuleSet], uow: LicensureUnitOfWork) -> int:
    """Add the shipped versions the database lacks; refuse a file that contradicts a published version."""
    added = 0
    async with uow:
        for rule_set in rule_sets:
            await uow.rule_sets.lock(rule_set.rule_set_id)
            existing = await uow.rule_sets.get(rule_set.rule_set_id, rule_set.version)
            if existing is None:
                added += await uow.rule_sets.add_once(rule_set, published_by="shipped")
            elif existing != rule_set:
                raise RuntimeError(
                    f"rule set {rule_set.rule_set_id} v{rule_set.version} in the shipped files differs from the "
                    "published version in the database; published versions never change: ship a new version"
                )
        await uow.commit()
    return added


async def publish_rule_set(
    command: PublishRuleSet, principal: Principal, uow: LicensureUnitOfWork,
    ensure_feed: Callable[[str], Awaitable[None]] | None = None,
) -> RuleSet:
    """A new version of a state's rules. ``ensure_feed`` creates the state's feed topic first, once the caller
    may publish: were the broker down, the version would otherwise be saved while the request failed, and
    the client's retry would publish it a second time."""
    if not may_administer(principal, command.state):
        raise Forbidden(f"only an admin of {command.state} or an operator publishes its rules", code="not_state_admin")
    if ensure_feed is not None:
        await ensure_feed(command.state)
    async with uow:
        await uow.rule_sets.lock(command.rule_set_id)
        current = await uow.rule_sets.latest_version(command.rule_set_id)
        if current is not None:
            latest = await uow.rule_sets.get(command.rule_set_id, current)
            if latest is not None and latest.state != command.state:
                raise Conflict(f"rule set {command.rule_set_id} belongs to {latest.state}", code="rule_set_state")
        rule_set = command.rule_set(command.rule_set_id, command.state, (current or 0) + 1, command.example)
        await uow.rule_sets.add_once(rule_set, published_by=principal.subject)
        await uow.commit()
    return rule_set


async def approve_for_state(state: str, credential_id: UUID, principal: Principal, uow: LicensureUnitOfWork) -> bool:
    """The state's list of approved credentials, for rule sets that accept only those."""
    if not may_administer(principal, state):
        raise Forbidden(f"only an admin of {state} or an operator approves credentials for it", code="not_state_admin")
    async with uow:
        added = await uow.approvals.approve(state, credential_id, principal.subject)
        await uow.commit()
    return added


# -- expiry and reports -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpirySweep:
    announced: int  # expiry records written, one per (award, license)
    reversed: int  # of which reversed a posted credit


async def sweep_expired_credentials(uow: LicensureUnitOfWork, *, now: datetime | None = None, limit: int = 200
                                    ) -> ExpirySweep:
    """Tell each state with a decision on an expired award, once, that it expired; reverse its posted credit
    where the rule set that posted it says an expiry reverses.

    Bounded: at most ``limit`` decisions per transaction; each is marked announced in the transaction that
    writes its record, so the next pass starts where this one ended and a rerun announces nothing twice.
    """
    now = now or utc_now()
    announced = reversed_count = 0
    async with uow:
        for claim in await uow.claims.expired_unannounced(now, limit):
            award = await uow.awards.get(claim.award_id)
            license = await uow.licenses.get(claim.license_id)
            assert award is not None and award.valid_until is not None and license is not None
            await uow.licenses.lock_teacher(license.teacher_id)
            if not await uow.claims.mark_expiry_announced(claim.award_id, claim.license_id, now):
                continue  # another sweep announced it meanwhile
            # Re-read under the teacher's lock: a revocation may have changed the decision since the scan.
            current = await uow.claims.get(claim.award_id, claim.license_id, for_update=True)
            assert current is not None
            reversed_count += await _announce_status(
                uow, "credential_expired", license, award, current, treatment=await _treatment(uow, current, "on_expiry"),
                reason=f"the credential expired on {award.valid_until:%Y-%m-%d}", changed_at=award.valid_until,
                changed_by=None, reversal_reason=f"the credential expired on {award.valid_until:%Y-%m-%d}",
                correlation_id=uuid4(), causation_id=None,
            )
            announced += 1
        await uow.commit()
    return ExpirySweep(announced=announced, reversed=reversed_count)


async def state_report(state: str, start: date, end: date, principal: Principal, uow: LicensureUnitOfWork,
                       district: str | None = None) -> list[dict[str, Any]]:
    """The ledger entries of the period: the whole state's or one district's; a district admin's own district's."""
    scope = report_scope(principal, state, district)
    if end < start:
        raise Invalid("the report period ends before it starts", code="invalid_period")
    async with uow:
        await uow.without_transaction()  # one statement
        return await uow.ledger.report(state, start, end, scope)


async def competency_report(state: str, district: str | None, principal: Principal, uow: LicensureUnitOfWork,
                            *, now: datetime | None = None) -> CompetencyMatrix:
    """Who holds which competency, by district (domain.reports), in the same scope as the credit report."""
    scope = report_scope(principal, state, district)
    async with uow:
        # Two statements, each its own snapshot as before: a teacher licensed between them is counted among
        # the licensed and holds nothing yet, which the next read corrects.
        await uow.without_transaction()
        holdings = await uow.reports.holdings(state, scope, now or utc_now())
        licensed = await uow.reports.licensed_teachers(state, scope)
    return competency_matrix(holdings, licensed)
