"""The whole flow through five service processes over the real broker, database and object store.

Each test drives the platform as its users would (issuer admin, operator, teacher, reviewer) through
the HTTP APIs and presigned uploads, then checks the end state over HTTP and the events on the topics
with a plain Kafka consumer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from microcred.devstack.platform import Platform
from microcred.runtime.auth import Role

pytestmark = pytest.mark.stack

RUBRIC = {
    "criteria": [
        {"key": "overview", "name": "Overview of the lesson", "levels": [
            {"key": "not-yet", "name": "Not Yet", "points": 0, "descriptor": "Missing context."},
            {"key": "proficient", "name": "Proficient", "points": 1, "descriptor": "Clear context."}]},
        {"key": "adjustment", "name": "Adjusting instruction", "levels": [
            {"key": "not-yet", "name": "Not Yet", "points": 0},
            {"key": "proficient", "name": "Proficient", "points": 1}]},
    ],
    "passing_rule": {"kind": "all_criteria_at_least", "level": "proficient"},
}
CRITERIA = {"items": [
    {"key": "classroom-video", "kind": "video", "title": "Video of the lesson"},
    {"key": "reflection", "kind": "reflection", "title": "Reflection",
     "prompts": ["What did the formative data tell you?"]},
]}


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.25)


@dataclass
class Actors:
    platform: Platform
    client: httpx.Client
    operator: dict[str, str]
    teacher: dict[str, str]
    teacher_id: str
    reviewer: dict[str, str]
    reviewer_id: str
    credential_id: str

    def url(self, service: str, path: str) -> str:
        return self.platform.url(service) + path

    def ok(self, response: httpx.Response, status: int = 200) -> Any:
        assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
        return response.json()

    def submission(self, submission_id: str) -> dict[str, Any]:
        return self.ok(self.client.get(self.url("submission", f"/submissions/{submission_id}"), headers=self.teacher))

    def wait_status(self, submission_id: str, status: str, timeout: float = 60.0) -> dict[str, Any]:
        return wait_for(
            lambda: (s := self.submission(submission_id))["status"] == status and s,
            f"submission {submission_id} to be {status}", timeout,
        )

    def upload(self, submission_id: str, requirement: str, content: bytes, content_type: str, name: str) -> None:
        digest = hashlib.sha256(content).hexdigest()
        slot = self.ok(self.client.post(
            self.url("submission", f"/submissions/{submission_id}/evidence"),
            json={"requirement_key": requirement, "filename": name, "content_type": content_type,
                  "size_bytes": len(content), "sha256": digest},
            headers=self.teacher,
        ), 201)
        put = self.client.put(slot["upload_url"], content=content, headers={"Content-Type": content_type})
        assert put.status_code in (200, 204), put.text
        self.ok(self.client.post(
            self.url("submission", f"/submissions/{submission_id}/evidence/{slot['evidence_id']}/complete"),
            headers=self.teacher,
        ))

    def start_and_submit(self) -> str:
        created = wait_for(
            lambda: (r := self.client.post(self.url("submission", "/submissions"),
                                            json={"credential_id": self.credential_id}, headers=self.teacher)
                     ).status_code == 201 and r.json(),
            "the submission service to learn the published credential",
        )
        submission_id = created["submission_id"]
        self.upload(submission_id, "classroom-video", b"\x00\x00\x00\x18ftypmp42" + b"v" * 4096, "video/mp4", "lesson.mp4")
        self.upload(submission_id, "reflection", b"The exit tickets showed ...", "text/plain", "reflection.txt")
        self.ok(self.client.post(self.url("submission", f"/submissions/{submission_id}/submit"), headers=self.teacher))
        return str(submission_id)

    def assigned_review(self, submission_id: str, attempt: int) -> dict[str, Any]:
        def find() -> Any:
            reviews = self.ok(self.client.get(self.url("review", "/reviews/assigned"), headers=self.reviewer))
            return next((r for r in reviews if r["submission_id"] == submission_id and r["attempt"] == attempt), None)

        return wait_for(find, f"attempt {attempt} of {submission_id} to be assigned")

    def score(self, review_id: str, level: str) -> None:
        results = [{"criterion_key": c["key"], "level_key": level,
                    "feedback": "" if level == "proficient" else f"Show how you used {c['name'].lower()}."}
                   for c in RUBRIC["criteria"]]
        self.ok(self.client.post(self.url("review", f"/reviews/{review_id}/score"),
                                 json={"results": results}, headers=self.reviewer))


@pytest.fixture
def actors(platform: Platform) -> Actors:
    tokens = platform.tokens
    unique = uuid.uuid4().hex[:8]
    operator = {"Authorization": f"Bearer {tokens.mint('op-' + unique, [Role.OPERATOR])}"}
    client = httpx.Client(timeout=30.0)
    issuer = client.post(platform.url("catalog") + "/issuers", headers=operator,
                         json={"name": f"Digital Promise {unique}", "url": "https://digitalpromise.org"})
    assert issuer.status_code == 201, issuer.text
    issuer_id = issuer.json()["issuer_id"]
    admin = {"Authorization": f"Bearer {tokens.mint('admin-' + unique, [Role.ISSUER_ADMIN], organization=issuer_id)}"}
    draft = client.post(platform.url("catalog") + "/credentials", headers=admin, json={
        "issuer_id": issuer_id,
        "name": f"Modifying Instruction Through Formative Assessment {unique}",
        "description": "The educator modifies instruction during a lesson using formative assessment.",
        "competency": "Modifies instruction in the moment based on formative evidence of student learning.",
        "key_method": "The educator gathers evidence mid-lesson and adjusts instruction in response.",
        "method_components": ["Plan checks for understanding", "Adjust instruction"],
        "research": [{"title": "Black & Wiliam, Inside the Black Box (1998)"}],
        "submission_criteria": CRITERIA,
        "rubric": RUBRIC,
    })
    assert draft.status_code == 201, draft.text
    credential_id = draft.json()["credential_id"]
    published = client.post(platform.url("catalog") + f"/credentials/{credential_id}/publish", headers=admin)
    assert published.status_code == 200, published.text

    reviewer_id = f"reviewer-{unique}"
    wait_for(lambda: client.put(platform.url("review") + f"/reviewers/{reviewer_id}", headers=operator,
                                json={"credential_ids": [credential_id], "max_open": 5, "active": True}
                                ).status_code == 200, "reviewer registration")
    teacher_id = f"teacher-{unique}"
    teacher = {"Authorization": f"Bearer {tokens.mint(teacher_id, [Role.TEACHER], states=['TN'])}"}
    license_ = client.post(platform.url("licensure") + "/licenses", headers=teacher, json={
        "state": "TN", "license_number": f"TN-{unique}", "license_type": "Practitioner",
        "cycle_start": "2025-09-01", "cycle_end": "2031-08-31"})
    assert license_.status_code == 201, license_.text
    return Actors(platform, client, operator, teacher, teacher_id,
                  {"Authorization": f"Bearer {tokens.mint(reviewer_id, [Role.REVIEWER])}"}, reviewer_id, credential_id)


async def read_topic(bootstrap: str, topic: str, match: Callable[[dict[str, Any]], bool], count: int,
                     timeout: float = 30.0) -> list[tuple[dict[str, Any], dict[str, str], bytes | None]]:
    """A plain aiokafka consumer, as a state agency would run: no Microcred code involved."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"e2e-{uuid.uuid4()}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found: list[tuple[dict[str, Any], dict[str, str], bytes | None]] = []
    try:
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    value = json.loads(record.value)
                    if match(value):
                        found.append((value, {k: v.decode() for k, v in record.headers}, record.key))
    finally:
        await consumer.stop()
    return found


