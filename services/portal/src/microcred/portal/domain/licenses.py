"""License progress as the teacher reads it: per license, "6 of 60 points" toward renewal, the credits posted
with the credentials' names, and what is waiting for district approval or was not credited. Pure: built from
licensure's ``GET /licenses`` and ``GET /licenses/{id}/progress``.

Amounts arrive as decimal strings (licensure never sends a binary float); they are shown as sent and only turned
into numbers for the progress bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from microcred.portal.domain.timeline import day

STATE_NAMES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
    "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina",
    "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas",
    "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington", "WV": "West Virginia",
    "WI": "Wisconsin", "WY": "Wyoming", "AS": "American Samoa", "GU": "Guam", "MP": "Northern Mariana Islands",
    "PR": "Puerto Rico", "VI": "U.S. Virgin Islands",
}
KIND_WORDS = {"credit": "Credit", "reversal": "Reversed", "adjustment": "Adjustment by the state"}
NOT_CREDITED = {"rejected": "Not accepted by the state's rules", "district_rejected": "Rejected by your district",
                "capped": "Over the cycle's cap", "reversed": "Reversed"}


@dataclass(frozen=True)
class Credit:
    name: str
    earned_on: str
    amount: str
    kind: str
    note: str


@dataclass(frozen=True)
class Claim:
    name: str
    earned_on: str
    words: str
    reason: str


@dataclass(frozen=True)
class LicenseProgress:
    license_id: str
    state: str
    state_name: str
    license_words: str
    cycle: str
    unit: str
    earned: str
    required: str | None
    summary: str  # "6 of 60 points", the text equivalent of the bar
    remaining: str
    bar_value: float
    bar_max: float
    credits: list[Credit]
    pending: list[Claim]
    not_credited: list[Claim]


def _number(text: str | None) -> Decimal:
    try:
        return Decimal(text or "0")
    except InvalidOperation:
        return Decimal(0)


def _plural(unit: str, amount: str) -> str:
    """The rule set's unit names the plural ("points", "hours"); one of them reads in the singular."""
    return unit[:-1] if _number(amount) == 1 and unit.endswith("s") else unit


def progress(found: dict[str, Any]) -> LicenseProgress:
    license = found["license"]
    state = license["state"]
    unit = found.get("unit") or "credits"
    earned, required = found.get("earned") or "0", found.get("required")
    if required is None:
        summary = f"{earned} {_plural(unit, earned)} earned; {state} has no renewal rule in force to count against."
        remaining = ""
    else:
        summary = f"{earned} of {required} {unit}"
        left = found.get("remaining") or "0"
        remaining = (f"{left} {_plural(unit, left)} to go this cycle." if _number(left) > 0
                     else "The renewal requirement is met for this cycle.")
    credits = []
    for entry in found.get("entries", []):
        credential = entry.get("credential") or {}
        name = credential.get("name") or ("Adjustment" if entry["kind"] == "adjustment" else "A credential")
        credits.append(Credit(name=name, earned_on=day(entry.get("earned_on")), amount=entry["amount"],
                              kind=KIND_WORDS.get(entry["kind"], entry["kind"]), note=entry.get("reason") or ""))
    pending, not_credited = [], []
    for claim in found.get("decisions", []):
        name = claim.get("credential_name") or "A credential"
        if claim["status"] == "pending_approval":
            pending.append(Claim(name, day(claim.get("earned_on")), "Waiting for your district's approval",
                                 claim.get("reason") or ""))
        elif claim["status"] in NOT_CREDITED:
            not_credited.append(Claim(name, day(claim.get("earned_on")), NOT_CREDITED[claim["status"]],
                                      claim.get("reason") or ""))
    bar_max = float(_number(required)) if required is not None else 0.0
    return LicenseProgress(
        license_id=license["license_id"], state=state, state_name=STATE_NAMES.get(state, state),
        license_words=f"{license.get('license_type') or 'License'} {license['license_number']}",
        cycle=f"{day(license['cycle_start'])} to {day(license['cycle_end'])}", unit=unit, earned=earned,
        required=required, summary=summary, remaining=remaining,
        bar_value=min(float(_number(earned)), bar_max) if bar_max else 0.0, bar_max=bar_max,
        credits=credits, pending=pending, not_credited=not_credited,
    )
