"""Who holds which competency, by district: the counts a state or district reads to see where gaps are.

A teacher holds a competency in a district when they have a license of the state in that district and hold an
award of a credential certifying that competency: not revoked, not expired, not suspended (unless reinstated
since). Held is not credited: a credit still waiting for the district's approval, or beyond the cycle's cap,
counts here all the same, since the teacher has shown the practice either way.

A teacher counts once per cell however many credentials of that competency they hold, and in each district
where they hold a license. A credential version whose competency licensure never heard (recorded before it kept
competencies) stands for a competency of its own, named after the credential, so that nothing held goes
uncounted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Holding:
    """One teacher holding one credential, seen from one of their licenses' districts (None: none recorded)."""

    district: str | None
    teacher_id: str
    credential_name: str
    competency: str | None

    @property
    def competency_key(self) -> str:
        return self.competency if self.competency is not None else self.credential_name


@dataclass(frozen=True)
class CompetencyRow:
    competency: str
    recorded: bool  # False: licensure does not know the competency and shows the credential's name instead
    credentials: tuple[str, ...]


@dataclass(frozen=True)
class DistrictRow:
    district: str | None
    licensed_teachers: int
    holders: dict[str, int]  # competency -> teachers holding it; every competency of the matrix is a key


@dataclass(frozen=True)
class CompetencyMatrix:
    competencies: list[CompetencyRow]
    districts: list[DistrictRow]


def competency_matrix(holdings: Iterable[Holding], licensed: dict[str | None, int]) -> CompetencyMatrix:
    """``licensed``: licensed teachers per district in scope, so a district where nobody holds anything still
    shows as a row of zeros (the gap is the point of the report)."""
    teachers: dict[tuple[str | None, str], set[str]] = {}
    credentials: dict[str, set[str]] = {}
    recorded: dict[str, bool] = {}
    districts = dict(licensed)
    for holding in holdings:
        key = holding.competency_key
        teachers.setdefault((holding.district, key), set()).add(holding.teacher_id)
        credentials.setdefault(key, set()).add(holding.credential_name)
        recorded[key] = recorded.get(key, False) or holding.competency is not None
        districts.setdefault(holding.district, 0)
    names = sorted(credentials, key=str.casefold)
    rows = [
        DistrictRow(district=district, licensed_teachers=districts[district],
                    holders={name: len(teachers.get((district, name), ())) for name in names})
        # Named districts in order, the licenses without one last.
        for district in sorted(districts, key=lambda d: (d is None, (d or "").casefold()))
    ]
    return CompetencyMatrix(
        competencies=[CompetencyRow(name, recorded[name], tuple(sorted(credentials[name], key=str.casefold)))
                      for name in names],
        districts=rows,
    )