def events(actors: Actors, topic: str, match: Callable[[dict[str, Any]], bool], count: int) -> list[tuple[dict[str, Any], dict[str, str], bytes | None]]:
    found = asyncio.run(read_topic(actors.platform.endpoints.kafka_bootstrap, topic, match, count))
    assert len(found) == count, f"expected {count} matching events on {topic}, found {len(found)}"
    return found


def test_submission_that_passes_first_time_is_awarded_and_credited(actors: Actors) -> None:
    submission_id = actors.start_and_submit()
    actors.wait_status(submission_id, "under_review")
    review = actors.assigned_review(submission_id, attempt=1)
    assert "teacher_id" not in actors.ok(actors.client.get(
        actors.url("review", f"/reviews/{review['review_id']}"), headers=actors.reviewer)), "review must be blind"
    actors.score(review["review_id"], "proficient")

    awarded = actors.wait_status(submission_id, "awarded")
    award = actors.ok(actors.client.get(actors.url("award", f"/awards/{awarded['award_id']}")))  # public, no token
    document = award["credential"]
    assert document["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert "OpenBadgeCredential" in document["type"]
    assert actors.teacher_id not in json.dumps(document), "the teacher is identified by a salted hash only"

    licenses = actors.ok(actors.client.get(actors.url("licensure", "/licenses"), headers=actors.teacher))
    progress = wait_for(
        lambda: (p := actors.ok(actors.client.get(actors.url("licensure", f"/licenses/{licenses[0]['license_id']}/progress"),
                                                  headers=actors.teacher)))["entries"] and p,
        "credit to be posted")
    assert float(progress["earned"]) == 6 and float(progress["required"]) == 60

    mine = lambda e: e.get("submission_id") == submission_id  # noqa: E731
    (submitted, headers, key), = events(actors, "submission.submitted", mine, 1)
    assert key == submission_id.encode()
    assert submitted["evidence"][0]["sha256"] and "content" not in submitted["evidence"][0]
    assert headers["ce_id"] == submitted["event_id"] and headers["ce_specversion"] == "1.0"
    assert headers["ce_type"] == "submission.submitted.v1" and headers["ce_source"] == "/microcred/submission"
    assert submitted["states"] == ["TN"]
    events(actors, "review.assigned", mine, 1)
    (scored, scored_headers, _), = events(actors, "review.scored", mine, 1)
    assert scored["decision"] == "passed" and len(scored["results"]) == 2
    (awarded_event, _, _), = events(actors, "award.awarded", mine, 1)
    (credit, credit_headers, _), = events(
        actors, "licensure.credit-posted", lambda e: e.get("award_id") == awarded_event["award_id"], 1)
    assert credit["state"] == "TN" and float(credit["amount"]) == 6
    # The reviewer's decision starts the chain that ends in the state's credit: one correlation id and
    # one trace across three services and two Kafka hops (scored -> awarded -> credit-posted).
    assert credit["correlation_id"] == awarded_event["correlation_id"] == scored["correlation_id"]
    assert credit["causation_id"] == awarded_event["event_id"]
    trace_id = scored_headers["traceparent"].split("-")[1]
    assert credit_headers["traceparent"].split("-")[1] == trace_id


def test_submission_that_falls_short_is_revised_resubmitted_and_then_awarded(actors: Actors) -> None:
    submission_id = actors.start_and_submit()
    first = actors.assigned_review(submission_id, attempt=1)
    actors.score(first["review_id"], "not-yet")

    revise = actors.wait_status(submission_id, "revise_requested")
    feedback = json.dumps(revise)
    assert "Show how you used adjusting instruction." in feedback, "the teacher sees the reviewer's feedback"
    resubmit_too_early = actors.client.post(actors.url("submission", f"/submissions/{submission_id}/submit"),
                                            headers=actors.reviewer)
    assert resubmit_too_early.status_code in (403, 404)

    actors.upload(submission_id, "reflection", b"Revised: I regrouped students after the hinge question.",
                  "text/plain", "reflection-v2.txt")
    actors.ok(actors.client.post(actors.url("submission", f"/submissions/{submission_id}/submit"), headers=actors.teacher))
    second = actors.assigned_review(submission_id, attempt=2)
    assert second["review_id"] != first["review_id"], "a resubmission opens a new review"
    actors.score(second["review_id"], "proficient")
    awarded = actors.wait_status(submission_id, "awarded")
    assert awarded["attempt"] == 2

    mine = lambda e: e.get("submission_id") == submission_id  # noqa: E731
    attempts = sorted(e["attempt"] for e, _, _ in events(actors, "submission.submitted", mine, 2))
    assert attempts == [1, 2]
    (revision, _, _), = events(actors, "review.revise-requested", mine, 1)
    assert {f["criterion_key"] for f in revision["feedback"]} == {"overview", "adjustment"}
    decisions = sorted(e["decision"] for e, _, _ in events(actors, "review.scored", mine, 2))
    assert decisions == ["passed", "revise"]
    (awarded_event, _, _), = events(actors, "award.awarded", mine, 1)
    events(actors, "licensure.credit-posted", lambda e: e.get("award_id") == awarded_event["award_id"], 1)
