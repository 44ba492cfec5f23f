"""Every party tries every other party's reads and writes, in every service, against the running platform.

The parties: two teachers in different states (and a third who probes license numbers), reviewers who
are assigned, were never assigned, declined, had overdue work taken back and reassigned, and scored,
the admins of two issuers, of two states and of two districts, and an operator. Each case is one
request on one party's resource; everyone outside the case's ``allowed`` parties sends it, and must be
refused (403 or 404). Then a rightful party sends the very same request and must succeed, so no
refusal can come from a broken request. Requests that change what other cases see (declining,
scoring, deciding) have their positive control run after every attempt.

Refusals must not reveal anything either. Where a resource's existence is not public, a refused
party's answer must equal the answer to the same request on an id nobody has (status and error code),
unless the party may know the resource exists (``sees``). Listings must not name what a party may not
see. A leak is any of: a refused request that succeeded, any other status than 403 or 404, an answer
that differs from the unknown id's, a listing that shows another party's resource.

Every answer must also be one its operation's OpenAPI document lists (the services count those that
are not; the count must not grow during the run). Totals (attempts, refusals, leaks, controls) are
printed and recorded as the test's property; the test asserts zero leaks, every control succeeded and
no undocumented answer.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from microcred.devstack.client import Actor, PlatformClient, wait_for
from microcred.devstack.platform import Platform
from microcred.devstack.samples import PROFICIENT, credential_definition
from microcred.runtime.auth import Role

pytestmark = pytest.mark.stack

UNKNOWN = "00000000-0000-4000-8000-00000000dead"
# Nothing listens on the discard port: a webhook that must never deliver anything anywhere.
DEAD_URL = "http://127.0.0.1:9/matrix"


@dataclass(frozen=True)
class Case:
    """One request on one party's resource. ``hidden``: the id whose existence is not public (its
    replacement by an unknown id gives the answer a refusal must equal); ``sees``: parties refused but
    allowed to know it exists; ``destructive``: its control runs after every attempt."""

    what: str
    service: str
    method: str
    path: str
    allowed: frozenset[str]
    control: str
    body: Any = None
    params: dict[str, str] = field(default_factory=dict)
    hidden: str | None = None
    sees: frozenset[str] = frozenset()
    destructive: bool = False


@dataclass(frozen=True)
class Listing:
    """A list any party may ask for, which must show ``secret`` to the ``allowed`` and to nobody else."""

    what: str
    service: str
    path: str
    secret: str
    allowed: frozenset[str]
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Probe:
    """A request one party makes about what is not theirs: refused (``refused``), or answered exactly as
    its ``twin`` (the same request without what it must not learn) when it must reveal nothing."""

    what: str
    party: str
    service: str
    method: str
    path: str
    body: Any
    control: tuple[str, str, str, Any]  # (party, method, path, body) that must succeed
    twin: Any = None  # body whose answer the probe's must equal; None: the probe must be refused
    refused: bool = True


@dataclass
class Tally:
    attempts: int = 0
    refusals: int = 0
    controls: int = 0
    compared: int = 0
    leaks: list[str] = field(default_factory=list)
    broken_controls: list[str] = field(default_factory=list)


@dataclass
class Scene:
    """Who is who, and what each case tries on whose resources."""

    parties: dict[str, Actor]
    cases: list[Case]
    listings: list[Listing]
    probes: list[Probe]
    # What a control created that would constrain others after the test: (party, service, method, path).
    cleanup: list[tuple[str, str, str, str]] = field(default_factory=list)


def _everyone(*names: str) -> frozenset[str]:
    return frozenset(names)


def _answer(response: httpx.Response) -> tuple[int, str | None]:
    try:
        body = response.json()
    except ValueError:
        return response.status_code, None
    return response.status_code, body.get("error") if isinstance(body, dict) else None


def _move_the_clock_past(platform: Platform, review_id: str) -> None:
    """Fourteen business days pass for one assignment: its deadline is moved into the past."""

    async def move() -> None:
        engine = create_async_engine(platform.endpoints.database_url("review"))
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    sa.text("UPDATE reviews SET due_at = now() - interval '1 minute' WHERE review_id = :id"),
                    {"id": uuid.UUID(review_id)},
                )
        finally:
            await engine.dispose()

    asyncio.run(move())


def _loses_access(client: PlatformClient, reviewer: Actor, submission_id: str, what: str) -> None:
    def gone() -> bool:
        return client.attempt("GET", "submission", f"/submissions/{submission_id}", reviewer).status_code == 404

    wait_for(gone, f"{what} to lose access to submission {submission_id}", timeout=30)


def _gains_access(client: PlatformClient, reviewer: Actor, submission_id: str) -> None:
    def there() -> bool:
        return client.attempt("GET", "submission", f"/submissions/{submission_id}", reviewer).status_code == 200

    wait_for(there, f"{reviewer.subject} to read submission {submission_id}", timeout=30)


@pytest.fixture(scope="module")
def scene(platform: Platform, client: PlatformClient, module_world: Any,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    world, u = module_world, uuid.uuid4().hex[:6]
    operator, admin_a, issuer_a = world.operator, world.admin, world.issuer_id
    issuer_b = client.create_issuer(operator, f"Matrix Other Issuer {u}")
    admin_b = client.actor(f"admin-b-{u}", Role.ISSUER_ADMIN, organization=issuer_b)
    declined_credential = world.publish("Matrix Declined")
    overdue_credential = world.publish("Matrix Overdue")
    scored_credential = world.publish("Matrix Scored")
    # A Pulaski County salary step that the district approves, earned by the scored credential alone: licensure
    # reads programs at start, so it is restarted with this one (which no other test's credential earns).
    recognition_program = f"AR-MATRIX-STEP-{u}"
    programs_dir = tmp_path_factory.mktemp("matrix-programs")
    (programs_dir / "matrix-step.json").write_text(json.dumps({
        "program_id": recognition_program, "state": "AR", "district": "Pulaski County", "agency": "matrix",
        "confirm_with_agency": True, "note": "written by tests/e2e/test_authorization_matrix.py",
        "versions": [{"version": 1, "name": "Matrix lane step", "effective_from": "2024-01-01",
                      "outcome": {"kind": "salary_step", "label": "Matrix lane step"},
                      "rule": {"kind": "count_from_set", "from_set": {"credentials": [scored_credential]}, "count": 1},
                      "requires_district_approval": True}]}))
    platform.service_env["MICROCRED_EXTRA_PROGRAMS_DIR"] = str(programs_dir)
    try:
        platform.stop_service("licensure")
        platform.restart_service("licensure")
    finally:
        platform.service_env.pop("MICROCRED_EXTRA_PROGRAMS_DIR", None)  # read at start: the program stays loaded
    draft_a = client.draft_credential(admin_a, issuer_a, credential_definition(f"Matrix Draft A {u}"))["credential_id"]
    draft_b = client.draft_credential(admin_b, issuer_b, credential_definition(f"Matrix Draft B {u}"))["credential_id"]
    stack_body = {"name": f"Matrix Stack {u}", "credential_ids": [declined_credential, overdue_credential]}
    stack = client.call("POST", "catalog", "/stacks", admin_a, expect=201, json={"issuer_id": issuer_a, **stack_body})
    # The pathway gates only A's own draft, which nobody can start: it constrains no one in this run.
    pathway_body = {"name": f"Matrix Pathway {u}", "steps": [
        {"credential_id": declined_credential}, {"credential_id": draft_a, "prerequisites": [declined_credential]}]}
    pathway = client.call("POST", "catalog", "/pathways", admin_a, expect=201,
                          json={"issuer_id": issuer_a, **pathway_body})

    teacher1 = world.teacher("TN", district="Knox County")
    teacher2 = world.teacher("AR", district="Pulaski County")
    teacher3 = world.teacher("TN", licensed=False)
    (license1,) = client.call("GET", "licensure", "/licenses", teacher1)
    (license2,) = client.call("GET", "licensure", "/licenses", teacher2)

    def reviewer(name: str, credential_id: str) -> Actor:
        actor = client.actor(f"matrix-{name}-{u}", Role.REVIEWER)
        client.register_reviewer(operator, actor.subject, [credential_id])
        return actor

    # Declined: the only eligible reviewer declines, so only review.released can end their access.
    declined = reviewer("declined", declined_credential)
    s1 = world.submit_evidence(teacher1, declined_credential)
    rv1 = client.assigned_review(declined, s1, attempt=1)["review_id"]
    _gains_access(client, declined, s1)
    client.call("POST", "review", f"/reviews/{rv1}/decline", declined, json={"reason": "I taught this class"})
    _loses_access(client, declined, s1, "a reviewer who declined, with nobody else assigned yet,")
    assigned = reviewer("assigned", declined_credential)
    client.assigned_review(assigned, s1, attempt=1)
    _gains_access(client, assigned, s1)

    # Overdue: the sweep takes the work back, and later someone else gets it.
    late = reviewer("late", overdue_credential)
    s2 = world.submit_evidence(teacher2, overdue_credential)
    rv2 = client.assigned_review(late, s2, attempt=1)["review_id"]
    _gains_access(client, late, s2)
    _move_the_clock_past(platform, rv2)
    client.call("POST", "review", "/maintenance/sweep", operator)  # or the periodic sweep, whichever is first
    _loses_access(client, late, s2, "a reviewer whose overdue work was taken back")
    reassigned = reviewer("next", overdue_credential)
    client.assigned_review(reassigned, s2, attempt=1)
    _gains_access(client, reassigned, s2)

    # Scored: the review concluded and the teacher was awarded; Arkansas waits for the district.
    scorer = reviewer("scorer", scored_credential)
    s3 = world.submit_evidence(teacher2, scored_credential)
    rv3 = client.assigned_review(scorer, s3, attempt=1)["review_id"]
    client.score(scorer, rv3, PROFICIENT)
    award = client.wait_status(teacher2, s3, "awarded")["award_id"]
    progress2 = f"/licenses/{license2['license_id']}/progress"
    wait_for(lambda: client.call("GET", "licensure", progress2, teacher2)["decisions"], "the AR credit decision")

    pulaski = client.actor(f"pulaski-{u}", Role.DISTRICT_ADMIN, states=("AR",), district="Pulaski County")
    wait_for(lambda: [p for p in client.call("GET", "licensure", "/states/AR/pending-recognitions", pulaski,
                                             params={"limit": "200"}) if p["program_id"] == recognition_program],
             "teacher2's pending salary step")
    idle = reviewer("idle", declined_credential)  # certified, never assigned: registered after the routing
    draft_submission = client.start_submission(teacher1, scored_credential)["submission_id"]
    evidence1 = client.submission(teacher1, s1)["evidence"][0]["evidence_id"]
    evidence2 = client.submission(teacher2, s2)["evidence"][0]["evidence_id"]

    tn_admin = client.actor(f"tn-admin-{u}", Role.STATE_ADMIN, states=("TN",))
    ar_admin = client.actor(f"ar-admin-{u}", Role.STATE_ADMIN, states=("AR",))
    benton = client.actor(f"benton-{u}", Role.DISTRICT_ADMIN, states=("AR",), district="Benton County")
    webhook = client.call("POST", "licensure", "/webhooks", tn_admin, expect=201,
                          json={"state": "TN", "url": DEAD_URL})["subscription_id"]
    # A district's own webhook (issue 21): its district admin manages it, besides the state's admin and operators.
    pulaski_hook = client.call("POST", "licensure", "/webhooks", ar_admin, expect=201, json={
        "state": "AR", "district": "Pulaski County", "url": DEAD_URL})["subscription_id"]

    parties = {
        "teacher1": teacher1, "teacher2": teacher2, "teacher3": teacher3,
        "reviewer_assigned": assigned, "reviewer_idle": idle, "reviewer_declined": declined,
        "reviewer_overdue": late, "reviewer_reassigned": reassigned, "reviewer_scored": scorer,
        "admin_a": admin_a, "admin_b": admin_b, "tn_admin": tn_admin, "ar_admin": ar_admin,
        "district_pulaski": pulaski, "district_benton": benton, "operator": operator,
    }
    l1, l2 = license1["license_id"], license2["license_id"]
    today = datetime.now(UTC).date().isoformat()
    definition = credential_definition(f"Matrix Draft A {u}")
    op = "operator"
    a, b = _everyone("admin_a", op), _everyone("admin_b", op)
    ops = _everyone(op)
    ar_district = _everyone("ar_admin", "district_pulaski", "district_benton", op)

    cases = [
        # -- catalog ---------------------------------------------------------------------------------
        Case("read A's draft", "catalog", "GET", f"/credentials/{draft_a}", a, "admin_a", hidden=draft_a),
        Case("list A's draft versions", "catalog", "GET", f"/credentials/{draft_a}/versions", a, "admin_a",
             hidden=draft_a),
        Case("edit A's draft", "catalog", "PUT", f"/credentials/{draft_a}/versions/1", a, "admin_a",
             body=definition, hidden=draft_a),
        Case("read B's draft", "catalog", "GET", f"/credentials/{draft_b}", b, "admin_b", hidden=draft_b),
        Case("draft a credential for issuer A", "catalog", "POST", "/credentials", a, "admin_a",
             body={"issuer_id": issuer_a, **credential_definition(f"Matrix Drafted {u}")}),
        Case("open a version of A's credential", "catalog", "POST", f"/credentials/{scored_credential}/versions",
             a, "admin_a"),
        Case("read A's staff", "catalog", "GET", f"/issuers/{issuer_a}/staff", a, "admin_a"),
        Case("change A's profile", "catalog", "PATCH", f"/issuers/{issuer_a}", a, "admin_a",
             body={"description": "Micro-credentials for educators."}),
        Case("add staff to A", "catalog", "POST", f"/issuers/{issuer_a}/staff", a, "admin_a",
             body={"subject": f"editor-{u}", "role": "editor"}),
        Case("change A's stack", "catalog", "PUT", f"/stacks/{stack['stack_id']}", a, "admin_a", body=stack_body),
        Case("change A's pathway", "catalog", "PUT", f"/pathways/{pathway['pathway_id']}", a, "admin_a",
             body=pathway_body),
        Case("export the catalog", "catalog", "GET", "/catalog/export", ops, op),
        # -- submission ------------------------------------------------------------------------------
        Case("read teacher1's submission", "submission", "GET", f"/submissions/{s1}",
             _everyone("teacher1", "reviewer_assigned", op), "reviewer_assigned", hidden=s1),
        Case("download teacher1's evidence", "submission", "GET",
             f"/submissions/{s1}/evidence/{evidence1}/download", _everyone("teacher1", "reviewer_assigned"),
             "reviewer_assigned", hidden=s1, sees=ops),
        Case("read teacher2's reassigned submission", "submission", "GET", f"/submissions/{s2}",
             _everyone("teacher2", "reviewer_reassigned", op), "reviewer_reassigned", hidden=s2),
        Case("download teacher2's reassigned evidence", "submission", "GET",
             f"/submissions/{s2}/evidence/{evidence2}/download", _everyone("teacher2", "reviewer_reassigned"),
             "reviewer_reassigned", hidden=s2, sees=ops),
        Case("read teacher2's scored submission", "submission", "GET", f"/submissions/{s3}",
             _everyone("teacher2", op), "teacher2", hidden=s3),
        Case("answer prompts of teacher1's draft", "submission", "PUT", f"/submissions/{draft_submission}/responses",
             _everyone("teacher1"), "teacher1", hidden=draft_submission, sees=ops,
             body={"responses": [{"requirement_key": "reflection", "prompt_index": 0, "answer": "Mine."}]}),
        Case("declare evidence on teacher1's draft", "submission", "POST",
             f"/submissions/{draft_submission}/evidence", _everyone("teacher1"), "teacher1",
             hidden=draft_submission, sees=ops,
             body={"requirement_key": "reflection", "filename": "r.txt", "content_type": "text/plain",
                   "size_bytes": 5, "sha256": "a" * 64}),
        Case("withdraw teacher1's draft", "submission", "POST", f"/submissions/{draft_submission}/withdraw",
             _everyone("teacher1"), "teacher1", hidden=draft_submission, sees=ops, destructive=True,
             body={"reason": "matrix"}),
        Case("sweep evidence", "submission", "POST", "/maintenance/sweep", ops, op),
        # -- review ----------------------------------------------------------------------------------
        Case("read the open review", "review", "GET", f"/reviews/{rv1}", _everyone("reviewer_assigned", op),
             "reviewer_assigned", hidden=rv1),
        Case("read the reassigned review", "review", "GET", f"/reviews/{rv2}",
             _everyone("reviewer_reassigned", op), "reviewer_reassigned", hidden=rv2),
        Case("read the scored review", "review", "GET", f"/reviews/{rv3}", _everyone("reviewer_scored", op),
             "reviewer_scored", hidden=rv3),
        Case("score the open review", "review", "POST", f"/reviews/{rv1}/score", _everyone("reviewer_assigned"),
             "reviewer_assigned", hidden=rv1, destructive=True,
             body={"results": [{"criterion_key": k, "level_key": v, "feedback": ""} for k, v in PROFICIENT.items()]}),
        Case("decline the reassigned review", "review", "POST", f"/reviews/{rv2}/decline",
             _everyone("reviewer_reassigned"), "reviewer_reassigned", hidden=rv2, destructive=True,
             body={"reason": "matrix"}),
        Case("change a reviewer's registration", "review", "PUT", f"/reviewers/{assigned.subject}", ops, op,
             body={"credential_ids": [declined_credential], "max_open": 10, "active": True}),
        Case("list reviewers", "review", "GET", "/reviewers", ops, op),
        Case("read the review queue", "review", "GET", "/reviews/queue", ops, op),
        Case("read reliability", "review", "GET", "/reliability", ops, op),
        Case("sweep overdue reviews", "review", "POST", "/maintenance/sweep", ops, op),
        # -- award -----------------------------------------------------------------------------------
        Case("rotate A's signing key", "award", "POST", f"/issuers/{issuer_a}/keys/rotate", a, "admin_a"),
        # -- licensure -------------------------------------------------------------------------------
        Case("read teacher1's progress", "licensure", "GET", f"/licenses/{l1}/progress",
             _everyone("teacher1", "tn_admin", op), "teacher1", hidden=l1),
        Case("read teacher2's progress", "licensure", "GET", f"/licenses/{l2}/progress",
             _everyone("teacher2", "ar_admin", "district_pulaski", op), "district_pulaski", hidden=l2),
        Case("set teacher1's growth plan", "licensure", "PUT", f"/licenses/{l1}/growth-plan",
             _everyone("teacher1", "tn_admin", op), "teacher1", hidden=l1,
             body={"credential_ids": [declined_credential]}),
        Case("adjust teacher1's ledger", "licensure", "POST", f"/licenses/{l1}/adjustments",
             _everyone("tn_admin", op), "tn_admin", hidden=l1, sees=_everyone("teacher1"),
             body={"amount": "1", "reason": "matrix"}),
        Case("decide teacher2's credit", "licensure", "POST", f"/licenses/{l2}/credits/{award}/decision",
             _everyone("district_pulaski", "ar_admin", op), "district_pulaski", hidden=l2,
             sees=_everyone("teacher2"), destructive=True, body={"approve": True, "reason": "in the plan"}),
        Case("decide teacher2's salary step", "licensure", "POST", "/recognitions/decisions",
             _everyone("district_pulaski", "ar_admin", op), "district_pulaski", sees=_everyone("teacher2"),
             destructive=True, body={"teacher_id": teacher2.subject, "program_id": recognition_program,
                                     "key": "step-1", "approve": True, "reason": "in the plan"}),
        Case("read TN's credit report", "licensure", "GET", "/states/TN/reports/credits",
             _everyone("tn_admin", op), "tn_admin", params={"start": today, "end": today}),
        Case("publish a TN rule set", "licensure", "POST", "/rule-sets", _everyone("tn_admin", op), "tn_admin",
             body={"rule_set_id": f"TN-matrix-{u}", "state": "TN", "effective_from": "2099-07-01",
                   "unit": "points", "amount_per_credential": "6", "required_per_cycle": "60"}),
        Case("approve a credential for TN", "licensure", "POST", "/states/TN/approved-credentials",
             _everyone("tn_admin", op), "tn_admin", body={"credential_id": declined_credential}),
        Case("read TN's webhook deliveries", "licensure", "GET", f"/webhooks/{webhook}/deliveries",
             _everyone("tn_admin", op), "tn_admin", hidden=webhook),
        Case("replay TN's webhook", "licensure", "POST", f"/webhooks/{webhook}/replay", _everyone("tn_admin", op),
             "tn_admin", hidden=webhook, body={"since": "2020-01-01T00:00:00Z"}),
        Case("unsubscribe TN's webhook", "licensure", "DELETE", f"/webhooks/{webhook}", _everyone("tn_admin", op),
             "tn_admin", hidden=webhook, destructive=True),
        Case("read Pulaski's webhook deliveries", "licensure", "GET", f"/webhooks/{pulaski_hook}/deliveries",
             _everyone("district_pulaski", "ar_admin", op), "district_pulaski", hidden=pulaski_hook),
        Case("replay Pulaski's webhook", "licensure", "POST", f"/webhooks/{pulaski_hook}/replay",
             _everyone("district_pulaski", "ar_admin", op), "district_pulaski", hidden=pulaski_hook,
             body={"since": "2020-01-01T00:00:00Z"}),
        Case("unsubscribe Pulaski's webhook", "licensure", "DELETE", f"/webhooks/{pulaski_hook}",
             _everyone("district_pulaski", "ar_admin", op), "district_pulaski", hidden=pulaski_hook, destructive=True),
        Case("run the expiry sweep", "licensure", "POST", "/maintenance/expiry-sweep", ops, op),
        # Recognitions (issue 21): a teacher reads only their own standing; a program's holders and the
        # incentive report are the state's, and each of its district admins' for their own district.
        Case("read one's own recognitions", "licensure", "GET", "/recognitions/me",
             _everyone("teacher1", "teacher2", "teacher3"), "teacher2"),
        Case("read AR's Teacher Leader roster", "licensure", "GET", "/states/AR/recognitions/AR-TEACHER-LEADER/holders",
             ar_district, "district_pulaski"),
        Case("read AR's incentive report", "licensure", "GET", "/states/AR/reports/incentives", ar_district,
             "district_benton", params={"year": "2025"}),
        Case("download AR's incentive report", "licensure", "GET", "/states/AR/reports/incentives.csv", ar_district,
             "ar_admin", params={"year": "2025"}),
        # Last of the destructive controls: licensure reverses teacher2's pending salary step when it reads the
        # suspension, so a district decision whose control ran after it would race that event and find nothing.
        Case("suspend teacher2's award", "award", "POST", f"/credentials/{award}/suspend", a, "admin_a",
             body={"reason": "matrix"}, destructive=True),
    ]
    listings = [
        Listing("drafts in the catalog", "catalog", "/credentials", draft_a, a, {"status": "draft"}),
        Listing("teacher1's submissions", "submission", "/submissions", s1, _everyone("teacher1", op)),
        Listing("teacher2's submissions", "submission", "/submissions", s2, _everyone("teacher2", op)),
        Listing("assignments", "review", "/reviews/assigned", rv1, _everyone("reviewer_assigned")),
        Listing("reassigned assignments", "review", "/reviews/assigned", rv2, _everyone("reviewer_reassigned")),
        Listing("teacher2's awards", "award", "/awards", award, _everyone("teacher2", op)),
        Listing("teacher1's licenses", "licensure", "/licenses", l1, _everyone("teacher1", "tn_admin", op)),
        Listing("teacher2's licenses", "licensure", "/licenses", l2, _everyone("teacher2", "ar_admin", op)),
        Listing("AR's pending credits", "licensure", "/states/AR/pending-credits", award,
                _everyone("ar_admin", "district_pulaski", op)),
        Listing("AR's pending recognitions", "licensure", "/states/AR/pending-recognitions", recognition_program,
                _everyone("ar_admin", "district_pulaski", op), {"limit": "200"}),
        Listing("TN's webhooks", "licensure", "/webhooks", webhook, _everyone("tn_admin", op)),
        Listing("teacher2's recognitions", "licensure", "/recognitions/me", teacher2.subject, _everyone("teacher2")),
        Listing("AR's recognition programs (public)", "licensure", "/recognitions/programs",
                "AR-PULASKI-SECONDARY-SCIENCE", frozenset(parties), {"state": "AR"}),
        Listing("Pulaski's webhooks", "licensure", "/webhooks", pulaski_hook,
                _everyone("district_pulaski", "ar_admin", op)),
    ]

    def license_body(state: str, **extra: Any) -> dict[str, Any]:
        return {"state": state, "license_number": f"{state}-{uuid.uuid4().hex[:10]}", "license_type": "Practitioner",
                "cycle_start": "2025-09-01", "cycle_end": "2031-08-31", **extra}

    gating = {"name": f"Matrix Gate {u}", "steps": [
        {"credential_id": declined_credential}, {"credential_id": overdue_credential,
                                                 "prerequisites": [declined_credential]}]}
    probes = [
        Probe("a teacher lowers their own renewal requirement", "teacher1", "licensure", "POST", "/licenses",
              license_body("TN", required_amount="0.01"),
              ("tn_admin", "POST", "/licenses", license_body("TN", teacher_id=teacher1.subject, required_amount="30"))),
        Probe("a teacher picks their own district", "teacher1", "licensure", "POST", "/licenses",
              license_body("TN", district="Friendly County"),
              ("tn_admin", "POST", "/licenses", license_body("TN", teacher_id=teacher1.subject, district="Shelby"))),
        Probe("a teacher registers in a state their token does not carry", "teacher1", "licensure", "POST",
              "/licenses", license_body("AR"), ("teacher2", "POST", "/licenses", license_body("AR"))),
        Probe("a teacher registers another teacher's license", "teacher1", "licensure", "POST", "/licenses",
              license_body("TN", teacher_id=teacher2.subject),
              ("tn_admin", "POST", "/licenses", license_body("TN", teacher_id=teacher2.subject))),
        Probe("a teacher learns whether another teacher's number is registered", "teacher3", "licensure", "POST",
              "/licenses", license_body("TN") | {"license_number": license1["license_number"]},
              ("teacher3", "POST", "/licenses", license_body("TN")), twin=license_body("TN"), refused=False),
        Probe("an issuer gives prerequisites to another issuer's credential", "admin_b", "catalog", "POST",
              "/pathways", {"issuer_id": issuer_b, **gating},
              ("admin_a", "POST", "/pathways", {"issuer_id": issuer_a, **gating})),
        Probe("an issuer names another issuer's draft in its stack", "admin_b", "catalog", "POST", "/stacks",
              {"issuer_id": issuer_b, "name": f"Matrix Probe {u}", "credential_ids": [draft_a]},
              ("admin_a", "POST", "/stacks", {"issuer_id": issuer_a, "name": f"Matrix Own {u}",
                                              "credential_ids": [draft_a]}),
              twin={"issuer_id": issuer_b, "name": f"Matrix Probe {u}", "credential_ids": [UNKNOWN]}),
    ]
    pulaski_body = {"state": "AR", "district": "Pulaski County", "url": DEAD_URL}
    probes += [
        Probe("a district admin subscribes to another district's records", "district_benton", "licensure", "POST",
              "/webhooks", pulaski_body, ("district_pulaski", "POST", "/webhooks", pulaski_body)),
        Probe("a district admin subscribes to another state's records", "district_pulaski", "licensure", "POST",
              "/webhooks", {"state": "TN", "url": DEAD_URL}, ("tn_admin", "POST", "/webhooks",
                                                              {"state": "TN", "url": DEAD_URL})),
    ]
    found = Scene(parties, cases, listings, probes)
    yield found
    # Also when the test failed half way: a live subscription would retry a dead URL for the whole session.
    found.cleanup.append(("tn_admin", "licensure", "DELETE", f"/webhooks/{webhook}"))
    found.cleanup.append(("ar_admin", "licensure", "DELETE", f"/webhooks/{pulaski_hook}"))
    for who, service, method, path in found.cleanup:
        client.attempt(method, service, path, parties[who])


def _send(client: PlatformClient, party: Actor, service: str, method: str, path: str, body: Any = None,
          params: dict[str, str] | None = None) -> httpx.Response:
    return client.attempt(method, service, path, party, json=body, params=params)


def _attack(client: PlatformClient, scene: Scene, case: Case, tally: Tally) -> None:
    for name, party in scene.parties.items():
        if name in case.allowed:
            continue
        tally.attempts += 1
        response = _send(client, party, case.service, case.method, case.path, case.body, case.params)
        answer = _answer(response)
        if answer[0] not in (403, 404):
            tally.leaks.append(f"{name}: {case.what} -> {response.status_code} {response.text[:200]}")
            continue
        tally.refusals += 1
        if case.hidden is None or name in case.sees:
            continue
        tally.compared += 1
        ghost = _send(client, party, case.service, case.method, case.path.replace(case.hidden, UNKNOWN),
                      case.body, case.params)
        if _answer(ghost) != answer:
            tally.leaks.append(f"{name}: {case.what} answers {answer}, an unknown id {_answer(ghost)}: "
                               "the refusal tells that it exists")


def _control(client: PlatformClient, scene: Scene, case: Case, tally: Tally) -> None:
    tally.controls += 1
    response = _send(client, scene.parties[case.control], case.service, case.method, case.path, case.body,
                     case.params)
    if not response.is_success:
        tally.broken_controls.append(f"{case.control}: {case.what} -> {response.status_code} {response.text[:300]}")


def _look(client: PlatformClient, scene: Scene, listing: Listing, tally: Tally) -> None:
    for name, party in scene.parties.items():
        response = _send(client, party, listing.service, "GET", listing.path, params=listing.params)
        shown = response.is_success and listing.secret in response.text
        if name in listing.allowed:
            tally.controls += 1
            if not shown:
                tally.broken_controls.append(f"{name}: {listing.what} does not show {listing.secret}: "
                                             f"{response.status_code} {response.text[:200]}")
            continue
        tally.attempts += 1
        if shown:
            tally.leaks.append(f"{name}: {listing.what} shows {listing.secret}")
        elif response.status_code in (403, 404) or response.is_success:
            tally.refusals += 1
        else:
            tally.leaks.append(f"{name}: {listing.what} -> {response.status_code} {response.text[:200]}")


def _probe(client: PlatformClient, scene: Scene, probe: Probe, tally: Tally) -> None:
    party = scene.parties[probe.party]
    response = _send(client, party, probe.service, probe.method, probe.path, probe.body)
    if probe.refused:
        tally.attempts += 1
        # A probe names someone else's resource in its body: refused as a reference to nothing (422), or
        # as something the caller may not do (403).
        if response.status_code in (403, 404, 422):
            tally.refusals += 1
        else:
            tally.leaks.append(f"{probe.party}: {probe.what} -> {response.status_code} {response.text[:200]}")
    if probe.twin is not None:
        tally.compared += 1
        twin = _send(client, party, probe.service, probe.method, probe.path, probe.twin)
        if _answer(twin) != _answer(response):
            tally.leaks.append(f"{probe.party}: {probe.what}: {_answer(response)} where the same request without "
                               f"it gives {_answer(twin)}")
    who, method, path, body = probe.control
    tally.controls += 1
    control = _send(client, scene.parties[who], probe.service, method, path, body)
    if not control.is_success:
        tally.broken_controls.append(f"{who}: control of '{probe.what}' -> {control.status_code} {control.text[:300]}")
    elif probe.service == "catalog" and probe.path == "/pathways":
        # The control's pathway gates a credential of this run for every teacher: take it down again.
        scene.cleanup.append((who, "catalog", "DELETE", f"/pathways/{control.json()['pathway_id']}"))
    elif probe.service == "licensure" and probe.path == "/webhooks":
        # The control's subscription would retry its dead URL for the rest of the session.
        scene.cleanup.append((who, "licensure", "DELETE", f"/webhooks/{control.json()['subscription_id']}"))


def test_no_party_reads_or_writes_what_is_not_theirs_and_no_refusal_tells_what_exists(
    client: PlatformClient, scene: Scene, record_property: Callable[[str, object], None]
) -> None:
    tally = Tally()
    undocumented_before = client.undocumented_answers()
    started = time.monotonic()
    for case in scene.cases:
        _attack(client, scene, case, tally)
        if not case.destructive:
            _control(client, scene, case, tally)
    for listing in scene.listings:
        _look(client, scene, listing, tally)
    for probe in scene.probes:
        _probe(client, scene, probe, tally)
    for case in scene.cases:
        if case.destructive:
            _control(client, scene, case, tally)
    seconds = round(time.monotonic() - started, 1)
    undocumented = sorted((client.undocumented_answers() - undocumented_before).elements())
    totals = {
        "parties": len(scene.parties), "cases": len(scene.cases) + len(scene.listings) + len(scene.probes),
        "attempts": tally.attempts, "refusals": tally.refusals, "leaks": len(tally.leaks),
        "compared_with_unknown_ids": tally.compared, "positive_controls": tally.controls,
        "broken_controls": len(tally.broken_controls), "undocumented_answers": len(undocumented),
        "seconds": seconds,
    }
    record_property("authorization_matrix", json.dumps(totals))
    print(f"\nauthorization matrix: {json.dumps(totals)}")
    assert tally.broken_controls == [], "the rightful party's request failed, so its refusals prove nothing:\n" + \
        "\n".join(tally.broken_controls)
    assert tally.leaks == [], f"{len(tally.leaks)} leak(s):\n" + "\n".join(tally.leaks)
    assert undocumented == [], "answers the OpenAPI documents do not list:\n" + "\n".join(sorted(set(undocumented)))
