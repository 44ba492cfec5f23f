"""Licensure end to end: several states' rules, district approval, reversals, and what states receive.

A state subscriber here is what an agency would run: a plain aiokafka consumer on its own topic, and
a stdlib HTTP server that checks our HMAC signature with nothing but ``hmac``. Suspension, reinstatement
and expiry reach the states that credited the award, with the consequence for the credit. The webhook receiver
is down, then failing, then healthy, and must end up with every record, each once and correctly signed.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from webhook_receiver import SignedReceiver

from microcred.devstack.client import Actor, PlatformClient, publish_as, read_events, wait_for
from microcred.devstack.platform import Platform
from microcred.devstack.samples import expiring_award
from microcred.devstack.topics import read_until
from microcred.runtime.auth import Role

pytestmark = pytest.mark.stack

def license_in(client: PlatformClient, teacher: Actor, state: str, **extra: Any) -> dict[str, Any]:
    return client.call("POST", "licensure", "/licenses", teacher, expect=201, json={  # type: ignore[no-any-return]
        "state": state, "license_number": f"{state}-{uuid.uuid4().hex[:10]}", "license_type": "Professional",
        "cycle_start": "2025-09-01", "cycle_end": "2031-08-31", **extra})


def progress(client: PlatformClient, actor: Actor, license: dict[str, Any]) -> dict[str, Any]:
    return client.call("GET", "licensure", f"/licenses/{license['license_id']}/progress", actor)  # type: ignore


def test_one_award_credits_each_state_under_its_rules_and_each_state_reads_only_its_own_topic(
    platform: Platform, client: PlatformClient, module_world: Any
) -> None:
    teacher = module_world.teacher(state="TN", also_in=("UT",))  # registers a TN license
    ut = license_in(client, teacher, "UT")
    (tn,) = [lic for lic in client.call("GET", "licensure", "/licenses", teacher) if lic["state"] == "TN"]
    award = module_world.earn(teacher, module_world.publish("Multi-State Practice"))

    tn_progress = wait_for(lambda: (p := progress(client, teacher, tn))["entries"] and p, "TN credit")
    ut_progress = wait_for(lambda: (p := progress(client, teacher, ut))["entries"] and p, "UT credit")
    assert (tn_progress["earned"], tn_progress["unit"], tn_progress["required"]) == ("6", "points", "60")
    assert tn_progress["cap_per_cycle"] == "30"
    assert (ut_progress["earned"], ut_progress["unit"], ut_progress["required"]) == ("0.5", "credits", "6")

    bootstrap = platform.endpoints.kafka_bootstrap
    mine = lambda records, lic: [r for r in records if r["license_id"] == lic["license_id"]]  # noqa: E731
    tn_records = read_until(bootstrap, "licensure.state.TN", lambda rs: len(mine(rs, tn)) >= 2)
    ut_records = read_until(bootstrap, "licensure.state.UT", lambda rs: len(mine(rs, ut)) >= 2)
    assert {r["state"] for r in tn_records} == {"TN"} and {r["state"] for r in ut_records} == {"UT"}
    assert mine(tn_records, ut) == [] and mine(ut_records, tn) == [], "a state sees only its licensees"
    assert [r["record_type"] for r in mine(tn_records, tn)] == ["award", "credit_posted"]
    assert mine(tn_records, tn)[0]["credential"] == award["credential"], "the signed credential travels along"


def test_a_credit_needing_district_approval_posts_only_once_the_district_approves(
    client: PlatformClient, module_world: Any
) -> None:
    teacher = module_world.teacher(state="AR", licensed=False, district="Pulaski County")
    ar = license_in(client, teacher, "AR")
    assert ar["district"] == "Pulaski County", "a teacher's district comes from their token"
    award = module_world.earn(teacher, module_world.publish("District Approved Practice"))
    pending = wait_for(lambda: (p := progress(client, teacher, ar))["decisions"] and p, "AR decision")
    (decision,) = pending["decisions"]
    assert decision["status"] == "pending_approval" and pending["earned"] == "0"

    elsewhere = client.actor("district-benton", Role.DISTRICT_ADMIN, states=("AR",), district="Benton County")
    path = f"/licenses/{ar['license_id']}/credits/{award['award_id']}/decision"
    # Another district's license is not theirs to know of: answered as a license that does not exist.
    assert client.attempt("POST", "licensure", path, elsewhere, json={"approve": True}).status_code == 404
    district = client.actor("district-pulaski", Role.DISTRICT_ADMIN, states=("AR",), district="Pulaski County")
    queue = client.call("GET", "licensure", "/states/AR/pending-credits", district)
    assert award["award_id"] in {item["award_id"] for item in queue}
    decided = client.call("POST", "licensure", path, district, json={"approve": True, "reason": "in the plan"})
    assert decided["status"] == "posted" and decided["decided_by"] == "district-pulaski"
    approved = progress(client, teacher, ar)
    assert (approved["earned"], approved["unit"]) == ("15", "hours")
    again = client.attempt("POST", "licensure", path, district, json={"approve": False, "reason": "changed my mind"})
    assert again.status_code == 409


def test_revoking_an_award_reverses_its_credit_and_the_state_report_shows_both(
    platform: Platform, client: PlatformClient, module_world: Any
) -> None:
    teacher = module_world.teacher(state="TN")
    (tn,) = client.call("GET", "licensure", "/licenses", teacher)
    award = module_world.earn(teacher, module_world.publish("Revoked Practice"))
    wait_for(lambda: progress(client, teacher, tn)["earned"] == "6", "TN credit")
    client.call("POST", "award", f"/credentials/{award['award_id']}/revoke", module_world.admin,
                json={"reason": "Evidence was not the teacher's own"})
    reversed_ = wait_for(lambda: (p := progress(client, teacher, tn))["earned"] == "0" and p, "the reversal")
    kinds = [entry["kind"] for entry in reversed_["entries"]]
    assert kinds == ["credit", "reversal"], "the credit stays in the ledger beside its reversal"
    assert "Evidence was not the teacher's own" in reversed_["entries"][1]["reason"]
    (event,) = read_events(platform.endpoints.kafka_bootstrap, "licensure.credit-reversed",
                           lambda e: e.get("award_id") == award["award_id"], 1)
    assert event.value["amount"] == "-6" or float(event.value["amount"]) == -6

    tn_admin = client.actor("tn-admin", Role.STATE_ADMIN, states=("TN",))
    today = datetime.now(UTC).date().isoformat()
    report = client.http.get(client.urls["licensure"] + "/states/TN/reports/credits",
                             params={"start": today, "end": today, "group": "detail"}, headers=tn_admin.headers)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    rows = [line for line in report.text.splitlines() if tn["license_number"] in line]
    assert [row.split(",")[1] for row in rows] == ["credit", "reversal"]
    summary = client.http.get(client.urls["licensure"] + "/states/TN/reports/credits",
                              params={"start": today, "end": today}, headers=tn_admin.headers).text
    assert summary.splitlines()[0] == "district,credential_id,credential_name,credits,reversals,net_amount,unit"
    ut_admin = client.actor("ut-admin", Role.STATE_ADMIN, states=("UT",))
    assert client.attempt("GET", "licensure", f"/states/TN/reports/credits?start={today}&end={today}",
                          ut_admin).status_code == 403


# -- webhooks -----------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def ut_admin(client: PlatformClient) -> Iterator[Actor]:
    yield client.actor(f"ut-admin-{uuid.uuid4().hex[:6]}", Role.STATE_ADMIN, states=("UT",))


def test_a_webhook_receiver_that_was_down_then_failing_gets_every_record_once_and_signed(
    client: PlatformClient, module_world: Any, ut_admin: Actor
) -> None:
    port = free_port()
    subscription = client.call("POST", "licensure", "/webhooks", ut_admin, expect=201,
                               json={"state": "UT", "url": f"http://127.0.0.1:{port}/microcred"})
    secret = subscription["secret"]
    assert len(secret) >= 32
    listed = client.call("GET", "licensure", "/webhooks?state=UT", ut_admin)
    assert all("secret" not in item for item in listed), "the secret is shown once, at creation"

    teacher = module_world.teacher(state="UT", licensed=False)
    ut = license_in(client, teacher, "UT")
    module_world.earn(teacher, module_world.publish("Webhook Practice"))
    deliveries = f"/webhooks/{subscription['subscription_id']}/deliveries"
    # The receiver is down: deliveries fail with connection refused and are retried.
    wait_for(lambda: any(d["attempts"] >= 2 for d in client.call("GET", "licensure", deliveries, ut_admin)),
             "retries against a receiver that is down")
    with SignedReceiver(secret, port=port, failures=2) as receiver:
        mine = lambda: [r for r in receiver.received.values() if r["license_id"] == ut["license_id"]]  # noqa: E731
        wait_for(lambda: len(mine()) >= 2, "both records delivered once the receiver is back", timeout=60)
        assert sorted(r["record_type"] for r in mine()) == ["award", "credit_posted"]
        assert receiver.bad_signatures == 0 and receiver.calls >= 4
        delivered = client.call("GET", "licensure", f"{deliveries}?status=delivered", ut_admin)
        assert {d["record_type"] for d in delivered} >= {"award", "credit_posted"}
        assert max(d["attempts"] for d in delivered) >= 3, "it took retries"

        before = len(receiver.received)
        replayed = client.call("POST", "licensure", f"/webhooks/{subscription['subscription_id']}/replay",
                               ut_admin, json={"since": "2020-01-01T00:00:00Z"})
        assert replayed["requeued"] >= 2
        wait_for(lambda: receiver.calls >= 4 + replayed["requeued"], "the replay")
        assert len(receiver.received) == before, "a replay carries the same event ids: receivers dedupe on them"


# -- status changes ---------------------------------------------------------------------------------------------


def test_suspension_reinstatement_and_expiry_reach_each_crediting_states_topic_and_webhooks(
    platform: Platform, client: PlatformClient, module_world: Any, ut_admin: Actor
) -> None:
    port = free_port()
    subscription = client.call("POST", "licensure", "/webhooks", ut_admin, expect=201,
                               json={"state": "UT", "url": f"http://127.0.0.1:{port}/microcred"})
    teacher = module_world.teacher(state="TN", also_in=("UT",))
    ut = license_in(client, teacher, "UT")
    (tn,) = [lic for lic in client.call("GET", "licensure", "/licenses", teacher) if lic["state"] == "TN"]
    bystander = module_world.teacher(state="TN")  # another TN licensee: none of this concerns them
    award = module_world.earn(teacher, module_world.publish("Suspended Practice"))
    wait_for(lambda: progress(client, teacher, ut)["entries"], "UT credit")
    wait_for(lambda: progress(client, teacher, tn)["entries"], "TN credit")

    standing = f"/credentials/{award['award_id']}"
    client.call("POST", "award", f"{standing}/suspend", module_world.admin, json={"reason": "Evidence under review"})
    client.call("POST", "award", f"{standing}/reinstate", module_world.admin, json={"reason": "Review cleared it"})
    expires = datetime.now(UTC) + timedelta(seconds=2)
    expiring = expiring_award(teacher.subject, expires, states=("TN", "UT"))
    bootstrap = platform.endpoints.kafka_bootstrap
    publish_as(bootstrap, "award", expiring)
    wait_for(lambda: len(progress(client, teacher, ut)["entries"]) >= 2, "the expiring award's UT credit")

    def sweep() -> int | None:
        """One pass of what the periodic sweep does hourly: announce what has expired and was not yet told."""
        if datetime.now(UTC) <= expires:
            return None
        announced = client.call("POST", "licensure", "/maintenance/expiry-sweep", module_world.operator)["announced"]
        return int(announced) or None

    wait_for(sweep, "the expiry sweep to announce the expiry")

    status_types = {"credential_suspended", "credential_reinstated", "credential_expired"}

    def statuses(records: list[dict[str, Any]], license: dict[str, Any]) -> list[tuple[str, str]]:
        # In the order the changes happened: award.suspended and award.reinstated are topics of their own, so
        # licensure may hear (and announce) them in either order; changed_at says which is the later.
        return [(r["record_type"], r["consequence"])
                for r in sorted(records, key=lambda r: r.get("changed_at") or "")
                if r["license_id"] == license["license_id"] and r["record_type"] in status_types]

    expected_tn = [("credential_suspended", "kept"), ("credential_reinstated", "kept"), ("credential_expired", "kept")]
    expected_ut = [*expected_tn[:2], ("credential_expired", "reversed")]  # UT's rule reverses on expiry
    tn_records = read_until(bootstrap, "licensure.state.TN", lambda rs: len(statuses(rs, tn)) >= 3)
    ut_records = read_until(bootstrap, "licensure.state.UT", lambda rs: len(statuses(rs, ut)) >= 3)
    assert statuses(tn_records, tn) == expected_tn and statuses(ut_records, ut) == expected_ut
    assert {r["state"] for r in tn_records} == {"TN"} and {r["state"] for r in ut_records} == {"UT"}
    assert statuses(tn_records, ut) == [] and statuses(ut_records, tn) == [], "a state hears of its licensees only"
    (bystander_license,) = client.call("GET", "licensure", "/licenses", bystander)
    assert statuses(tn_records, bystander_license) == []

    mine = [r for r in tn_records if r["license_id"] == tn["license_id"]]
    suspended = next(r for r in mine if r["record_type"] == "credential_suspended")
    assert suspended["event_version"] == 3 and suspended["award_id"] == award["award_id"]
    assert (suspended["reason"], suspended["changed_by"]) == ("Evidence under review", module_world.admin.subject)
    assert suspended["license_number"] == tn["license_number"] and suspended["credential_name"]
    assert suspended["entry_id"] and float(suspended["amount"]) == 6, "kept names the credit that stays"
    ut_expired = next(r for r in ut_records if r["license_id"] == ut["license_id"]
                      and r["record_type"] == "credential_expired")
    reversal = next(r for r in ut_records if r["record_type"] == "credit_reversed"
                    and r["award_id"] == str(expiring.award_id))
    assert ut_expired["award_id"] == str(expiring.award_id) and ut_expired["changed_by"] is None
    assert (ut_expired["entry_id"], float(ut_expired["amount"])) == (reversal["entry_id"], -0.5)

    # Running the sweep again tells nobody twice.
    client.call("POST", "licensure", "/maintenance/expiry-sweep", module_world.operator)
    with SignedReceiver(subscription["secret"], port=port) as receiver:
        def received() -> list[tuple[str, str]]:
            return statuses(list(receiver.received.values()), ut)

        wait_for(lambda: len(received()) >= 3, "the UT webhook to receive the status records", timeout=60)
        assert received() == expected_ut and receiver.bad_signatures == 0
    again = read_until(bootstrap, "licensure.state.TN", lambda rs: len(rs) >= len(tn_records), timeout=5)
    assert statuses(again, tn) == expected_tn, "each expiry is announced once"
