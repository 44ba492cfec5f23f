"""Who may do what with licensure data: one place for the rules every use case and route applies."""

from __future__ import annotations

from microcred.licensure.domain.model import License
from microcred.runtime.auth import Principal, Role


def may_administer(principal: Principal, state: str) -> bool:
    """An operator, or an admin of that state: rule sets, reports, approvals, webhooks, adjustments."""
    return principal.has(Role.OPERATOR) or (principal.has(Role.STATE_ADMIN) and state in principal.states)


def is_district_of(principal: Principal, license: License) -> bool:
    return (principal.has(Role.DISTRICT_ADMIN) and license.state in principal.states
            and license.district is not None and principal.district == license.district)


def may_decide(principal: Principal, license: License) -> bool:
    """The license's district decides its pending credits; the state (or an operator) may decide for it."""
    return may_administer(principal, license.state) or is_district_of(principal, license)


def may_see(principal: Principal, license: License) -> bool:
    return may_decide(principal, license) or (principal.has(Role.TEACHER) and license.teacher_id == principal.subject)
