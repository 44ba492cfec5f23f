"""Fixtures for the submission tests; the fakes themselves live in submission_fakes.py.

Tests run with ``--import-mode=importlib``, which puts no test directory on ``sys.path``; this one is
added so test modules can import the fakes (the module name is unique across the workspace's tests).
"""

from __future__ import annotations

import sys
from pathlib import Path
from uuid import uuid4

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from submission_fakes import CRITERIA, FakeDatabase, FakeProbe, FakeStore

from microcred.runtime.auth import Principal, Role
from microcred.submission.domain.model import PublishedCredential
from microcred.submission.service_layer.storage import EvidencePolicy


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def probe() -> FakeProbe:
    return FakeProbe()


@pytest.fixture
def policy() -> EvidencePolicy:
    # Small thresholds so a test can go multipart with little data (the real minimum part is 5 MiB).
    return EvidencePolicy(max_bytes=100 * 1024**2, upload_url_ttl_seconds=900, download_url_ttl_seconds=300,
                          single_upload_max_bytes=6 * 1024**2, part_size_bytes=5 * 1024**2)


@pytest.fixture
def credential(db: FakeDatabase) -> PublishedCredential:
    published = PublishedCredential(
        credential_id=uuid4(), version=1, name="Formative assessment", submission_criteria=CRITERIA
    )
    db.state.credentials[(published.credential_id, published.version)] = published
    return published


@pytest.fixture
def teacher() -> Principal:
    return Principal(subject="teacher-1", roles=frozenset({Role.TEACHER}), states=("TN", "KY"))


@pytest.fixture
def reviewer() -> Principal:
    return Principal(subject="reviewer-1", roles=frozenset({Role.REVIEWER}))


@pytest.fixture
def operator() -> Principal:
    return Principal(subject="operator-1", roles=frozenset({Role.OPERATOR}))
