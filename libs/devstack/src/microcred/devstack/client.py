"""A typed driver of the platform's public HTTP APIs, acting as its users would.

Used by the end-to-end tests, the seed and (later) the load generator, so every one of them walks
the same routes a person or an integrating system walks: no shortcut into a service's database.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from prometheus_client.parser import text_string_to_metric_families

from microcred.events import IntegrationEvent
from microcred.runtime.auth import DevTokenIssuer, Role
from microcred.runtime.outbox import outbox_row

T = TypeVar("T")


class ApiError(AssertionError):
    """A response other than the one the caller expected; carries the status and body."""

    def __init__(self, response: httpx.Response, expected: int) -> None:
        self.status_code = response.status_code
        try:
            self.body: Any = response.json()
        except ValueError:
            self.body = response.text
        super().__init__(
            f"{response.request.method} {response.request.url} -> {response.status_code} "
            f"(expected {expected}): {self.body}"
        )


def wait_for(check: Callable[[], T | None], what: str, timeout: float = 60.0, interval: float = 0.2) -> T:
    """Poll ``check`` until it returns something truthy: the platform is eventually consistent."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class RoundRobin(Mapping[str, str]):
    """Base URL per service, where a service with several replicas answers in turn: ``urls["review"]`` is
    the next replica's, as a round-robin load balancer in front of a Deployment gives it.

    ``replicas`` may be changed (a test that killed a replica sends to the others, as a balancer whose
    health check failed would)."""

    def __init__(self, urls: Mapping[str, str | Sequence[str]]) -> None:
        self.replicas = {service: (url,) if isinstance(url, str) else tuple(url) for service, url in urls.items()}
        self._turns: Counter[str] = Counter()

    def __getitem__(self, service: str) -> str:
        replicas = self.replicas[service]
        self._turns[service] += 1
        return replicas[self._turns[service] % len(replicas)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.replicas)

    def __len__(self) -> int:
        return len(self.replicas)


@dataclass(frozen=True)
class Actor:
    subject: str
    headers: Mapping[str, str]


