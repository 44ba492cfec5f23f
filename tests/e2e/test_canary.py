"""The canary on the real platform: it provisions itself through the public APIs, one canary goes from submit to
its credit in ZZ and is observed once; the credit reaches ZZ's feed and report and no real state's; a canary
nobody scores is lost once its SLA passes."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from microcred.canary.adapters.metrics import CanaryMetrics
from microcred.canary.adapters.tokens import REVIEWERS
from microcred.canary.bootstrap import build_canary
from microcred.canary.service_layer.probe import Canary
from microcred.canary.service_layer.provisioning import CanaryFixture, provision
from microcred.canary.settings import CanarySettings
from microcred.devstack.client import PlatformClient
from microcred.devstack.platform import Platform
from microcred.devstack.topics import read_to_end
from microcred.runtime.auth import Role

pytestmark = pytest.mark.stack


def settings_for(platform: Platform, sla: float) -> CanarySettings:
    return CanarySettings(
        catalog_url=platform.url("catalog"), submission_url=platform.url("submission"),
        review_url=platform.url("review"), award_url=platform.url("award"), licensure_url=platform.url("licensure"),
        canary_dev_key_dir=platform.tokens.directory, canary_sla_seconds=sla, canary_poll_seconds=0.2,
    )


def run_canary(platform: Platform, sla: float, before: Any = None) -> tuple[Canary, bool, CanaryFixture]:
    """Provisions (idempotently) and runs one canary; ``before(canary)`` runs between the two."""

    async def go() -> tuple[Canary, bool, CanaryFixture]:
        async with httpx.AsyncClient(timeout=10) as http:
            canary = build_canary(settings_for(platform, sla), http, CanaryMetrics())
            canary.fixture = await provision(canary.api, "ZZ", datetime.now(UTC).date())
            if before is not None:
                await before(canary)
            return canary, await canary.run_once(), canary.fixture

    return asyncio.run(go())


def sample(canary: Canary, name: str, labels: dict[str, str] | None = None) -> float:
    return canary.metrics.registry.get_sample_value(name, labels or {}) or 0.0


def test_a_canary_is_credited_in_zz_and_observed_once_and_no_real_state_sees_it(
    platform: Platform, client: PlatformClient
) -> None:
    canary, credited, fixture = run_canary(platform, sla=120)

    assert credited
    assert sample(canary, "microcred_canary_round_trip_seconds_count") == 1
    assert sample(canary, "microcred_canary_lost_total") == 0
    seconds = sample(canary, "microcred_canary_round_trip_seconds_sum")
    print(f"canary round trip on the test platform: {seconds:.2f} s")
    assert 0 < seconds < 120

    # Provisioning again finds what the first made: one issuer, one credential.
    _, _, again = run_canary(platform, sla=120)
    assert (again.issuer_id, again.credential_id, again.license_id) == (
        fixture.issuer_id, fixture.credential_id, fixture.license_id)

    bootstrap = platform.endpoints.kafka_bootstrap
    zz = [r for r in read_to_end(bootstrap, ["licensure.state.ZZ"])["licensure.state.ZZ"] if r.get("license_id") == fixture.license_id]
    assert {r["record_type"] for r in zz} >= {"award", "credit_posted"} and {r["state"] for r in zz} == {"ZZ"}
    for state in ("TN", "UT", "AR"):
        leaked = [r for r in read_to_end(bootstrap, [f"licensure.state.{state}"])[f"licensure.state.{state}"]
                  if r.get("license_id") == fixture.license_id or "canary" in json.dumps(r).lower()]
        assert leaked == [], f"{state}'s feed carries canary records"

    today = datetime.now(UTC).date()
    window = {"start": (today - timedelta(days=1)).isoformat(), "end": (today + timedelta(days=1)).isoformat(),
              "group": "detail"}
    for state in ("ZZ", "TN"):
        admin = client.actor(f"state-admin-{state.lower()}", Role.STATE_ADMIN, states=(state,))
        report = client.attempt("GET", "licensure", f"/states/{state}/reports/credits", admin, params=window)
        assert report.status_code == 200
        assert ("Microcred Canary Probe" in report.text) == (state == "ZZ"), f"{state}'s report"


def test_a_canary_its_reviewers_never_score_is_lost_once_after_its_sla(platform: Platform, client: PlatformClient
                                                                        ) -> None:
    operator = client.operator()

    async def reviewers_away(canary: Canary) -> None:
        assert canary.fixture is not None
        for reviewer in REVIEWERS:
            client.call("PUT", "review", f"/reviewers/{canary.api.subject(reviewer)}", operator, json={
                "credential_ids": [canary.fixture.credential_id], "max_open": 1000, "active": False})

    try:
        canary, credited, _ = run_canary(platform, sla=5, before=reviewers_away)
    finally:
        # Back on duty: the next canary's reviewers score the seat this one left queued.
        run_canary(platform, sla=120)

    assert not credited
    assert sample(canary, "microcred_canary_lost_total") == 1
    assert sample(canary, "microcred_canary_runs_total", {"outcome": "lost"}) == 1
    assert sample(canary, "microcred_canary_round_trip_seconds_count") == 0
