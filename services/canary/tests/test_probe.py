"""The canary loop against a fake platform behind the real HTTP client (httpx's mock transport)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest

from microcred.canary.adapters.metrics import CanaryMetrics
from microcred.canary.adapters.platform_api import PlatformApi, ServiceUrls
from microcred.canary.adapters.tokens import Identity
from microcred.canary.service_layer.probe import Canary, Timing
from microcred.canary.service_layer.provisioning import CanaryFixture

URL = "http://platform"


class Tokens:
    def token(self, who: Identity) -> str:
        return f"token-of-{who.value}"

    def subject(self, who: Identity) -> str:
        return f"canary-{who.value}"


class FakePlatform:
    """Submission, review and licensure as far as the canary sees them; knobs make each hop fail."""

    def __init__(self) -> None:
        self.submissions: dict[str, dict[str, Any]] = {}
        self.seats: dict[str, dict[str, Any]] = {}  # review id -> seat
        self.entries: list[dict[str, Any]] = []
        self.assign = True
        self.credit = True
        self.submit_failures = 0
        self.scored: list[str] = []
        self.uploads: list[tuple[str, str]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        parts = path.strip("/").split("/")
        if method == "POST" and path == "/submissions":
            sid = str(uuid.uuid4())
            self.submissions[sid] = {"submission_id": sid, "status": "draft", "award_id": None}
            return httpx.Response(201, json=self.submissions[sid])
        if parts[0] == "submissions" and parts[-1] == "evidence":
            return httpx.Response(201, json={"evidence_id": "e1", "upload": {"mode": "single", "url": f"{URL}/s3/e1"}})
        if parts[0] == "s3":
            self.uploads.append((request.url.host, request.headers["host"]))
            return httpx.Response(200)
        if parts[0] == "submissions" and parts[-1] == "complete":
            self.submissions[parts[1]]["evidence"] = [{"status": "uploaded"}]
            return httpx.Response(200, json={})
        if parts[0] == "submissions" and method == "PUT":
            return httpx.Response(200, json={})
        if parts[0] == "submissions" and parts[-1] == "submit":
            if self.submit_failures:
                self.submit_failures -= 1
                return httpx.Response(503, json={"error": "unavailable"})
            self.submissions[parts[1]]["status"] = "submitted"
            if self.assign:
                rid = str(uuid.uuid4())
                self.seats[rid] = {"review_id": rid, "submission_id": parts[1], "reviewer": "canary-reviewer-1"}
            return httpx.Response(200, json={})
        if parts[0] == "submissions" and method == "GET":
            return httpx.Response(200, json=self.submissions[parts[1]])
        if path == "/reviews/assigned":
            who = request.headers["Authorization"].removeprefix("Bearer token-of-")
            return httpx.Response(200, json=[s for s in self.seats.values() if s["reviewer"] == f"canary-{who}"])
        if parts[0] == "reviews" and parts[-1] == "score":
            seat = self.seats.pop(parts[1], None)
            if seat is None:
                return httpx.Response(409, json={"error": "already_scored"})
            assert json.loads(request.content)["results"][0]["level_key"] == "passed"
            self.scored.append(parts[1])
            award_id = str(uuid.uuid4())
            self.submissions[seat["submission_id"]].update(status="awarded", award_id=award_id)
            if self.credit:
                self.entries.append({"award_id": award_id, "kind": "credit"})
            return httpx.Response(200, json={})
        if parts[0] == "licenses" and parts[-1] == "progress":
            return httpx.Response(200, json={"entries": self.entries})
        return httpx.Response(404, json={"error": "not_found"})


@pytest.fixture
def platform() -> FakePlatform:
    return FakePlatform()


def canary(platform: FakePlatform, http: httpx.AsyncClient, *, sla: float = 0.5) -> Canary:
    api = PlatformApi(ServiceUrls(URL, URL, URL, URL, URL), Tokens(), http)
    probe = Canary(api, CanaryMetrics(), Timing(interval_seconds=0.05, sla_seconds=sla, poll_seconds=0.01), "ZZ")
    probe.fixture = CanaryFixture(issuer_id="i", credential_id="c", license_id="l")
    return probe


def sample(probe: Canary, name: str, labels: dict[str, str] | None = None) -> float:
    value = probe.metrics.registry.get_sample_value(name, labels or {})
    return 0.0 if value is None else value


async def run(platform: FakePlatform, **kwargs: Any) -> tuple[Canary, bool]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(platform.handle)) as http:
        probe = canary(platform, http, **kwargs)
        return probe, await probe.run_once()


async def test_a_credited_canary_is_observed_once_in_the_round_trip_histogram(platform: FakePlatform) -> None:
    probe, credited = await run(platform)

    assert credited
    assert sample(probe, "microcred_canary_round_trip_seconds_count") == 1
    assert sample(probe, "microcred_canary_round_trip_seconds_bucket", {"le": "900.0"}) == 1
    assert sample(probe, "microcred_canary_lost_total") == 0
    assert sample(probe, "microcred_canary_runs_total", {"outcome": "credited"}) == 1
    assert sample(probe, "microcred_canary_in_flight") == 0


async def test_a_canary_never_credited_is_lost_once_after_the_sla_and_not_observed(platform: FakePlatform) -> None:
    platform.credit = False

    probe, credited = await run(platform, sla=0.3)

    assert not credited
    assert sample(probe, "microcred_canary_lost_total") == 1
    assert sample(probe, "microcred_canary_runs_total", {"outcome": "lost"}) == 1
    assert sample(probe, "microcred_canary_round_trip_seconds_count") == 0
    assert sample(probe, "microcred_canary_in_flight") == 0


async def test_a_canary_nobody_scores_is_lost(platform: FakePlatform) -> None:
    platform.assign = False

    probe, credited = await run(platform, sla=0.3)

    assert not credited and sample(probe, "microcred_canary_lost_total") == 1


async def test_a_failing_call_is_retried_within_the_sla_and_counted_by_step(platform: FakePlatform) -> None:
    platform.submit_failures = 2

    probe, credited = await run(platform)

    assert credited
    assert sample(probe, "microcred_canary_step_errors_total", {"step": "submit"}) == 2


async def test_errors_past_the_sla_count_lost_and_the_loop_keeps_starting_canaries(platform: FakePlatform) -> None:
    platform.submit_failures = 1_000_000  # submission is down for good

    async with httpx.AsyncClient(transport=httpx.MockTransport(platform.handle)) as http:
        probe = canary(platform, http, sla=0.2)
        loop = asyncio.create_task(probe.run_forever())
        await asyncio.sleep(0.6)
        assert not loop.done(), "an error in a canary must never end the loop"
        platform.submit_failures = 0  # submission is back
        await asyncio.sleep(0.5)
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop

    assert sample(probe, "microcred_canary_lost_total") >= 2
    assert sample(probe, "microcred_canary_runs_total", {"outcome": "credited"}) >= 1


async def test_seats_left_by_a_lost_canary_are_scored_by_a_later_one(platform: FakePlatform) -> None:
    platform.credit = False
    async with httpx.AsyncClient(transport=httpx.MockTransport(platform.handle)) as http:
        probe = canary(platform, http, sla=0.2)
        platform.seats["left-over"] = {"review_id": "left-over", "submission_id": "old", "reviewer": "canary-reviewer-2"}
        platform.submissions["old"] = {"submission_id": "old", "status": "under_review", "award_id": None}
        await probe.run_once()

    assert "left-over" in platform.scored


async def test_evidence_goes_to_the_upload_address_with_the_signed_host_kept(platform: FakePlatform) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(platform.handle)) as http:
        api = PlatformApi(ServiceUrls(URL, URL, URL, URL, URL), Tokens(), http, upload_via="http://objectstore:9000")
        probe = Canary(api, CanaryMetrics(), Timing(0.05, 0.5, 0.01), "ZZ")
        probe.fixture = CanaryFixture(issuer_id="i", credential_id="c", license_id="l")
        assert await probe.run_once()

    assert platform.uploads == [("objectstore", "platform")]
