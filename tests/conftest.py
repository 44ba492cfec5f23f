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

import functools
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest

# pytest runs with --import-mode=importlib and the test tree is not a package: the interop helpers
# (tests/interop) are put on the path here for every test that talks to Digital Bazaar's verifier.
sys.path.insert(0, str(Path(__file__).resolve().parent / "interop"))

from digital_bazaar import DigitalBazaarVerifier, node_available

from microcred.devstack.client import Actor, PlatformClient
from microcred.devstack.platform import SERVICES, Platform, PlatformPorts
from microcred.devstack.providers import infrastructure_for_tests
from microcred.runtime.auth import Role

RUBRIC: dict[str, Any] = {
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
CRITERIA: dict[str, Any] = {"items": [
    {"key": "classroom-video", "kind": "video", "title": "Video of the lesson"},
    {"key": "reflection", "kind": "reflection", "title": "Reflection",
     "prompts": ["What did the formative data tell you?"]},
]}


def credential_definition(name: str, rubric: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "description": "The educator modifies instruction during a lesson using formative assessment.",
        "competency": "Modifies instruction in the moment based on formative evidence of student learning.",
        "key_method": "The educator gathers evidence mid-lesson and adjusts instruction in response.",
        "method_components": ["Plan checks for understanding", "Adjust instruction"],
        "research": [{"title": "Black & Wiliam, Inside the Black Box (1998)"}],
        "submission_criteria": CRITERIA,
        "rubric": rubric or RUBRIC,
    }


# Small multipart thresholds (S3's minimum part size) so the upload tests exercise parts with little data,
# and evidence retention of about a second so the retention test can purge an award's evidence (the
# periodic sweep runs every hour; nothing else in the tests reads evidence bytes after an award).
SERVICE_ENV = {
    "MICROCRED_SINGLE_UPLOAD_MAX_BYTES": str(5 * 1024**2),
    "MICROCRED_PART_SIZE_BYTES": str(5 * 1024**2),
    "MICROCRED_EVIDENCE_RETENTION_HOURS": "0.0003",  # about a second
    # Single scoring unless a test asks otherwise: each test's credential has one or two reviewers, and
    # calibration (double scoring, adjudication) is covered by review's own tests.
    "MICROCRED_CALIBRATION_SIZE": "0",
    "MICROCRED_DOUBLE_SCORE_SHARE": "0",
    # Webhook retries in fractions of a second, so an e2e test can watch a receiver come back.
    "MICROCRED_WEBHOOK_RETRY_BASE_SECONDS": "0.3",
    "MICROCRED_WEBHOOK_RETRY_MAX_SECONDS": "1.5",
    "MICROCRED_WEBHOOK_POLL_INTERVAL_SECONDS": "0.2",
}


def make_video(path: Path, seconds: float, *, width: int = 160, height: int = 120, fps: int = 10,
               noise: bool = False) -> Path:
    """A real MP4 (MPEG-4 Part 2) made with PyAV. Noise frames at the finest quantizer barely compress,
    so a big file takes well under a second per 50 MB."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if noise:
            stream.codec_context.qmin = stream.codec_context.qmax = 1
            stream.bit_rate = 400_000_000
        for index in range(round(seconds * fps)):
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane in frame.planes:
                size = plane.line_size * plane.height
                plane.update(os.urandom(size) if noise else bytes([index * 7 % 256]) * size)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@functools.cache
def tiny_video() -> bytes:
    """One second of a small real video, made once per test run."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        return make_video(Path(scratch) / "tiny.mp4", 1.0).read_bytes()


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data_dir: Path = tmp_path_factory.mktemp("platform")
    ports = PlatformPorts.free()
    infra = infrastructure_for_tests(data_dir, ports, extra_databases=("runtime_tests",))
    running = Platform(data_dir, ports, infra=infra, service_env=SERVICE_ENV)
    running.start()
    try:
        yield running
    finally:
        running.stop()


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
    running = Platform(data_dir, ports, infra=infrastructure_for_tests(data_dir, ports), service_env=CALIBRATION_ENV)
    running.start()
    try:
        yield running
    finally:
        running.stop()


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

    def teacher(self, state: str = "TN", licensed: bool = True) -> Actor:
        subject = f"teacher-{uuid.uuid4().hex[:8]}"
        teacher = self.client.actor(subject, Role.TEACHER, states=(state,), email=f"{subject}@schools.example")
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


@pytest.fixture(scope="session")
def digital_bazaar() -> Iterator[Any]:
    """Digital Bazaar's verifier (npm @digitalbazaar/vc + eddsa-rdfc-2022) in one node process per session.

    Skips only when node is absent; an npm or verifier failure fails the tests that use it.
    """
    if not node_available():
        pytest.skip("node is not installed: the Digital Bazaar interop verifier needs Node.js 20")
    verifier = DigitalBazaarVerifier()
    try:
        yield verifier
    finally:
        verifier.close()


@pytest.fixture
def world(client: PlatformClient) -> World:
    return World(client)


@pytest.fixture(scope="module")
def module_world(client: PlatformClient) -> World:
    """One World shared by a module's tests, for modules that publish their credentials once."""
    return World(client)


@pytest.fixture(scope="session")
def videos() -> Any:
    """``make_video`` and ``tiny_video`` for test modules (conftest is not importable by name)."""
    return make_video, tiny_video
