"""Real faults under real processes: nothing is lost or duplicated, no request answers a bare 500.

A platform of its own (always the embedded stack, whose processes these tests kill and restart the way
``Platform`` and ``EmbeddedStack`` start them), so the faults never reach the other tests' platform:

- PostgreSQL refusing connections with SQLSTATE 57P03 ("the database system is shutting down", a smart
  shutdown waiting on a held session, after every other session was terminated as a failover does)
  under a consumer with a backlog: waited out, nothing dead-lettered, every event handled once;
- PostgreSQL killed with SIGKILL under a running service: every request answers ``503 unavailable`` with
  Retry-After in the error shape until the database is back, then the service serves again;
- a flow of a few dozen submissions, a third of them revised and resubmitted, during which PostgreSQL and
  then a consumer service (award) get ``kill -9`` and are restarted: afterwards exactly one award
  per submission and one credit decision per license, nothing dead-lettered, every consumer group at zero
  lag counted to the logs' real ends.

This is the proof that a crash between a write and its publish loses nothing; the in-process simulation in
``test_reliability.py`` stays only for what it alone shows (a rolled-back event is never published).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from kafka_groups import every_partition_assigned, start_at_log_end
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from microcred.devstack.client import Actor, ApiError, PlatformClient
from microcred.devstack.infra import EmbeddedStack
from microcred.devstack.platform import SERVICES, Platform, PlatformPorts, embedded_infrastructure
from microcred.devstack.samples import NOT_YET, PROFICIENT, QUICK_SERVICE_ENV, credential_definition, tiny_video
from microcred.devstack.topics import read_to_end
from microcred.events import CreditPosted, dead_letter_topic
from microcred.runtime.auth import Role
from microcred.runtime.broker import create_broker
from microcred.runtime.consumer import subscribe
from microcred.runtime.dead_letters import DeadLetter, dead_letter_counts, read_dead_letters
from microcred.runtime.messaging_tables import define_messaging_tables
from microcred.runtime.offsets import LogEnds, committed_offsets
from microcred.runtime.settings import KafkaSettings, ServiceSettings
from microcred.runtime.uow import UnitOfWork

pytestmark = pytest.mark.stack

T = TypeVar("T")
RUNTIME_DATABASE = "fault_runtime"


# Overrides the session's shared platform in this module: these tests kill its processes.
@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data_dir: Path = tmp_path_factory.mktemp("faults")
    ports = PlatformPorts.free()
    infra = embedded_infrastructure(data_dir, ports.infra, data_dir / "logs", extra_databases=(RUNTIME_DATABASE,))
    with Platform(data_dir, ports, infra=infra, service_env=QUICK_SERVICE_ENV) as running:
        yield running


def stack_of(platform: Platform) -> EmbeddedStack:
    assert isinstance(platform.stack, EmbeddedStack)
    return platform.stack


def dead_letters(platform: Platform) -> dict[str, int]:
    counts = asyncio.run(dead_letter_counts(KafkaSettings(kafka_bootstrap_servers=platform.endpoints.kafka_bootstrap)))
    return {topic: count for topic, count in counts.items() if count}


# -- a consumer with a backlog meets 57P03 -----------------------------------------------------------

metadata = sa.MetaData()
tables = define_messaging_tables(metadata)
counters = sa.Table("counters", metadata, sa.Column("name", sa.Text, primary_key=True),
                    sa.Column("value", sa.Integer, nullable=False))


def credit() -> CreditPosted:
    return CreditPosted(
        correlation_id=uuid.uuid4(), states=("TN",), entry_id=uuid.uuid4(), license_id=uuid.uuid4(),
        award_id=uuid.uuid4(), teacher_id="t-1", state="TN", amount=Decimal(6), unit="points",
        rule_set_id="TN-example", rule_set_version=1, earned_in_cycle=Decimal(6), required_in_cycle=Decimal(60),
    )


@pytest.fixture(scope="module")
async def engine(platform: Platform) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(platform.endpoints.database_url(RUNTIME_DATABASE))
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def counts(engine: AsyncEngine, names: list[str]) -> dict[str, int]:
    async with engine.connect() as connection:
        rows = await connection.execute(sa.select(counters.c.name, counters.c.value).where(counters.c.name.in_(names)))
        return {name: value for name, value in rows}


async def until(check: Callable[[], Any], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def test_a_consumer_with_a_backlog_waits_out_a_database_answering_57p03_and_loses_nothing(
    platform: Platform, engine: AsyncEngine
) -> None:
    stack, endpoints = stack_of(platform), platform.endpoints
    group = f"outage-{uuid.uuid4().hex[:6]}"
    await start_at_log_end(endpoints.kafka_bootstrap, group, CreditPosted.topic)  # this test's events alone
    events = [credit() for _ in range(45)]
    names = [str(e.license_id) for e in events]
    producer = AIOKafkaProducer(bootstrap_servers=endpoints.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(CreditPosted.topic, event.to_json(), key=event.record_key())
    finally:
        await producer.stop()

    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    outage_begun, handled = asyncio.Event(), []

    async def count(event: CreditPosted) -> None:
        if len(handled) >= 6:
            await outage_begun.wait()  # the rest stays a backlog until the database refuses connections
        async with UnitOfWork(session_factory, tables, group) as uow:
            if not await uow.claim(group, event.event_id):
                return
            statement = sa.dialects.postgresql.insert(counters).values(name=str(event.license_id), value=1)
            await uow.session.execute(statement.on_conflict_do_update(
                index_elements=["name"], set_={"value": counters.c.value + 1}))
            await uow.commit()
        handled.append(event.event_id)

    # Three handler failures of its own would dead-letter a message: the outage below lasts many times that.
    settings = ServiceSettings(service_name=group, kafka_bootstrap_servers=endpoints.kafka_bootstrap,
                               consumer_max_attempts=3, consumer_retry_base_seconds=0.05,
                               consumer_retry_max_seconds=0.5, consumer_commit_interval_seconds=0.2)
    registry = CollectorRegistry()
    broker, _ = create_broker(settings, tracer_provider=TracerProvider(), registry=registry)
    subscribe(broker, CreditPosted, group_id=group)(count)
    await broker.start()
    holder: asyncpg.Connection | None = None
    try:
        await every_partition_assigned(broker, CreditPosted.topic)
        await until(lambda: _true(len(handled) >= 6), "the first events")
        # A smart shutdown waits for the sessions open at the time and refuses every new connection with
        # 57P03; terminating every other session, as a failover does, leaves the consumer only new ones.
        holder = await asyncpg.connect(endpoints.database_url("postgres", driver="postgresql"))
        stack.stop_postgres("smart")
        await until(lambda: _refuses_with_57p03(endpoints.database_url(RUNTIME_DATABASE, driver="postgresql")),
                    "PostgreSQL to answer 57P03", timeout=10)
        await holder.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'")
        outage_begun.set()
        await asyncio.sleep(4.0)
        waited = registry.get_sample_value("microcred_consumer_outage_retries_total",
                                           {"topic": CreditPosted.topic, "dependency": "database"}) or 0
        assert waited >= 3, f"the consumer met the outage only {waited} times: the test did not test it"
        assert len(handled) < len(events), "the backlog was gone before the outage"
        await holder.close()
        holder = None
        await asyncio.to_thread(stack.wait_exited, "postgres")
        await asyncio.to_thread(stack.restart, "postgres")
        await until(lambda: _equals(counts(engine, names), dict.fromkeys(names, 1)),
                    "every event of the backlog, once", timeout=90)
        # A partition a rebalance moved during the outage is read again by its new owner from the last
        # commit (the inbox absorbs the repeats); its offsets catch up once that owner is through.
        async with LogEnds(endpoints.kafka_bootstrap) as log_ends:
            ends = await log_ends.read(await log_ends.partitions([CreditPosted.topic]))
        await until(lambda: _equals(committed_offsets(endpoints.kafka_bootstrap, f"{group}.{CreditPosted.topic}",
                                                      ends), ends), "the group at the log's end", timeout=60)
    finally:
        outage_begun.set()
        if holder is not None:
            await holder.close()
        await broker.stop()
    assert not await dead_letters_of(platform, group)
    assert await counts(engine, names) == dict.fromkeys(names, 1)


async def _refuses_with_57p03(dsn: str) -> bool:
    try:
        connection = await asyncpg.connect(dsn)
    except asyncpg.CannotConnectNowError:
        return True
    await connection.close()
    return False


async def dead_letters_of(platform: Platform, consumer: str) -> list[DeadLetter]:
    settings = KafkaSettings(kafka_bootstrap_servers=platform.endpoints.kafka_bootstrap)
    return [letter for letter in await read_dead_letters(settings, dead_letter_topic(CreditPosted.topic))
            if letter.headers.get("dlt-consumer") == consumer]


async def _true(value: bool) -> bool:
    return value


async def _equals(value: Any, expected: Any) -> bool:
    return await value == expected


# -- requests while the database is killed -------------------------------------------------------------


def test_requests_while_the_database_is_killed_answer_503_in_the_error_shape_until_it_is_back(
    platform: Platform,
) -> None:
    stack = stack_of(platform)
    client = PlatformClient({s: platform.url(s) for s in SERVICES}, platform.tokens, timeout=10.0)
    subject = f"teacher-{uuid.uuid4().hex[:8]}"
    teacher = client.actor(subject, Role.TEACHER, states=("TN",), email=f"{subject}@schools.example")
    reviewer = client.actor(f"reviewer-{uuid.uuid4().hex[:8]}", Role.REVIEWER)
    # Each reads or writes its service's database; the answers they give when it is there.
    requests: list[tuple[str, str, str, Actor | None, dict[str, Any] | None, int]] = [
        ("POST", "submission", "/submissions", teacher, {"credential_id": str(uuid.uuid4())}, 422),
        ("GET", "review", "/reviews/assigned", reviewer, None, 200),
        ("GET", "licensure", "/licenses", teacher, None, 200),
        ("GET", "award", "/awards", teacher, None, 200),
        ("GET", "catalog", f"/issuers/{uuid.uuid4()}", teacher, None, 404),
    ]
    answers: Counter[tuple[str, int]] = Counter()
    refused: list[str] = []

    def ask_each() -> set[str]:
        served = set()
        for method, service, path, actor, body, healthy in requests:
            response = client.attempt(method, service, path, actor, json=body)
            answers[(service, response.status_code)] += 1
            if response.status_code == healthy:
                served.add(service)
            elif response.status_code != 503:
                refused.append(f"{method} {path} -> {response.status_code}: {response.text[:200]}")
            elif not (response.json().get("error") == "unavailable" and response.headers.get("retry-after")):
                refused.append(f"{method} {path} -> 503 without the error shape or Retry-After: {response.text}")
        return served

    try:
        assert ask_each() == set(SERVICES), f"not every service served before the fault: {refused}"
        stack.kill("postgres")
        down_until = time.monotonic() + 2.0
        while time.monotonic() < down_until:
            assert not ask_each(), "a service answered from a database that was killed"
        restart = threading.Thread(target=stack.restart, args=("postgres",))
        restart.start()  # requests go on through the crash recovery ("the database system is starting up")
        back: set[str] = set()
        deadline = time.monotonic() + 60
        while back != set(SERVICES) and time.monotonic() < deadline:
            back |= ask_each()
        restart.join()
    finally:
        client.close()
    assert not refused, "\n".join(refused)
    unavailable = sum(n for (_, status), n in answers.items() if status == 503)
    assert unavailable >= len(SERVICES), f"hardly any request met the outage: {dict(answers)}"
    assert back == set(SERVICES), f"still not serving a minute after the restart: {set(SERVICES) - back}"


# -- kill -9 of a consumer service and of PostgreSQL in the middle of a flow ---------------------------

SUBMISSIONS = 24
REVISED_EVERY = 3  # every third submission is sent back for revision once


def steady(call: Callable[[], T], what: str, timeout: float = 120.0, *, done_if_conflict: bool = False) -> T | None:
    """Calls until the call gets through, as a client does after a 503 (the database is away) or a refused
    connection (the service is restarting). With ``done_if_conflict``, a 409 after such a failure means an
    earlier attempt had in fact gone through (the answer was lost, not the write): None is returned."""
    deadline = time.monotonic() + timeout
    failed_before = False
    while True:
        try:
            return call()
        except ApiError as error:
            if error.status_code == 409 and done_if_conflict and failed_before:
                return None
            if error.status_code != 503 or time.monotonic() > deadline:
                raise
        except httpx.TransportError as error:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: no answer for {timeout:.0f}s ({error!r})") from None
        failed_before = True
        time.sleep(0.3)


class Flow:
    """Teachers submitting (a third revising once), reviewers scoring as work arrives, faults in between."""

    def __init__(self, platform: Platform) -> None:
        self.client = PlatformClient({s: platform.url(s) for s in SERVICES}, platform.tokens, timeout=15.0)
        self.lock = threading.Lock()
        self.revised: set[str] = set()
        self.scored = 0
        self.finished = threading.Event()

    def setup(self) -> None:
        client, unique = self.client, uuid.uuid4().hex[:8]
        operator = client.operator(f"op-{unique}")
        issuer = client.create_issuer(operator, f"Fault Tolerance Academy {unique}", url="https://example.org")
        admin = client.actor(f"admin-{unique}", Role.ISSUER_ADMIN, organization=issuer)
        draft = client.draft_credential(admin, issuer, credential_definition(f"Formative Assessment {unique}"))
        client.approve_and_publish(admin, operator, draft["credential_id"], 1)
        self.credential_id = str(draft["credential_id"])
        # Two at least: a resubmission goes to someone who did not score the first attempt.
        self.reviewers = [client.actor(f"reviewer-{unique}-{n}", Role.REVIEWER) for n in range(3)]
        for reviewer in self.reviewers:
            client.register_reviewer(operator, reviewer.subject, [self.credential_id], max_open=SUBMISSIONS)
        self.teachers = []
        for n in range(SUBMISSIONS):
            subject = f"teacher-{unique}-{n}"
            teacher = client.actor(subject, Role.TEACHER, states=("TN",), email=f"{subject}@schools.example")
            client.register_license(teacher, "TN")
            self.teachers.append(teacher)

    def upload(self, teacher: Actor, submission_id: str, requirement: str, content: bytes, content_type: str,
               filename: str) -> None:
        slot = steady(lambda: self.client.declare_evidence(
            teacher, submission_id, requirement, size=len(content), sha256=hashlib.sha256(content).hexdigest(),
            content_type=content_type, filename=filename), "declare evidence")
        assert slot is not None
        put = self.client.http.put(slot["upload"]["url"], content=content, headers={"Content-Type": content_type})
        assert put.status_code in (200, 204), put.text
        steady(lambda: self.client.complete_evidence(teacher, submission_id, slot["evidence_id"]),
               "complete evidence", done_if_conflict=True)

    def submit(self, teacher: Actor, submission_id: str) -> None:
        steady(lambda: self.client.submit(teacher, submission_id), "submit", done_if_conflict=True)

    def status(self, teacher: Actor, submission_id: str, wanted: str, timeout: float = 180.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            current = steady(lambda: self.client.submission(teacher, submission_id), "read the submission")
            assert current is not None
            if current["status"] == wanted:
                return current
            if time.monotonic() > deadline:
                raise AssertionError(f"submission {submission_id} is {current['status']}, not {wanted}")
            time.sleep(0.3)

    def teach(self, index: int) -> str:
        teacher = self.teachers[index]
        created = steady(lambda: self.client.start_submission(teacher, self.credential_id), "start a submission")
        assert created is not None
        submission_id = str(created["submission_id"])
        if index % REVISED_EVERY == 0:
            with self.lock:
                self.revised.add(submission_id)
        self.upload(teacher, submission_id, "classroom-video", tiny_video(), "video/mp4", "lesson.mp4")
        self.upload(teacher, submission_id, "reflection", b"The exit tickets showed ...", "text/plain", "r.txt")
        steady(lambda: self.client.answer_prompts(teacher, submission_id, {("reflection", 0): "Most had it."}),
               "answer the prompts")
        self.submit(teacher, submission_id)
        if submission_id in self.revised:
            self.status(teacher, submission_id, "revise_requested")
            self.upload(teacher, submission_id, "reflection", b"Revised: I regrouped them.", "text/plain", "r2.txt")
            self.submit(teacher, submission_id)
        self.status(teacher, submission_id, "awarded")
        return submission_id

    def review(self, reviewer: Actor) -> None:
        while not self.finished.is_set():
            assigned = steady(lambda: self.client.call("GET", "review", "/reviews/assigned", reviewer),
                              "read assignments") or []
            for review in assigned:
                with self.lock:
                    revise = review["attempt"] == 1 and review["submission_id"] in self.revised
                steady(lambda review=review, revise=revise: self.client.score(
                    reviewer, review["review_id"], NOT_YET if revise else PROFICIENT, feedback="Show the regrouping."),
                    "score", done_if_conflict=True)
                with self.lock:
                    self.scored += 1
            time.sleep(0.3)

    def close(self) -> None:
        self.client.close()


def test_kill_9_of_a_consumer_service_and_of_postgres_mid_flow_loses_and_duplicates_nothing(
    platform: Platform,
) -> None:
    stack = stack_of(platform)
    flow = Flow(platform)
    faults: list[str] = []
    began = time.monotonic()

    def when_scored(count: int) -> None:
        while flow.scored < count and not flow.finished.is_set():
            time.sleep(0.1)

    reviews = SUBMISSIONS + SUBMISSIONS // REVISED_EVERY

    def inject() -> None:
        when_scored(reviews // 3)
        stack.kill("postgres")  # every service at once: requests, handlers and relays in flight
        faults.append(f"kill -9 PostgreSQL at {time.monotonic() - began:.0f}s, {flow.scored}/{reviews} scored")
        time.sleep(1.0)
        stack.restart("postgres")
        faults.append(f"PostgreSQL recovered at {time.monotonic() - began:.0f}s")
        when_scored(2 * reviews // 3)
        platform.kill_service("award")  # the consumer of review.scored, with awards in flight
        faults.append(f"kill -9 award at {time.monotonic() - began:.0f}s, {flow.scored}/{reviews} scored")
        time.sleep(1.0)
        platform.restart_service("award")
        faults.append(f"award serving again at {time.monotonic() - began:.0f}s")

    try:
        flow.setup()
        with ThreadPoolExecutor(max_workers=SUBMISSIONS + len(flow.reviewers) + 1) as pool:
            reviewers = [pool.submit(flow.review, reviewer) for reviewer in flow.reviewers]
            injector = pool.submit(inject)
            submissions = [pool.submit(flow.teach, n) for n in range(SUBMISSIONS)]
            try:
                awarded = [done.result() for done in submissions]
                injector.result(timeout=120)
            finally:
                flow.finished.set()
            for reviewer in reviewers:
                reviewer.result()
        flowed = time.monotonic() - began
        assert len(faults) == 4, faults

        # Exactly one award per submission (the award service's own records, one teacher per submission).
        awards = {}
        for teacher in flow.teachers:
            mine = steady(lambda teacher=teacher: flow.client.call("GET", "award", "/awards", teacher), "awards")
            assert mine is not None and len(mine) == 1, f"{teacher.subject} holds {len(mine or [])} awards"
            awards[teacher.subject] = mine[0]
        assert {a["submission_id"] for a in awards.values()} == set(awarded)
        # One credit decision per license: the ledger of each teacher's license holds one entry.
        for teacher in flow.teachers:
            (license_,) = steady(lambda teacher=teacher: flow.client.call("GET", "licensure", "/licenses", teacher),
                                 "licenses") or []
            progress = _credited(flow.client, teacher, license_["license_id"])
            assert len(progress["entries"]) == 1, f"{teacher.subject}: {progress['entries']}"
    finally:
        flow.close()

    # On the topics: each award and each credit once, whatever the copies a retried publish left behind.
    records = read_to_end(platform.endpoints.kafka_bootstrap, ["award.awarded", "licensure.credit-posted"])
    award_ids: defaultdict[str, set[str]] = defaultdict(set)
    for value in records["award.awarded"]:
        if value.get("submission_id") in awarded:
            award_ids[value["submission_id"]].add(value["award_id"])
    assert {s: len(ids) for s, ids in award_ids.items()} == dict.fromkeys(awarded, 1)
    flow_awards = {str(a["award_id"]) for a in awards.values()}
    entries: defaultdict[str, set[str]] = defaultdict(set)
    for value in records["licensure.credit-posted"]:
        if value.get("award_id") in flow_awards:
            entries[value["license_id"]].add(value["entry_id"])
    assert len(entries) == SUBMISSIONS and all(len(ids) == 1 for ids in entries.values()), entries
    copies = sum(1 for v in records["award.awarded"] if v.get("submission_id") in awarded) - SUBMISSIONS

    assert dead_letters(platform) == {}, "a message was dead-lettered"
    lag = _settled_lag(platform)
    assert not any(lag.values()), f"consumer groups still behind: { {g: n for g, n in lag.items() if n} }"
    print(f"\n{SUBMISSIONS} submissions ({SUBMISSIONS // REVISED_EVERY} revised) through {'; '.join(faults)}; "
          f"flow took {flowed:.0f}s; lost 0, duplicated 0 (award.awarded copies on the topic absorbed by inboxes: "
          f"{copies}); dead letters 0; {len(lag)} consumer groups at lag 0")


def _credited(client: PlatformClient, teacher: Actor, license_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        progress: dict[str, Any] = client.call("GET", "licensure", f"/licenses/{license_id}/progress", teacher)
        if progress["entries"] or time.monotonic() > deadline:
            return progress
        time.sleep(0.3)


def _settled_lag(platform: Platform, timeout: float = 30.0) -> dict[str, int]:
    """Every group's lag once it is zero (handled offsets are committed about a second after handling), or
    the last reading."""
    deadline = time.monotonic() + timeout
    while True:
        lag = platform.consumer_lag()
        if not any(lag.values()) or time.monotonic() > deadline:
            return lag
        time.sleep(1.0)


