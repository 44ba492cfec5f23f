"""Who holds which competency by district, on the real stack: the competency comes from catalog.credential-published,
the holders from award.awarded, and a suspension, reinstatement or revocation changes who holds it (licensure's SQL
against PostgreSQL, not the unit tests' fakes)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from microcred.devstack.client import PlatformClient, wait_for
from microcred.runtime.auth import Role

pytestmark = pytest.mark.stack


def holders(client: PlatformClient, actor: Any, district: str, competency: str) -> int | None:
    """Teachers of ``district`` holding ``competency``; None while the competency is not in the report at all."""
    report = client.call("GET", "licensure", "/states/AR/reports/competencies", actor)
    if competency not in {c["competency"] for c in report["competencies"]}:
        return None
    (row,) = [d for d in report["districts"] if d["district"] == district]
    return next(h["teachers"] for h in row["holders"] if h["competency"] == competency)


def test_the_competency_report_counts_held_awards_by_district_and_follows_their_standing(
    client: PlatformClient, module_world: Any
) -> None:
    district = f"Garland County {uuid.uuid4().hex[:6]}"
    competency = f"Plans questions that surface misconceptions ({uuid.uuid4().hex[:6]})"
    credential_id = module_world.publish("Hinge Questions", competency=competency)
    holder = module_world.teacher(state="AR", district=district)
    module_world.teacher(state="AR", district=district)  # licensed there, holds nothing: the gap
    award = module_world.earn(holder, credential_id)

    ar_admin = client.actor(f"ar-admin-{uuid.uuid4().hex[:6]}", Role.STATE_ADMIN, states=("AR",))
    wait_for(lambda: holders(client, ar_admin, district, competency) == 1, "the holder counted")
    report = client.call("GET", "licensure", "/states/AR/reports/competencies", ar_admin,
                         params={"district": district})
    (row,) = report["districts"]
    assert (row["district"], row["licensed_teachers"]) == (district, 2)
    (entry,) = [c for c in report["competencies"] if c["competency"] == competency]
    assert entry["recorded"] and entry["credentials"] == [f"Hinge Questions {module_world.unique}"]

    # A district admin of another district reads their own, whatever they ask for; another state is refused.
    elsewhere = client.actor(f"benton-{uuid.uuid4().hex[:6]}", Role.DISTRICT_ADMIN, states=("AR",),
                             district="Benton County")
    theirs = client.call("GET", "licensure", "/states/AR/reports/competencies", elsewhere,
                         params={"district": district})
    assert {d["district"] for d in theirs["districts"]} <= {"Benton County"}
    assert client.attempt("GET", "licensure", "/states/TN/reports/competencies", elsewhere).status_code == 403

    standing = f"/credentials/{award['award_id']}"
    client.call("POST", "award", f"{standing}/suspend", module_world.admin, json={"reason": "Evidence under review"})
    wait_for(lambda: holders(client, ar_admin, district, competency) is None, "the suspended award not held")
    client.call("POST", "award", f"{standing}/reinstate", module_world.admin, json={"reason": "Review cleared it"})
    wait_for(lambda: holders(client, ar_admin, district, competency) == 1, "the reinstated award held again")
    client.call("POST", "award", f"{standing}/revoke", module_world.admin, json={"reason": "Not the teacher's own"})
    wait_for(lambda: holders(client, ar_admin, district, competency) is None, "the revoked award not held")
