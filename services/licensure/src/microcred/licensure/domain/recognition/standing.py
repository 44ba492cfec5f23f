"""What a teacher's recognition ledger says, with its dates: the views teachers, districts and payroll read.

:func:`~.ledger.holdings` says what each outcome key adds up to; the views also need *since when* it is held
(the entry that last made it held: a designation reversed and granted again is held since the second grant)
and, for payroll, every entry behind a year's incentive, so a clerk can check the amount line by line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from microcred.licensure.domain.recognition.ledger import Holding, RecognitionEntry, holdings


@dataclass(frozen=True)
class DatedEntry:
    """A stored ledger entry: the domain's entry with the id, teacher and time the ledger gave it."""

    entry_id: UUID
    teacher_id: str
    recorded_at: datetime
    entry: RecognitionEntry


@dataclass(frozen=True)
class Standing:
    """One outcome key of one program for one teacher: the holding, since when, and the entries behind it."""

    teacher_id: str
    program_id: str
    holding: Holding
    since: datetime
    program_version: int  # the version of the entry that made it held
    entries: tuple[DatedEntry, ...]


def standings(entries: Iterable[DatedEntry]) -> list[Standing]:
    """Each (teacher, program, key) the entries leave held, pending or declined, in ledger order per group.

    ``entries`` must be in ledger order within each teacher and program (the repositories read them so).
    A key reversed to nothing is left out, as :func:`holdings` leaves it out, and its entries go with it:
    a grant taken back in full is owed nothing and nobody holds it.
    """
    groups: dict[tuple[str, str], list[DatedEntry]] = {}
    for dated in entries:
        groups.setdefault((dated.teacher_id, dated.entry.program_id), []).append(dated)
    found: list[Standing] = []
    for (teacher_id, program_id), group in groups.items():
        by_key: dict[str, list[DatedEntry]] = {}
        since: dict[str, DatedEntry] = {}
        for i, dated in enumerate(group):
            key = dated.entry.key
            if not holdings(d.entry for d in group[:i] if d.entry.key == key).get(key):
                by_key[key] = []  # held afresh from here: what came before was reversed to nothing
                since[key] = dated
            by_key.setdefault(key, []).append(dated)
        final = holdings(d.entry for d in group)
        for key, holding in final.items():
            start = since[key]
            found.append(Standing(teacher_id, program_id, holding, start.recorded_at, start.entry.program_version,
                                  tuple(by_key[key])))
    return found


def signed(entry: RecognitionEntry) -> Decimal:
    """What the entry adds to an amount owed: a grant adds, a reversal takes away, a decision moves nothing."""
    amount = entry.amount or Decimal(0)
    return {"grant": amount, "reverse": -amount}.get(entry.kind, Decimal(0))


@dataclass(frozen=True)
class IncentiveLine:
    """One teacher's incentive from one program for one year, as payroll pays it.

    ``net`` is what the entries add up to; ``owed`` is what payroll pays: the net once the outcome is granted
    (approved, where the district approves), nothing while it is pending or after a decline.
    """

    teacher_id: str
    program_id: str
    year: int
    status: str
    net: Decimal
    owed: Decimal
    entries: tuple[DatedEntry, ...]


def incentive_lines(found: Sequence[Standing]) -> list[IncentiveLine]:
    lines = []
    for standing in found:
        net = sum((signed(d.entry) for d in standing.entries), Decimal(0))
        owed = net if standing.holding.status == "granted" else Decimal(0)
        lines.append(IncentiveLine(standing.teacher_id, standing.program_id, standing.holding.year,
                                   standing.holding.status, net, owed, standing.entries))
    return sorted(lines, key=lambda line: (line.program_id, line.year, line.teacher_id))
