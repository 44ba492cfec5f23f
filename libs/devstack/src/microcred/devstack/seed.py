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

log = logging.getLogger(__name__)

SAMPLE_TEACHER = "teacher-1"
SAMPLE_REVIEWERS = ("reviewer-1", "reviewer-2")
# Calibration double-scores the first submissions of each credential; a disagreement goes to a senior
# reviewer who is neither of the two, so the sample stack has one.
SENIOR_REVIEWER = "senior-reviewer-1"
SAMPLE_STATE = "TN"


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
    finally:
        client.close()
    log.info("seeded the sample catalog: %s", summary)
    return SeedResult(issuers=issuers, summary=summary)


def sample_tokens(tokens: DevTokenIssuer, issuers: dict[str, str]) -> dict[str, str]:
    first_issuer_key, first_issuer_id = next(iter(issuers.items()))
    return {
        "operator": tokens.mint("operator-1", [Role.OPERATOR]),
        f"issuer_admin ({first_issuer_key})": tokens.mint(
            f"admin-{first_issuer_key}", [Role.ISSUER_ADMIN], organization=first_issuer_id
        ),
        f"teacher ({SAMPLE_TEACHER}, {SAMPLE_STATE})": tokens.mint(
            SAMPLE_TEACHER, [Role.TEACHER], states=[SAMPLE_STATE], name="Sample Teacher",
            email=f"{SAMPLE_TEACHER}@schools.example",
        ),
        **{f"reviewer ({r})": tokens.mint(r, [Role.REVIEWER]) for r in SAMPLE_REVIEWERS},
        f"senior reviewer ({SENIOR_REVIEWER})": tokens.mint(SENIOR_REVIEWER, [Role.REVIEWER]),
        f"state_admin ({SAMPLE_STATE})": tokens.mint("state-admin-tn", [Role.STATE_ADMIN], states=[SAMPLE_STATE]),
    }
