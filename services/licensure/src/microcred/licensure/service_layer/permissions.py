"""Who may do what with licensure data: one place for the rules every use case and route applies.

Someone who may not see a license is answered as if it did not exist (404), so that nobody learns
another party's licenses from a status code; a 403 is for a license the caller may see but not change.
What a teacher may declare about their own license, and what only the state sets, is ADR 0004.
"""

from __future__ import annotations

from microcred.licensure.domain.model import License
from microcred.runtime.auth import Principal, Role
from microcred.runtime.errors import Forbidden


def may_administer(principal: Principal, state: str) -> bool:
    """An operator, or an admin of that state: rule sets, reports, approvals, webhooks, adjustments."""
    return principal.has(Role.OPERATOR) or (principal.has(Role.STATE_ADMIN) and state in principal.states)


def is_district_of(principal: Principal, license: License) -> bool:
    return (principal.has(Role.DISTRICT_ADMIN) and license.state in principal.states
            and license.district is not None and principal.district == license.district)


def may_decide(principal: Principal, license: License) -> bool:
    """The license's district decides its pending credits; the state (or an operator) may decide for it."""
    return may_administer(principal, license.state) or is_district_of(principal, license)


def report_scope(principal: Principal, state: str, district: str | None) -> str | None:
    """The district a report of ``state`` covers: what a state's admin (or an operator) asks for, any district
    or all; a district admin of that state, their own district whatever they ask. Anyone else is refused."""
    if may_administer(principal, state):
        return district
    if principal.has(Role.DISTRICT_ADMIN) and state in principal.states and principal.district is not None:
        return principal.district
    raise Forbidden(f"only an admin of {state}, one of its district admins or an operator reads its reports",
                    code="not_state_admin")


def may_see(principal: Principal, license: License) -> bool:
    return may_decide(principal, license) or (principal.has(Role.TEACHER) and license.teacher_id == principal.subject)


def fields_a_teacher_may_not_set(principal: Principal, *, required_amount: object, district: str | None) -> list[str]:
    """Fields of a teacher's own license registration that only the state (or the identity provider) sets.

    The renewal requirement comes from the state's rule set, and an individual override of it from the
    state; the district comes from the teacher's token, which a district admin's authority then follows.
    """
    refused = []
    if required_amount is not None:
        refused.append("required_amount")
    if district is not None and district != principal.district:
        refused.append("district")
    return refused


def administers_district(principal: Principal, state: str, district: str | None) -> bool:
    """A district admin of that state whose token names that district (their district's webhooks)."""
    return (principal.has(Role.DISTRICT_ADMIN) and state in principal.states and district is not None
            and principal.district == district)


def may_manage_webhook(principal: Principal, state: str, district: str | None) -> bool:
    """A state's webhooks are its admins' (and operators'), a district's webhooks its district admin's as well."""
    return may_administer(principal, state) or administers_district(principal, state, district)
