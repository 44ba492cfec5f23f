"""The SQL statements a submission's teacher use cases send, counted on the real PostgreSQL.

Each test runs in a database of its own on an embedded PostgreSQL, migrated to head, through submission's
own use cases and unit of work; a ``before_cursor_execute`` listener records every statement. The object
store is the tests' fake (submission_fakes.py): what is counted here is the database's work only.

What the counts hold down: declaring, completing, answering and submitting read the bound credential
version's content once per process (it never changes), not once per request; submitting stamps all its
items with one UPDATE, not one per item. Starting still reads retirement as it is now.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from submission_fakes import FakeProbe, FakeStore

from microcred.events import CredentialPublished, CredentialRetired, IssuerProfile, Resource, Rubric, SubmissionCriteria
from microcred.runtime.auth import Principal, Role
from microcred.runtime.errors import Conflict
from microcred.runtime.testing import SentStatements, embedded_postgres_socket, migrated_engine, use_case_statement
from microcred.submission.adapters.orm import messaging
from microcred.submission.adapters.repository import CredentialVersions
from microcred.submission.service_layer import handlers
from microcred.submission.service_layer.handlers import AnswerPrompts, DeclareEvidence, PromptAnswer, StartSubmission
from microcred.submission.service_layer.storage import EvidencePolicy
from microcred.submission.service_layer.unit_of_work import SubmissionUnitOfWork

MIGRATIONS = "microcred.submission:migrations"
CRITERIA = SubmissionCriteria.model_validate({"items": [
    {"key": "classroom-video", "kind": "video", "title": "Video of the lesson"},
    {"key": "reflection", "kind": "reflection", "title": "Reflection", "prompts": ["What changed?"]},
]})
RUBRIC = Rubric.model_validate({
    "criteria": [{"key": "overview", "name": "Overview", "levels": [
        {"key": "not-yet", "name": "Not Yet", "points": 0}, {"key": "proficient", "name": "Proficient", "points": 1}]}],
    "passing_rule": {"kind": "all_criteria_at_least", "level": "proficient"},
})
VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"v" * 400  # sniffs as video/mp4; the fake probe gives its duration
REFLECTION = b"The exit tickets showed most students had it."
POLICY = EvidencePolicy(max_bytes=100 * 1024**2, upload_url_ttl_seconds=900, download_url_ttl_seconds=300,
                        single_upload_max_bytes=6 * 1024**2, part_size_bytes=5 * 1024**2)
TEACHER = Principal(subject="teacher-1", roles=frozenset({Role.TEACHER}), states=("TN",))

T = TypeVar("T")


@pytest.fixture(scope="module")
def socket_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return embedded_postgres_socket(tmp_path_factory.mktemp("submission-statements-pg"))


@pytest.fixture
async def engine(socket_dir: str) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(socket_dir, MIGRATIONS) as engine:
        yield engine


class Statements:
    """Every statement of a use case (``use_case_statement``), recorded while ``counting`` is open: through
    SQLAlchemy or, for the writes runtime.direct sends past it, on asyncpg (``SentStatements`` sees both)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        seen: list[str] = []

        def record(statement: str) -> None:
            if use_case_statement(statement):
                seen.append(" ".join(statement.split()))

        with SentStatements(self.engine, record):
            yield seen

    async def of(self, call: Callable[[], Awaitable[T]]) -> tuple[T, list[str]]:
        with self.counting() as seen:
            result = await call()
            await asyncio.sleep(0)  # asyncpg hands its logged statements to the loop with call_soon
        return result, list(seen)


def kinds(statements: list[str]) -> list[str]:
    """Each statement as its verb and table: enough to tell which work was done, and how often."""
    named = []
    for s in statements:
        verb, *words = s.split()
        # A SELECT's outermost FROM is its last one (the aggregate's children are subselects before it);
        # then INSERT INTO t, UPDATE t.
        tables = {"SELECT": s.rsplit(" FROM ", 1)[-1].split()[0], "INSERT": words[1]}
        named.append(f"{verb} {tables.get(verb, words[0])}")
    return named


class Teacher:
    """Drives one submission through the use cases on a real database, with a fresh per-process cache."""

    def __init__(self, engine: AsyncEngine, versions: CredentialVersions | None = None) -> None:
        factory = async_sessionmaker(engine, expire_on_commit=False)
        self.versions = versions or CredentialVersions()
        self.uow = lambda: SubmissionUnitOfWork(factory, messaging, "submission", credential_versions=self.versions)
        self.store = FakeStore()
        self.probe = FakeProbe()

    async def declare(self, submission_id: UUID, key: str, content: bytes) -> UUID:
        command = DeclareEvidence(requirement_key=key, filename="f.bin", content_type="application/octet-stream",
                                  size_bytes=len(content), sha256=hashlib.sha256(content).hexdigest())
        ticket = await handlers.declare_evidence(submission_id, command, TEACHER, self.uow(), self.store, POLICY)
        self.store.put(ticket.object_key, content)
        return ticket.evidence_id

    async def complete(self, submission_id: UUID, evidence_id: UUID) -> None:
        await handlers.complete_evidence(submission_id, evidence_id, TEACHER, self.uow, self.store, self.probe)

    async def answer(self, submission_id: UUID) -> None:
        command = AnswerPrompts(responses=[PromptAnswer(requirement_key="reflection", prompt_index=0, answer="Much")])
        await handlers.answer_prompts(submission_id, command, TEACHER, self.uow())


