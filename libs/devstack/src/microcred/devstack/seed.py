"""Seeds a running platform through its public APIs, as the people who would do it.

The sample catalog goes in through the catalog's import (an operator's import is the approval), so
the seed exercises the same documented format any operator would use. Idempotent: importing the same
document again changes nothing, reviewers are upserts, and the sample license is made once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib import resources
from typing import Any

from microcred.devstack.client import PlatformClient
from microcred.runtime.auth import DevTokenIssuer, Role
from microcred.runtime.dev_oidc import Person

log = logging.getLogger(__name__)

SAMPLE_TEACHER = "teacher-1"
SAMPLE_REVIEWERS = ("reviewer-1", "reviewer-2")
# Calibration double-scores the first submissions of each credential; a disagreement goes to a senior
# reviewer who is neither of the two, so the sample stack has one.
SENIOR_REVIEWER = "senior-reviewer-1"
SAMPLE_STATE = "TN"
# Arkansas credits wait for the teacher's district to approve them; the sample district administrator does that.
SAMPLE_DISTRICT = ("AR", "Pulaski County")
# The recognition examples (licensure's programs folder): a Louisiana teacher to earn the Mentor Teacher set, and
# a Pulaski County teacher for the district's salary schedule, hard-to-staff eligibility and literacy incentive.
# Their labels must not contain "Sample Teacher", which the portal's tests pick the first teacher by.
LOUISIANA_TEACHER = ("teacher-la-1", "LA", None, "Louisiana Teacher")
PULASKI_TEACHER = ("teacher-ar-1", *SAMPLE_DISTRICT, "Pulaski County Teacher")
RECOGNITION_TEACHERS = (LOUISIANA_TEACHER, PULASKI_TEACHER)


@dataclass
class SeedResult:
    issuers: dict[str, str]
    summary: dict[str, Any]


def load_catalog() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files("microcred.devstack").joinpath("seed/catalog.json").read_text())
    return data


def seed(urls: dict[str, str], tokens: DevTokenIssuer) -> SeedResult:
    client = PlatformClient(urls, tokens)
    try:
        operator = client.operator()
        summary = client.import_catalog(operator, load_catalog())
        issuers = {i["key"]: i["issuer_id"] for i in client.call("GET", "catalog", "/issuers", operator)}
        for reviewer in SAMPLE_REVIEWERS:
            client.register_reviewer(operator, reviewer, None, max_open=25)
        client.register_reviewer(operator, SENIOR_REVIEWER, None, max_open=25, senior=True)
        teacher = client.actor(SAMPLE_TEACHER, Role.TEACHER, states=(SAMPLE_STATE,))
        if not client.call("GET", "licensure", "/licenses", teacher):
            client.register_license(teacher, SAMPLE_STATE, "TN-0000001")
        for subject, state, district, _ in RECOGNITION_TEACHERS:
            someone = client.actor(subject, Role.TEACHER, states=(state,), district=district)
            if not client.call("GET", "licensure", "/licenses", someone):
                client.register_license(someone, state, f"{state}-0000001")
    finally:
        client.close()
    log.info("seeded the sample catalog: %s", summary)
    return SeedResult(issuers=issuers, summary=summary)


def sample_people(issuers: dict[str, str]) -> list[Person]:
    """Who the development sign-in offers and whom ``make up`` prints tokens for: one of each kind of user."""
    first_issuer_key, first_issuer_id = next(iter(issuers.items()))
    district_state, district = SAMPLE_DISTRICT
    return [
        Person(key="teacher", label=f"Sample Teacher ({SAMPLE_TEACHER}, {SAMPLE_STATE})", subject=SAMPLE_TEACHER,
               roles=[Role.TEACHER], states=[SAMPLE_STATE], name="Sample Teacher",
               email=f"{SAMPLE_TEACHER}@schools.example"),
        *(Person(key=subject, label=f"{name} ({subject}, {district + ', ' if district else ''}{state})",
                 subject=subject, roles=[Role.TEACHER], states=[state], district=district, name=name,
                 email=f"{subject}@schools.example")
          for subject, state, district, name in RECOGNITION_TEACHERS),
        *(Person(key=r, label=f"Reviewer ({r})", subject=r, roles=[Role.REVIEWER], name=f"Reviewer {r[-1]}")
          for r in SAMPLE_REVIEWERS),
        Person(key="senior-reviewer", label=f"Senior reviewer ({SENIOR_REVIEWER})", subject=SENIOR_REVIEWER,
               roles=[Role.REVIEWER], name="Senior Reviewer"),
        Person(key="issuer-admin", label=f"Issuer administrator ({first_issuer_key})",
               subject=f"admin-{first_issuer_key}", roles=[Role.ISSUER_ADMIN], org=first_issuer_id,
               name="Issuer Administrator"),
        Person(key="operator", label="Platform operator (operator-1)", subject="operator-1", roles=[Role.OPERATOR],
               name="Platform Operator"),
        Person(key="state-admin", label=f"State administrator ({SAMPLE_STATE})", subject="state-admin-tn",
               roles=[Role.STATE_ADMIN], states=[SAMPLE_STATE], name="State Administrator"),
        Person(key="district-admin", label=f"District administrator ({district}, {district_state})",
               subject="district-admin-pulaski", roles=[Role.DISTRICT_ADMIN], states=[district_state],
               district=district, name="District Administrator"),
    ]


def sample_tokens(tokens: DevTokenIssuer, issuers: dict[str, str]) -> dict[str, str]:
    """A token for each sample person, by their label (what ``make up`` prints and writes to tokens.json)."""
    return {
        person.label: tokens.mint(person.subject, person.roles, states=person.states, organization=person.org,
                                  name=person.name, email=person.email, district=person.district)
        for person in sample_people(issuers)
    }
