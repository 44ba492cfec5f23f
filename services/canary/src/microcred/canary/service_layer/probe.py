"""The canary loop: every interval one synthetic submission from start to the state's credit, measured.

Each canary runs on its own (several may be in flight; a slow one never delays the next start). A canary's
clock starts at its submit and stops when licensure shows the credit of its award on the canary license; if
that takes longer than the SLA, it is lost: counted once, and no longer waited for. A failed call is logged,
counted by step and tried again on the next poll until the SLA passes, so a platform outage shows as lost
canaries, never as a crashed canary. Reviewing sweeps every seat assigned to the canary reviewers (all of it
is canary work), so a canary that was lost before it was scored is scored later rather than left in a queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar

from microcred.canary.adapters.metrics import CanaryMetrics
from microcred.canary.adapters.platform_api import ApiError, PlatformApi
from microcred.canary.adapters.tokens import REVIEWERS
from microcred.canary.domain.model import REQUIREMENT_KEY, credit_posted, passing_results
from microcred.canary.service_layer.provisioning import CanaryFixture, provision

log = logging.getLogger(__name__)
T = TypeVar("T")


class Lost(Exception):
    """The SLA passed before the step (and so the credit) was reached."""


@dataclass(frozen=True)
class Timing:
    interval_seconds: float
    sla_seconds: float
    poll_seconds: float


class Canary:
    def __init__(self, api: PlatformApi, metrics: CanaryMetrics, timing: Timing, state: str, *,
                 clock: Callable[[], float] = time.monotonic,
                 today: Callable[[], date] = lambda: datetime.now(UTC).date()) -> None:
        self.api = api
        self.metrics = metrics
        self.timing = timing
        self.state = state
        self.clock = clock
        self.today = today
        self.fixture: CanaryFixture | None = None
        self.last_started: float | None = None
        self._runs: set[asyncio.Task[bool]] = set()

    async def run_forever(self) -> None:
        """Provision (retrying each interval until the platform answers), then start a canary each interval."""
        while self.fixture is None:
            try:
                self.fixture = await provision(self.api, self.state, self.today())
            except Exception:
                log.exception("canary provisioning failed; trying again in %.0f s", self.timing.interval_seconds)
                await asyncio.sleep(self.timing.interval_seconds)
        try:
            while True:
                self.start_one()
                await asyncio.sleep(self.timing.interval_seconds)
        finally:
            for run in list(self._runs):
                run.cancel()

    def start_one(self) -> asyncio.Task[bool]:
        run = asyncio.create_task(self.run_once())
        self._runs.add(run)
        run.add_done_callback(self._runs.discard)
        self.last_started = self.clock()
        return run

    async def run_once(self) -> bool:
        """One canary, start to credit or lost; True when credited within the SLA."""
        assert self.fixture is not None, "provision first"
        fixture = self.fixture
        started = self.clock()
        self.metrics.in_flight.inc()
        try:
            # The SLA runs from the start: a canary that cannot even be submitted is as lost as one never credited.
            deadline = started + self.timing.sla_seconds
            submission_id = await self._until("start", deadline, lambda: self._start(fixture.credential_id))
            run = uuid.uuid4()
            await self._until("answer", deadline, lambda: self._answer(submission_id, run))
            submitted = self.clock()
            await self._until("submit", deadline, lambda: self._submit(submission_id))
            award_id = await self._until("review", deadline, lambda: self._reviewed(submission_id))
            await self._until("credit", deadline, lambda: self._credited(fixture.license_id, award_id))
            seconds = self.clock() - submitted
            self.metrics.credited(seconds)
            log.info("canary credited", extra={"submission_id": submission_id, "award_id": award_id,
                                               "seconds": round(seconds, 3)})
            return True
        except Lost as lost:
            self.metrics.lost_one()
            log.warning("canary lost: not credited within %.0f s (%s)", self.timing.sla_seconds, lost)
            return False
        finally:
            self.metrics.in_flight.dec()

    async def _until(self, step: str, deadline: float, attempt: Callable[[], Awaitable[T | None]]) -> T:
        while True:
            try:
                result = await attempt()
                if result is not None:
                    return result
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.metrics.step_errors.labels(step=step).inc()
                log.warning("canary step %s failed (retrying until the SLA): %s", step, error)
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise Lost(f"stuck at {step}")
            await asyncio.sleep(min(self.timing.poll_seconds, remaining))

    async def _start(self, credential_id: str) -> str | None:
        try:
            return str((await self.api.start_submission(credential_id))["submission_id"])
        except ApiError as error:
            if error.code == "credential_not_found":
                return None  # the submission service has not learned the credential yet (it comes by event)
            raise

    async def _answer(self, submission_id: str, run: uuid.UUID) -> bool:
        submission = await self.api.submission(submission_id)
        # A retry after the upload went through adds no second file.
        if not any(e.get("status") == "uploaded" for e in submission.get("evidence", [])):
            await self.api.upload_text(submission_id, REQUIREMENT_KEY, f"Canary run {run}.")
        await self.api.answer(submission_id, REQUIREMENT_KEY, f"Canary run {run}.")
        return True

    async def _submit(self, submission_id: str) -> bool:
        try:
            await self.api.submit(submission_id)
        except ApiError as error:
            # An earlier attempt went through but its answer was lost: submitted is submitted.
            if error.code != "not_submittable":
                raise
        return True

    async def _reviewed(self, submission_id: str) -> str | None:
        submission = await self.api.submission(submission_id)
        if submission.get("award_id"):
            return str(submission["award_id"])
        await self.score_assigned()
        return None

    async def score_assigned(self) -> None:
        results = passing_results()
        for reviewer in REVIEWERS:
            for seat in await self.api.assigned(reviewer):
                try:
                    await self.api.score(reviewer, seat["review_id"], results)
                except ApiError as error:
                    if error.status != 409:  # another canary scored this seat first
                        raise

    async def _credited(self, license_id: str, award_id: str) -> bool | None:
        progress = await self.api.progress(license_id)
        return True if credit_posted(progress["entries"], award_id) else None