async def publish(teacher: Teacher) -> UUID:
    credential_id = uuid4()
    await handlers.record_credential_published(CredentialPublished(
        correlation_id=uuid4(), credential_id=credential_id, version=1,
        issuer=IssuerProfile(issuer_id=uuid4(), name="Issuer"), name="Formative assessment", description="d",
        competency="c", key_method="k", method_components=("m",), research=(Resource(title="r"),),
        submission_criteria=CRITERIA, rubric=RUBRIC,
    ), teacher.uow())
    return credential_id


async def start(teacher: Teacher, credential_id: UUID) -> UUID:
    started = await handlers.start_submission(StartSubmission(credential_id=credential_id), TEACHER, teacher.uow())
    return started.submission_id


async def test_a_submissions_use_cases_send_only_the_statements_their_work_needs(engine: AsyncEngine) -> None:
    statements = Statements(engine)
    teacher = Teacher(engine)
    credential_id = await publish(teacher)
    submission_id = await start(teacher, credential_id)
    # The first use case of a bound submission in this process reads the version's content: once.
    video, seen = await statements.of(lambda: teacher.declare(submission_id, "classroom-video", VIDEO))
    assert kinds(seen) == ["SELECT submissions", "SELECT published_credentials", "INSERT evidence"]

    reflection, seen = await statements.of(lambda: teacher.declare(submission_id, "reflection", REFLECTION))
    assert kinds(seen) == ["SELECT submissions", "INSERT evidence"]
    for evidence_id in (video, reflection):
        async with SentStatements(engine) as sent:
            _, seen = await statements.of(lambda item=evidence_id: teacher.complete(submission_id, item))
            control = SentStatements.transaction_control(await sent.read())
        # Read, then re-read under the lock to record the verdict: no credential read in either. The first read
        # is a look before sealing, outside any transaction; only the verdict has one.
        assert kinds(seen) == ["SELECT submissions", "SELECT submissions", "UPDATE evidence"]
        assert control == ["BEGIN", "COMMIT"]
    _, seen = await statements.of(lambda: teacher.answer(submission_id))
    assert kinds(seen) == ["SELECT submissions", "UPDATE submissions"]
    # Another process (a replica, or this one restarted) reads the content once for itself; the same
    # answers again change no row.
    other = Teacher(engine)
    _, seen = await statements.of(lambda: other.answer(submission_id))
    assert kinds(seen) == ["SELECT submissions", "SELECT published_credentials"]
    _, seen = await statements.of(lambda: handlers.submit(submission_id, TEACHER, teacher.uow(), teacher.store))
    # Both items stamped with the attempt in one statement.
    assert kinds(seen) == [
        "SELECT submissions", "UPDATE submissions", "INSERT submission_attempts", "UPDATE evidence", "INSERT outbox"]
    async with engine.connect() as connection:
        stamped = (await connection.execute(sa.text(
            "SELECT evidence_id, submitted_in FROM evidence WHERE submission_id = :id"), {"id": submission_id})).all()
    assert dict(stamped) == {video: 1, reflection: 1}



async def test_retirement_is_read_fresh_at_start_and_a_bound_submission_carries_on(engine: AsyncEngine) -> None:
    statements = Statements(engine)
    teacher = Teacher(engine)
    credential_id = await publish(teacher)
    submission_id = await start(teacher, credential_id)
    await teacher.declare(submission_id, "classroom-video", VIDEO)  # the version's content is kept from here
    await handlers.record_credential_retired(CredentialRetired(
        correlation_id=uuid4(), credential_id=credential_id, version=1, reason="superseded"), teacher.uow())

    # Starting reads retirement as it is now, whatever this process keeps of the version's content.
    with statements.counting() as seen, pytest.raises(Conflict) as refused:
        await start(teacher, credential_id)
    assert refused.value.code == "credential_retired"
    assert any("retired_credential_versions" in s for s in seen)
    # The submission bound before the retirement goes on to be submitted.
    reflection = await teacher.declare(submission_id, "reflection", REFLECTION)
    video = next(e.evidence_id for e in (await handlers.get_submission(submission_id, TEACHER, teacher.uow()))[0]
                 .evidence if e.evidence_id != reflection)
    await teacher.complete(submission_id, video)
    await teacher.complete(submission_id, reflection)
    await teacher.answer(submission_id)
    submitted = await handlers.submit(submission_id, TEACHER, teacher.uow(), teacher.store)
    assert submitted.attempt == 1 and submitted.status.value == "submitted"


def test_the_kept_versions_are_bounded_and_the_least_recently_used_goes_first() -> None:
    from microcred.submission.domain.model import PublishedCredential

    kept = CredentialVersions(max_versions=2)
    a, b, c = (PublishedCredential(uuid4(), 1, name, CRITERIA) for name in "abc")
    kept.keep(a)
    kept.keep(b)
    assert kept.get(a.credential_id, 1) is a  # a is now the most recently used
    kept.keep(c)
    assert kept.get(b.credential_id, 1) is None
    assert kept.get(a.credential_id, 1) is a and kept.get(c.credential_id, 1) is c
