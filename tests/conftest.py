"""The real stack for tests that cross a process boundary.

Where the stack comes from, in order:
1. ``MICROCRED_TEST_INFRA=external`` with ``MICROCRED_TEST_POSTGRES_URL`` (a server URL such as
   ``postgresql://user:pw@host:5432``), ``MICROCRED_TEST_KAFKA`` and ``MICROCRED_TEST_S3_ENDPOINT``
   (+ ``MICROCRED_TEST_S3_ACCESS_KEY``/``_SECRET_KEY``): an existing cluster;
2. a Docker engine that answers: testcontainers (Apache Kafka, PostgreSQL, MinIO);
3. otherwise the embedded stack from PyPI packages (the default, and what CI uses here).
Every test run uses its own ports and data directory, and stops everything it started.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# pytest runs with --import-mode=importlib and the test tree is not a package: the shared helpers (tests/support),
# the interop verifiers (tests/interop) and the AsyncAPI tools (tests/asyncapi) are put on the path here.
sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "interop"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "asyncapi"))

from digital_bazaar import DigitalBazaarVerifier
from node_packages import require_node
from wallet import Wallet

from microcred.devstack.client import Actor, PlatformClient
from microcred.devstack.platform import SERVICES, Platform, PlatformPorts
from microcred.devstack.providers import infrastructure_for_tests
from microcred.devstack.samples import (
    PROFICIENT,
    QUICK_SERVICE_ENV,
    credential_definition,
    make_video,
    tiny_video,
)
from microcred.runtime.auth import Role

# The platform these tests run: quick retries and retention, single scoring (see QUICK_SERVICE_ENV).
SERVICE_ENV = QUICK_SERVICE_ENV


def every_answer_was_documented(platform: Platform) -> None:
    """After a platform's tests: every answer any of them got was one its operation's OpenAPI document
    lists. So every end-to-end test also checks the documents against what the services really say."""
    driver = PlatformClient({s: platform.url(s) for s in SERVICES}, platform.tokens)
    try:
        undocumented = driver.undocumented_answers()
    finally:
        driver.close()
    assert not undocumented, f"answers their OpenAPI documents do not list: {dict(undocumented)}"


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data_dir: Path = tmp_path_factory.mktemp("platform")
    ports = PlatformPorts.free()
    infra = infrastructure_for_tests(data_dir, ports, extra_databases=("runtime_tests",))
    # With the portal (its browser tests, tests/portal): one process more, started and stopped with the rest.
    with Platform(data_dir, ports, infra=infra, service_env=SERVICE_ENV, portal=True) as running:
        yield running
        every_answer_was_documented(running)


# A second platform for calibration: every submission double-scored, and reviewers whose agreement
# falls short after one disagreement (two criterion pairs) are flagged and get no new work.
CALIBRATION_ENV = SERVICE_ENV | {
    "MICROCRED_CALIBRATION_SIZE": "1000",
    "MICROCRED_DOUBLE_SCORE_SHARE": "0",
    "MICROCRED_MIN_PAIRS_FOR_FLAG": "2",
    "MICROCRED_BLOCK_FLAGGED_REVIEWERS": "true",
}


@pytest.fixture(scope="module")
def calibration_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data_dir: Path = tmp_path_factory.mktemp("calibration")
    ports = PlatformPorts.free()
    with Platform(data_dir, ports, infra=infrastructure_for_tests(data_dir, ports),
                  service_env=CALIBRATION_ENV) as running:
        yield running
        every_answer_was_documented(running)


@pytest.fixture(scope="module")
def calibration_world(calibration_platform: Platform) -> Iterator[World]:
    driver = PlatformClient({s: calibration_platform.url(s) for s in SERVICES}, calibration_platform.tokens)
    yield World(driver)
    driver.close()


@pytest.fixture(scope="session")
def client(platform: Platform) -> Iterator[PlatformClient]:
    driver = PlatformClient({s: platform.url(s) for s in SERVICES}, platform.tokens)
    yield driver
    driver.close()


class World:
    """One issuer with its admin, an operator, and helpers to publish credentials and enrol people."""

    def __init__(self, client: PlatformClient) -> None:
        self.client = client
        self.unique = uuid.uuid4().hex[:8]
        self.operator = client.operator(f"op-{self.unique}")
        self.issuer_id = client.create_issuer(self.operator, f"Digital Promise {self.unique}",
                                              url="https://digitalpromise.org")
        self.admin = client.actor(f"admin-{self.unique}", Role.ISSUER_ADMIN, organization=self.issuer_id)

    def publish(self, name: str, rubric: dict[str, Any] | None = None, **overrides: Any) -> str:
        """Publishes a credential; ``overrides`` replace fields of the definition (e.g. submission_criteria)."""
        definition = credential_definition(f"{name} {self.unique}", rubric) | overrides
        draft = self.client.draft_credential(self.admin, self.issuer_id, definition)
        self.client.approve_and_publish(self.admin, self.operator, draft["credential_id"], 1)
        return str(draft["credential_id"])

    def reviewer(self, *credential_ids: str, senior: bool = False) -> Actor:
        reviewer = self.client.actor(f"reviewer-{uuid.uuid4().hex[:8]}", Role.REVIEWER)
        self.client.register_reviewer(self.operator, reviewer.subject, list(credential_ids), senior=senior)
        return reviewer

    def teacher(self, state: str = "TN", licensed: bool = True, *, also_in: tuple[str, ...] = (),
                district: str | None = None) -> Actor:
        """A teacher whose token carries ``state`` (and ``also_in``), licensed in ``state`` unless told not."""
        subject = f"teacher-{uuid.uuid4().hex[:8]}"
        teacher = self.client.actor(subject, Role.TEACHER, states=(state, *also_in), district=district,
                                    email=f"{subject}@schools.example")
        if licensed:
            self.client.register_license(teacher, state)
        return teacher

    def submit_evidence(self, teacher: Actor, credential_id: str) -> str:
        submission_id = str(self.client.start_submission(teacher, credential_id)["submission_id"])
        self.client.upload(teacher, submission_id, "classroom-video", tiny_video(), "video/mp4", "lesson.mp4")
        self.client.upload(teacher, submission_id, "reflection", b"The exit tickets showed ...", "text/plain",
                           "reflection.txt")
        self.client.answer_prompts(teacher, submission_id, {("reflection", 0): "Most students had it; three did not."})
        self.client.submit(teacher, submission_id)
        return submission_id

    def earn(self, teacher: Actor, credential_id: str) -> dict[str, Any]:
        """Submit, pass with a reviewer of its own, and return the public view of the teacher's award."""
        reviewer = self.reviewer(credential_id)
        submission_id = self.submit_evidence(teacher, credential_id)
        review = self.client.assigned_review(reviewer, submission_id, attempt=1)
        self.client.score(reviewer, review["review_id"], PROFICIENT)
        awarded = self.client.wait_status(teacher, submission_id, "awarded")
        return self.client.call("GET", "award", f"/awards/{awarded['award_id']}")  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def digital_bazaar() -> Iterator[Any]:
    """Digital Bazaar's verifier (npm @digitalbazaar/vc + eddsa-rdfc-2022) in one node process per session.

    Skips only when node is absent (fails in CI); an npm or verifier failure fails the tests that use it.
    """
    require_node("the Digital Bazaar interop verifier")
    verifier = DigitalBazaarVerifier()
    try:
        yield verifier
    finally:
        verifier.close()


