"""Fixtures for the catalog tests; the fakes live in catalog_fakes.py.

Tests run with ``--import-mode=importlib``, which puts no test directory on ``sys.path``; this one is
added so test modules can import the fakes (the module name is unique across the workspace's tests).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from catalog_fakes import FakeUnitOfWork

from microcred.catalog.domain.model import CredentialDefinition, Issuer, StaffRole
from microcred.catalog.service_layer import handlers
from microcred.runtime.auth import Principal, Role

SEED = Path(__file__).parents[3] / "libs/devstack/src/microcred/devstack/seed/catalog.json"

LEVELS = [
    {"key": "not-yet", "name": "Not Yet", "points": 0},
    {"key": "developing", "name": "Developing", "points": 1},
    {"key": "proficient", "name": "Proficient", "points": 2},
]


def definition_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Checking for Understanding",
        "description": "Gather evidence of understanding during a lesson.",
        "competency": "The educator checks understanding at planned points and adjusts instruction.",
        "key_method": "Plan checks, collect responses from every student, act on them.",
        "method_components": ["Plan the checks", "Collect from every student"],
        "research": [{"title": "Black & Wiliam (1998)", "url": "https://doi.org/10.1080/0969595980050102"}],
        "submission_criteria": {"items": [
            {"key": "video", "kind": "video", "title": "Classroom video", "min_duration_seconds": 300,
             "max_duration_seconds": 600},
            {"key": "reflection", "kind": "reflection", "title": "Reflection"},
        ]},
        "rubric": {
            "criteria": [
                {"key": "video", "name": "Adjusting in the moment", "levels": LEVELS},
                {"key": "reflection", "name": "Reflecting on impact", "levels": LEVELS},
            ],
            "passing_rule": {"kind": "all_criteria_at_least", "level": "proficient"},
        },
        "subjects": ["any"],
        "grade_bands": ["K-12"],
        "alignments": [{"target_name": "Using Assessment in Instruction", "target_framework": "Danielson FFT",
                        "target_code": "3d"}],
        "credit_hints": [{"unit": "clock_hours", "amount": "15"}],
        "expiry_months": 60,
    }
    return data | changes


APPROVE_ALL = handlers.Approve(checks=handlers.Checks(research_base=True, evidence_requirements=True, rubric=True))


async def publish(uow: FakeUnitOfWork, issuer: Issuer, admin: Principal, operator: Principal,
                  **changes: Any) -> None:
    """Draft, submit, approve and publish version 1 of a credential, as its issuer and an operator would."""
    command = handlers.DraftCredential.model_validate(definition_data(**changes) | {"issuer_id": issuer.issuer_id})
    version = await handlers.draft_credential(command, admin, uow)
    await handlers.submit_for_review(version.credential_id, 1, handlers.SubmitForReview(), admin, uow)
    await handlers.approve(version.credential_id, 1, APPROVE_ALL, operator, uow)
    await handlers.publish(version.credential_id, 1, admin, uow)


@pytest.fixture
def definition() -> CredentialDefinition:
    return CredentialDefinition.model_validate(definition_data())


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def issuer(uow: FakeUnitOfWork) -> Issuer:
    found = Issuer(uuid4(), "digital-promise", "Digital Promise", "https://digitalpromise.org",
                   staff={"editor-1": StaffRole.EDITOR, "staff-admin-1": StaffRole.ADMIN})
    uow.state.issuers[found.issuer_id] = found
    return found


@pytest.fixture
def operator() -> Principal:
    return Principal(subject="operator-1", roles=frozenset({Role.OPERATOR}))


@pytest.fixture
def admin(issuer: Issuer) -> Principal:
    return Principal(subject="admin-1", roles=frozenset({Role.ISSUER_ADMIN}), organization=str(issuer.issuer_id))


@pytest.fixture
def editor() -> Principal:
    return Principal(subject="editor-1", roles=frozenset({Role.ISSUER_ADMIN}))


@pytest.fixture
def seed_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SEED.read_text())
    return document
