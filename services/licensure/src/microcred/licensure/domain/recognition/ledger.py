"""The recognition ledger's entries and what a teacher holds from them.

Append-only, like the credit ledger: an outcome is granted, reversed, and (where a district must
approve) approved or declined, each an entry; what a teacher holds is always derived from the entries.
Entries are keyed per program by an outcome key ("complete", "step-2", "year-2025"), so evaluating a
program twice finds the key already held and adds nothing.

An incentive's key is a year whose amount grows with each credential, so it is granted in top-ups and
reversed in part; every other outcome is held or not. A declined outcome stays declined: the district
said no, and the evaluation must not ask again every time an event arrives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal
from uuid import UUID

from microcred.licensure.domain.recognition.programs import Program
from microcred.runtime.errors import Conflict, Invalid

EntryKind = Literal["grant", "reverse", "approve", "decline"]
HoldingStatus = Literal["granted", "pending", "declined"]


@dataclass(frozen=True)
class RecognitionEntry:
    """One change to one teacher's standing in one program, citing the version and the awards behind it.

    ``amount`` is the outcome's (a step's value, an incentive's top-up); None for an outcome without one.
    The ledger adds its own id, the teacher and the time when it stores an entry.
    """

    program_id: str
    program_version: int
    key: str
    kind: EntryKind
    year: int
    award_ids: tuple[UUID, ...]
    reason: str
    amount: Decimal | None = None
    pending: bool = False  # a grant waiting for the district's approval


@dataclass(frozen=True)
class Holding:
    """What the entries of one key add up to. ``net`` weighs an entry without an amount as 1, so an
    outcome without money is held while its net is positive."""

    key: str
    status: HoldingStatus
    net: Decimal
    amount: Decimal | None
    year: int
    award_ids: tuple[UUID, ...]

    @property
    def held(self) -> bool:
        return self.status != "declined" and self.net > 0


def _weight(entry: RecognitionEntry) -> Decimal:
    return entry.amount if entry.amount is not None else Decimal(1)


def holdings(entries: Iterable[RecognitionEntry]) -> dict[str, Holding]:
    """Each key's holding after its entries, in ledger order; keys fully reversed are left out."""
    found: dict[str, Holding] = {}
    for entry in entries:
        now = found.get(entry.key)
        if entry.kind == "grant":
            if now is not None and now.status == "declined":
                continue
            base = now if now is not None and now.held else None
            net = (base.net if base else Decimal(0)) + _weight(entry)
            amount = None if entry.amount is None else (
                (base.amount or Decimal(0)) if base else Decimal(0)) + entry.amount
            pending = entry.pending or (base is not None and base.status == "pending")
            cited = tuple(dict.fromkeys((base.award_ids if base else ()) + entry.award_ids))
            found[entry.key] = Holding(entry.key, "pending" if pending else "granted", net, amount, entry.year,
                                       cited)
        elif now is None:
            continue
        elif entry.kind == "reverse":
            net = now.net - _weight(entry)
            if net <= 0:
                del found[entry.key]
            else:
                amount = None if now.amount is None else now.amount - (entry.amount or Decimal(0))
                found[entry.key] = Holding(now.key, now.status, net, amount, now.year, now.award_ids)
        elif entry.kind == "approve" and now.status == "pending":
            found[entry.key] = Holding(now.key, "granted", now.net, now.amount, now.year, now.award_ids)
        elif entry.kind == "decline" and now.status == "pending":
            found[entry.key] = Holding(now.key, "declined", Decimal(0), now.amount, now.year, now.award_ids)
    return found


def decide(program: Program, entries: Iterable[RecognitionEntry], key: str, *, approve: bool,
           reason: str) -> RecognitionEntry:
    """The district's decision on a pending outcome; only a pending one can be decided."""
    holding = holdings(e for e in entries if e.program_id == program.program_id).get(key)
    if holding is None or holding.status != "pending":
        state = "not held" if holding is None else holding.status
        raise Conflict(f"{program.outcome.label} ({key}) is {state}, not pending approval", code="not_pending")
    if not approve and not reason.strip():
        raise Invalid("a decline needs a reason", code="reason_required")
    return RecognitionEntry(
        program_id=program.program_id, program_version=program.version, key=key,
        kind="approve" if approve else "decline", year=holding.year, award_ids=holding.award_ids,
        reason=reason.strip() or f"approved by {program.district}", amount=holding.amount,
    )