@pytest.fixture(scope="session")
def wallet() -> Iterator[Any]:
    """The DCC's verifier-core and panva's jose in one node process per session (tests/interop/wallet.mjs).

    Skips only when node is absent, like ``digital_bazaar``; an npm or node failure fails its tests.
    """
    require_node("the wallet interop verifiers")
    helper = Wallet()
    try:
        yield helper
    finally:
        helper.close()


@pytest.fixture
def world(client: PlatformClient) -> World:
    return World(client)


@pytest.fixture(scope="module")
def module_world(client: PlatformClient) -> World:
    """One World shared by a module's tests, for modules that publish their credentials once."""
    return World(client)


PROGRAMS_DIR = "MICROCRED_EXTRA_PROGRAMS_DIR"


@pytest.fixture
def licensure_reads(platform: Platform, tmp_path: Path) -> Iterator[Path]:
    """A folder of recognition program files licensure reads at its next start: a test writes its programs there,
    then stops and restarts licensure. Licensure keeps them loaded until it starts again, which is harmless: each
    test's program names its own credentials, stacks or district, so it grants nothing to another test's teachers."""
    platform.service_env[PROGRAMS_DIR] = str(tmp_path)
    try:
        yield tmp_path
    finally:
        platform.service_env.pop(PROGRAMS_DIR, None)


@pytest.fixture(scope="session")
def videos() -> Any:
    """``make_video`` and ``tiny_video`` for test modules (conftest is not importable by name)."""
    return make_video, tiny_video