class PlatformClient:
    def __init__(self, urls: Mapping[str, str | Sequence[str]], tokens: DevTokenIssuer, *,
                 timeout: float = 30.0) -> None:
        self.urls = urls if isinstance(urls, RoundRobin) else RoundRobin(urls)
        self.tokens = tokens
        self.http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self.http.close()

    # -- identities ------------------------------------------------------------------------------

    def actor(self, subject: str, *roles: Role, states: tuple[str, ...] = (), organization: str | None = None,
              district: str | None = None, school: str | None = None, email: str | None = None,
              did: str | None = None) -> Actor:
        token = self.tokens.mint(subject, list(roles), states=states, organization=organization,
                                 district=district, school=school, email=email, did=did)
        return Actor(subject, {"Authorization": f"Bearer {token}"})

    def operator(self, subject: str = "operator-1") -> Actor:
        return self.actor(subject, Role.OPERATOR)

    def undocumented_answers(self) -> Counter[str]:
        """Answers, so far, with a status their operation's OpenAPI document does not list, per service,
        operation and status (each replica counts its own; see runtime.service.CorrelateAndMeasure)."""
        found: Counter[str] = Counter()
        for service, url in ((s, url) for s, urls in self.urls.replicas.items() for url in urls):
            for family in text_string_to_metric_families(self.http.get(f"{url}/metrics").text):
                if family.name != "microcred_http_undocumented_responses":
                    continue
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        labels = sample.labels
                        found[f"{service} {labels['method']} {labels['route']} {labels['status']}"] += int(sample.value)
        return found

    # -- plumbing --------------------------------------------------------------------------------

    def call(self, method: str, service: str, path: str, actor: Actor | None = None, *, expect: int = 200,
             **kwargs: Any) -> Any:
        response = self.http.request(method, self.urls[service] + path,
                                     headers=dict(actor.headers) if actor else None, **kwargs)
        if response.status_code != expect:
            raise ApiError(response, expect)
        return response.json() if response.content else None

    def attempt(self, method: str, service: str, path: str, actor: Actor | None = None, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, self.urls[service] + path,
                                 headers=dict(actor.headers) if actor else None, **kwargs)

    # -- catalog ---------------------------------------------------------------------------------

    def create_issuer(self, operator: Actor, name: str, **profile: Any) -> str:
        return str(self.call("POST", "catalog", "/issuers", operator, expect=201, json={"name": name, **profile})["issuer_id"])

    def draft_credential(self, admin: Actor, issuer_id: str, definition: Mapping[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = self.call("POST", "catalog", "/credentials", admin, expect=201,
                                            json={"issuer_id": issuer_id, **definition})
        return created

    def approve_and_publish(self, admin: Actor, operator: Actor, credential_id: str, version: int) -> dict[str, Any]:
        """The stress test: the issuer submits the version for review, an operator approves, the issuer publishes."""
        base = f"/credentials/{credential_id}/versions/{version}"
        self.call("POST", "catalog", f"{base}/submit-for-review", admin, json={"note": "ready"})
        self.call("POST", "catalog", f"{base}/approve", operator, json={
            "checks": {"research_base": True, "evidence_requirements": True, "rubric": True}, "note": "meets the bar"})
        published: dict[str, Any] = self.call("POST", "catalog", f"{base}/publish", admin)
        return published

    def import_catalog(self, operator: Actor, document: Mapping[str, Any]) -> dict[str, Any]:
        summary: dict[str, Any] = self.call("POST", "catalog", "/catalog/import", operator, json=document)
        return summary

    # -- review ----------------------------------------------------------------------------------

    def register_reviewer(self, operator: Actor, reviewer_id: str, credential_ids: list[str] | None, max_open: int = 10,
                          *, senior: bool = False) -> None:
        self.call("PUT", "review", f"/reviewers/{reviewer_id}", operator,
                  json={"credential_ids": credential_ids, "max_open": max_open, "active": True, "senior": senior})

    def assigned_review(self, reviewer: Actor, submission_id: str, attempt: int, timeout: float = 60.0) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            reviews = self.call("GET", "review", "/reviews/assigned", reviewer)
            return next((r for r in reviews if r["submission_id"] == submission_id and r["attempt"] == attempt), None)

        return wait_for(find, f"attempt {attempt} of submission {submission_id} to be assigned", timeout)

    def score(self, reviewer: Actor, review_id: str, levels: Mapping[str, str], feedback: str = "") -> None:
        results = [{"criterion_key": key, "level_key": level, "feedback": feedback} for key, level in levels.items()]
        self.call("POST", "review", f"/reviews/{review_id}/score", reviewer, json={"results": results})

    # -- submission ------------------------------------------------------------------------------

    def start_submission(self, teacher: Actor, credential_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """Starts a draft once the submission service has learned the credential (it arrives by event)."""

        def start() -> dict[str, Any] | None:
            response = self.attempt("POST", "submission", "/submissions", teacher, json={"credential_id": credential_id})
            if response.status_code == 201:
                created: dict[str, Any] = response.json()
                return created
            if response.status_code == 422 and response.json().get("error") == "credential_not_found":
                return None  # not learned yet
            raise ApiError(response, 201)

        return wait_for(start, f"the submission service to learn credential {credential_id}", timeout)

    def declare_evidence(self, teacher: Actor, submission_id: str, requirement: str, *, size: int, sha256: str,
                         content_type: str, filename: str) -> dict[str, Any]:
        """Registers an item; the answer's ``upload`` says single PUT or multipart (with part URLs)."""
        slot: dict[str, Any] = self.call(
            "POST", "submission", f"/submissions/{submission_id}/evidence", teacher, expect=201, json={
                "requirement_key": requirement, "filename": filename, "content_type": content_type,
                "size_bytes": size, "sha256": sha256})
        return slot

    def put_parts(self, parts: list[dict[str, Any]], read_part: Callable[[int], bytes], workers: int = 4) -> None:
        """PUTs parts concurrently; ``read_part(n)`` gives the bytes of part n (so a file is read part by part)."""
        with httpx.Client(timeout=self.http.timeout) as http, ThreadPoolExecutor(max_workers=workers) as pool:
            def put(part: dict[str, Any]) -> None:
                response = http.put(part["url"], content=read_part(int(part["part_number"])))
                if response.status_code not in (200, 204):
                    raise ApiError(response, 200)

            for done in [pool.submit(put, part) for part in parts]:
                done.result()

    def complete_evidence(self, teacher: Actor, submission_id: str, evidence_id: str) -> dict[str, Any]:
        completed: dict[str, Any] = self.call(
            "POST", "submission", f"/submissions/{submission_id}/evidence/{evidence_id}/complete", teacher)
        return completed

    def upload(self, teacher: Actor, submission_id: str, requirement: str, content: bytes,
               content_type: str = "application/octet-stream", filename: str | None = None) -> str:
        """Declares, uploads (one PUT or concurrent parts, as the service says) and completes; the evidence id."""
        slot = self.declare_evidence(teacher, submission_id, requirement, size=len(content),
                                     sha256=hashlib.sha256(content).hexdigest(), content_type=content_type,
                                     filename=filename or f"{requirement}.bin")
        upload = slot["upload"]
        if upload["mode"] == "single":
            put = self.http.put(upload["url"], content=content, headers={"Content-Type": content_type})
            if put.status_code not in (200, 204):
                raise ApiError(put, 200)
        else:
            size = int(upload["part_size"])
            self.put_parts(upload["parts"], lambda n: content[(n - 1) * size : n * size])
        self.complete_evidence(teacher, submission_id, slot["evidence_id"])
        return str(slot["evidence_id"])

    def upload_file(self, teacher: Actor, submission_id: str, requirement: str, path: Path | str,
                    content_type: str = "application/octet-stream", filename: str | None = None,
                    workers: int = 4) -> str:
        """Like ``upload`` for a file on disk, read part by part: memory stays at a few parts, whatever its size."""
        source = Path(path)
        digest = hashlib.sha256()
        with source.open("rb") as reading:
            for chunk in iter(lambda: reading.read(1024 * 1024), b""):
                digest.update(chunk)
        slot = self.declare_evidence(teacher, submission_id, requirement, size=source.stat().st_size,
                                     sha256=digest.hexdigest(), content_type=content_type,
                                     filename=filename or source.name)
        upload = slot["upload"]
        if upload["mode"] == "single":
            put = self.http.put(upload["url"], content=source.read_bytes(), headers={"Content-Type": content_type})
            if put.status_code not in (200, 204):
                raise ApiError(put, 200)
        else:
            size = int(upload["part_size"])

            def read_part(number: int) -> bytes:
                with source.open("rb") as part:
                    part.seek((number - 1) * size)
                    return part.read(size)

            self.put_parts(upload["parts"], read_part, workers)
        self.complete_evidence(teacher, submission_id, slot["evidence_id"])
        return str(slot["evidence_id"])

    def answer_prompts(self, teacher: Actor, submission_id: str, answers: Mapping[tuple[str, int], str]) -> dict[str, Any]:
        answered: dict[str, Any] = self.call("PUT", "submission", f"/submissions/{submission_id}/responses", teacher,
                                             json={"responses": [{"requirement_key": key, "prompt_index": index,
                                                                  "answer": text}
                                                                 for (key, index), text in answers.items()]})
        return answered

    def submit(self, teacher: Actor, submission_id: str) -> dict[str, Any]:
        submitted: dict[str, Any] = self.call("POST", "submission", f"/submissions/{submission_id}/submit", teacher)
        return submitted

    def submission(self, actor: Actor, submission_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.call("GET", "submission", f"/submissions/{submission_id}", actor)
        return found

    def wait_status(self, teacher: Actor, submission_id: str, status: str, timeout: float = 60.0) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            current = self.submission(teacher, submission_id)
            return current if current["status"] == status else None

        return wait_for(reached, f"submission {submission_id} to be {status}", timeout)

    # -- licensure -------------------------------------------------------------------------------

    def register_license(self, teacher: Actor, state: str, number: str | None = None) -> dict[str, Any]:
        created: dict[str, Any] = self.call("POST", "licensure", "/licenses", teacher, expect=201, json={
            "state": state, "license_number": number or f"{state}-{uuid.uuid4().hex[:10]}",
            "license_type": "Practitioner", "cycle_start": "2025-09-01", "cycle_end": "2031-08-31"})
        return created


@dataclass(frozen=True)
class Record:
    value: dict[str, Any]
    headers: dict[str, str]
    key: bytes | None


def read_events(bootstrap: str, topic: str, match: Callable[[dict[str, Any]], bool], count: int,
                timeout: float = 30.0) -> list[Record]:
    """Reads a topic from the start with a plain aiokafka consumer, as a state agency would."""
    import asyncio
    import json

    from aiokafka import AIOKafkaConsumer

    async def read() -> list[Record]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"reader-{uuid.uuid4()}",
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        found: list[Record] = []
        try:
            deadline = time.monotonic() + timeout
            while len(found) < count and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        try:
                            value = json.loads(record.value)
                        except ValueError:
                            continue  # not an event (the reliability tests write poison on purpose)
                        if isinstance(value, dict) and match(value):
                            found.append(Record(value, {k: v.decode() for k, v in record.headers}, record.key))
        finally:
            await consumer.stop()
        return found

    return asyncio.run(read())


def publish_as(bootstrap: str, service: str, event: IntegrationEvent) -> None:
    """Write ``event`` to its topic as ``service``'s outbox relay would: same key, value and CloudEvents headers.

    For a test that needs a record the platform cannot be made to write in test time (an award expiring in
    seconds: credentials expire in whole months); everything downstream treats it as the real thing.
    """
    import asyncio

    from aiokafka import AIOKafkaProducer

    row = outbox_row(event, service)

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(row["topic"], row["payload"], key=row["key"],
                                         headers=[(name, value.encode()) for name, value in row["headers"].items()])
        finally:
            await producer.stop()

    asyncio.run(send())
