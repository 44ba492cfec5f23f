"""The world of a run: published credentials, certified reviewers, teachers with their licences, and the
jobs (one submission each, from the teacher's first request to the last state credit)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from microcred.devstack.client import Actor, PlatformClient
from microcred.devstack.samples import credential_definition
from microcred.runtime.auth import Role

# Licence mixes handed out in turn: one state each, and some teachers licensed in two states, so one
# award credits two ledgers under two rule sets. AR needs the district's approval (see the package's docstring).
STATE_MIXES: tuple[tuple[str, ...], ...] = (("TN",), ("UT",), ("AR",), ("TN", "UT"), ("TN",), ("UT", "AR"))
DISTRICT = "bench-district-1"
AUTOMATIC_STATES = frozenset({"TN", "UT"})


@dataclass
class Teacher:
    actor: Actor
    states: tuple[str, ...]
    license_states: dict[str, str] = field(default_factory=dict)  # license_id -> state


@dataclass
class Job:
    """One submission from its teacher's first request to the last state credit."""

    index: int
    teacher: Teacher
    credential_id: str
    fail_first: bool
    started: float = 0.0
    submission_id: str | None = None
    award_id: str | None = None
    # milestone -> attempt -> time (seconds since the epoch, broker time for events).
    marks: dict[str, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    credits: dict[str, float] = field(default_factory=dict)  # license_id -> time
    completed_at: float | None = None
    failed: str | None = None

    @property
    def attempts(self) -> int:
        return max(self.marks["submit_http"], default=0)


@dataclass
class World:
    operator: Actor
    credential_ids: list[str]
    reviewers: list[Actor]
    district_admin: Actor
    teachers: list[Teacher]
    probe_token: str


def seed_catalog(client: PlatformClient, credentials: int, reviewers: int, max_open: int) -> dict[str, Any]:
    """Issuer, published credentials and certified reviewers through the same calls as the tests' ``World``.

    Returns only names and ids (JSON), so that a chunked run can keep them in its state file and mint its
    actors' tokens again after a restart: the platform's dev signing key lives in its data directory."""
    unique = uuid.uuid4().hex[:8]
    operator = client.operator(f"op-{unique}")
    issuer_id = client.create_issuer(operator, f"Benchmark issuer {unique}", url="https://example.org")
    admin = client.actor(f"admin-{unique}", Role.ISSUER_ADMIN, organization=issuer_id)
    credential_ids = []
    for number in range(credentials):
        draft = client.draft_credential(admin, issuer_id, credential_definition(f"Formative assessment {number} {unique}"))
        client.approve_and_publish(admin, operator, draft["credential_id"], 1)
        credential_ids.append(str(draft["credential_id"]))
    reviewer_subjects = [f"reviewer-{number:03d}-{unique}" for number in range(reviewers)]
    for subject in reviewer_subjects:
        client.register_reviewer(operator, subject, credential_ids, max_open=max_open)
    return {"unique": unique, "operator": operator.subject, "credential_ids": credential_ids,
            "reviewers": reviewer_subjects}


def world_of(client: PlatformClient, seed: dict[str, Any], teachers: int, teacher_prefix: str = "teacher") -> World:
    """The players of one run over a seeded catalog, with ``teachers`` new teachers (licences come later, async)."""
    unique = seed["unique"]
    enrolled = []
    for number in range(teachers):
        states = STATE_MIXES[number % len(STATE_MIXES)]
        subject = f"{teacher_prefix}-{number:05d}-{unique}"
        actor = client.actor(subject, Role.TEACHER, states=states, district=DISTRICT,
                             email=f"{subject}@schools.example")
        enrolled.append(Teacher(actor, states))
    district_admin = client.actor(f"district-admin-{unique}", Role.DISTRICT_ADMIN, states=("AR",), district=DISTRICT)
    probe_token = client.tokens.mint(f"probe-{teacher_prefix}-{unique}", [Role.TEACHER], states=("TN",))
    return World(client.operator(seed["operator"]), list(seed["credential_ids"]),
                 [client.actor(subject, Role.REVIEWER) for subject in seed["reviewers"]],
                 district_admin, enrolled, probe_token)


def build_world(client: PlatformClient, credentials: int, reviewers: int, teachers: int, max_open: int) -> World:
    return world_of(client, seed_catalog(client, credentials, reviewers, max_open), teachers)


def reviewer_capacity(submissions: int) -> int:
    # max_open (the API allows 1,000 at most): no reviewer may be full, or routing would queue and the run
    # would measure the cap, not the pipeline.
    return min(1000, submissions * 2 + 10)
