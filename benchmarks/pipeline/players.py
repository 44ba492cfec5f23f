"""The players: teachers preparing, submitting and revising, reviewers scoring, the district approving
Arkansas credits; and the bookkeeping of events that tells each job where it has got to."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable
from typing import Any

from microcred.devstack.client import Actor
from microcred.devstack.samples import NOT_YET, PROFICIENT
from pipeline import now
from pipeline.api import Api
from pipeline.world import DISTRICT, Job, Teacher, World


async def register_licenses(api: Api, teachers: list[Teacher], concurrency: int) -> None:
    limit = asyncio.Semaphore(concurrency)

    async def enrol(teacher: Teacher) -> None:
        for state in teacher.states:
            async with limit:
                created = await api.call("POST", "licensure", "/licenses", teacher.actor, "register license",
                                         expect=201, json={
                                             "state": state, "license_number": f"{state}-{uuid.uuid4().hex[:10]}",
                                             "license_type": "Practitioner", "cycle_start": "2025-09-01",
                                             "cycle_end": "2031-08-31", "district": DISTRICT})
            teacher.license_states[str(created["license_id"])] = state

    await asyncio.gather(*(enrol(t) for t in teachers))


class Run:
    """The state of one load run, shared by the players, the event followers and the samplers."""

    def __init__(self, api: Api, world: World, jobs: list[Job], video: bytes, poll: float) -> None:
        self.api = api
        self.world = world
        self.jobs = jobs
        self.video = video
        self.poll = poll
        self.by_submission: dict[str, Job] = {}
        self.by_award: dict[str, Job] = {}
        self.early_credits: dict[str, list[tuple[str, float]]] = defaultdict(list)
        self.claimed_reviews: set[str] = set()
        self.decided_claims: set[tuple[str, str]] = set()
        self.completed = 0
        self.submitted = 0  # first attempts sent; counted here so the progress bar costs nothing per job
        self.all_done = asyncio.Event()
        self.stop = asyncio.Event()
        self.background: set[asyncio.Task[Any]] = set()
        self.events: list[tuple[str, float, float, int]] = []  # topic, broker time, read time, size
        self.unmatched: Counter[str] = Counter()
        self.teacher_errors: list[str] = []

    # -- teachers --------------------------------------------------------------------------------

    async def upload(self, job: Job, requirement: str, content: bytes, content_type: str, filename: str) -> None:
        teacher, sid = job.teacher.actor, job.submission_id
        slot = await self.api.call("POST", "submission", f"/submissions/{sid}/evidence", teacher, "declare evidence",
                                   expect=201, json={"requirement_key": requirement, "filename": filename,
                                                     "content_type": content_type, "size_bytes": len(content),
                                                     "sha256": hashlib.sha256(content).hexdigest()})
        upload = slot["upload"]
        # The same two shapes PlatformClient.upload handles: one presigned PUT, or presigned parts.
        if upload["mode"] == "single":
            puts = [(upload["url"], content, {"Content-Type": content_type})]
        else:
            size = int(upload["part_size"])
            puts = [(part["url"], content[(int(part["part_number"]) - 1) * size: int(part["part_number"]) * size], {})
                    for part in upload["parts"]]
        for url, body, headers in puts:
            response = await self.api.request("PUT", url, "presigned PUT", content=body, headers=headers)
            if response.status_code not in (200, 204):
                raise RuntimeError(f"presigned PUT -> {response.status_code}: {response.text[:300]}")
        await self.api.call("POST", "submission", f"/submissions/{sid}/evidence/{slot['evidence_id']}/complete",
                            teacher, "complete evidence")

    async def submit_first(self, job: Job) -> None:
        teacher = job.teacher.actor
        job.started = now()
        created = await self.api.call("POST", "submission", "/submissions", teacher, "start submission",
                                      expect=201, json={"credential_id": job.credential_id})
        job.submission_id = str(created["submission_id"])
        self.by_submission[job.submission_id] = job
        await self.upload(job, "classroom-video", self.video, "video/mp4", "lesson.mp4")
        await self.upload(job, "reflection", b"The exit tickets showed most students had it.", "text/plain",
                          "reflection.txt")
        await self.api.call("PUT", "submission", f"/submissions/{job.submission_id}/responses", teacher,
                            "answer prompts", json={"responses": [
                                {"requirement_key": "reflection", "prompt_index": 0,
                                 "answer": "Most students had it; three did not."}]})
        await self.submit(job, 1)

    async def submit(self, job: Job, attempt: int) -> None:
        await self.api.call("POST", "submission", f"/submissions/{job.submission_id}/submit", job.teacher.actor,
                            "submit")
        job.marks["submit_http"][attempt] = now()
        self.submitted += attempt == 1

    async def resubmit(self, job: Job, attempt: int) -> None:
        """The revise-requested event says it is time; the submission service may not have read it yet."""
        try:
            while True:
                current = await self.api.call("GET", "submission", f"/submissions/{job.submission_id}",
                                              job.teacher.actor, "get submission (teacher)")
                if current["status"] == "revise_requested":
                    break
                await asyncio.sleep(self.poll / 2)
            await self.upload(job, "reflection", b"Revised: I regrouped students after the hinge question.",
                              "text/plain", "reflection-v2.txt")
            await self.submit(job, attempt)
        except Exception as error:  # the run goes on; the job is reported as failed
            job.failed = f"resubmission: {error!r}"
            self.teacher_errors.append(job.failed)

    # -- reviewers and the district --------------------------------------------------------------

    async def reviewer(self, actor: Actor) -> None:
        scoring = asyncio.Semaphore(4)  # a reviewer works a few reviews at a time, as several tabs would

        async def score(review: dict[str, Any]) -> None:
            job = self.by_submission.get(str(review["submission_id"]))
            fail = job is not None and job.fail_first and int(review["attempt"]) == 1
            levels = NOT_YET if fail else PROFICIENT
            async with scoring:
                await self.api.call("POST", "review", f"/reviews/{review['review_id']}/score", actor, "score",
                                    json={"results": [{"criterion_key": k, "level_key": v,
                                                       "feedback": "Show how the data changed the lesson." if fail
                                                       else ""} for k, v in levels.items()]})

        while not self.stop.is_set():
            try:
                assigned = await self.api.call("GET", "review", "/reviews/assigned", actor, "reviews assigned")
                fresh = [r for r in assigned if r["review_id"] not in self.claimed_reviews]
                self.claimed_reviews.update(r["review_id"] for r in fresh)
                if fresh:
                    await asyncio.gather(*(score(r) for r in fresh))
                    continue
            except Exception as error:
                self.teacher_errors.append(f"reviewer {actor.subject}: {error!r}")
            await asyncio.sleep(self.poll)

    async def district(self) -> None:
        admin = self.world.district_admin
        while not self.stop.is_set():
            try:
                pending = await self.api.call("GET", "licensure", "/states/AR/pending-credits?limit=500", admin,
                                              "pending credits")
                fresh = [(c["license_id"], c["award_id"]) for c in pending
                         if (c["license_id"], c["award_id"]) not in self.decided_claims]
                self.decided_claims.update(fresh)
                for license_id, award_id in fresh:
                    await self.api.call("POST", "licensure", f"/licenses/{license_id}/credits/{award_id}/decision",
                                        admin, "district decision", json={"approve": True, "reason": "benchmark"})
                if fresh:
                    continue
            except Exception as error:
                self.teacher_errors.append(f"district admin: {error!r}")
            await asyncio.sleep(self.poll)

    # -- events ----------------------------------------------------------------------------------

    def on_event(self, topic: str, value: dict[str, Any], at: float, read: float, size: int) -> None:
        self.events.append((topic, at, read, size))
        if topic == "licensure.credit-posted":
            award_id = str(value.get("award_id"))
            job = self.by_award.get(award_id)
            if job is None:  # read before its award.awarded: the followers run side by side
                self.early_credits[award_id].append((str(value.get("license_id")), at))
            else:
                self.credit(job, str(value.get("license_id")), at)
            return
        job = self.by_submission.get(str(value.get("submission_id")))
        if job is None:
            self.unmatched[topic] += 1
            return
        attempt = int(value.get("attempt", job.attempts or 1))
        if topic == "submission.submitted":
            job.marks["submitted"].setdefault(attempt, at)
        elif topic == "review.assigned":
            job.marks["assigned"].setdefault(attempt, at)
        elif topic == "review.scored":
            job.marks["scored"].setdefault(attempt, at)
        elif topic == "review.revise-requested":
            if attempt not in job.marks["revise"]:
                job.marks["revise"][attempt] = at
                self.spawn(self.resubmit(job, attempt + 1))
        elif topic == "award.awarded":
            job.award_id = str(value["award_id"])
            job.marks["awarded"].setdefault(job.attempts or 1, at)
            self.by_award[job.award_id] = job
            for license_id, when in self.early_credits.pop(job.award_id, []):
                self.credit(job, license_id, when)

    def credit(self, job: Job, license_id: str, at: float) -> None:
        if license_id in job.credits:
            return
        job.credits[license_id] = at
        if job.completed_at is None and set(job.credits) >= set(job.teacher.license_states):
            job.completed_at = max(job.credits.values())
            self.completed += 1
            if self.completed == len(self.jobs):
                self.all_done.set()

    def spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)


async def wait_until_credentials_known(api: Api, world: World, timeout: float = 60.0) -> None:
    """Submission learns credentials by event: a probe teacher (not one of the run's) starts a draft of each
    until it is accepted, so the run's first submissions do not time the catalog's propagation."""
    probe = Actor("probe", {"Authorization": f"Bearer {world.probe_token}"})
    deadline = now() + timeout
    for credential_id in world.credential_ids:
        while True:
            response = await api.send("POST", f"{api.urls['submission']}/submissions", headers=dict(probe.headers),
                                       json={"credential_id": credential_id})
            if response.status_code == 201:
                break
            not_yet_known = response.status_code == 422 and response.json().get("error") == "credential_not_found"
            if not not_yet_known or now() > deadline:
                raise RuntimeError(f"credential {credential_id} never reached submission: {response.status_code} "
                                   f"{response.text[:300]}")
            await asyncio.sleep(0.2)
