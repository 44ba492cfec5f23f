"""Seeds a running platform through its public APIs, as the people who would do it.

Idempotent: issuers and credentials that already exist (by name) are left alone, so ``make up`` can
run the seed on every start.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib import resources
from typing import Any

import httpx

from microcred.runtime.auth import DevTokenIssuer, Role

log = logging.getLogger(__name__)

SAMPLE_TEACHER = "teacher-1"
SAMPLE_REVIEWERS = ("reviewer-1", "reviewer-2")
SAMPLE_STATE = "TN"


@dataclass
class SeedResult:
    issuers: dict[str, str]
    credentials: dict[str, str]


def load_catalog() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files("microcred.devstack").joinpath("seed/catalog.json").read_text())
    return data


def _check(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.method} {response.request.url} -> {response.status_code}: {response.text}")
    body: dict[str, Any] = response.json()
    return body


def seed(urls: dict[str, str], tokens: DevTokenIssuer) -> SeedResult:
    operator = {"Authorization": f"Bearer {tokens.mint('operator-1', [Role.OPERATOR])}"}
    data = load_catalog()
    with httpx.Client(timeout=30.0) as client:
        catalog = urls["catalog"]
        existing = {i["name"]: i["issuer_id"] for i in client.get(f"{catalog}/issuers", headers=operator).json()}
        issuers: dict[str, str] = {}
        for issuer in data["issuers"]:
            if issuer["name"] in existing:
                issuers[issuer["key"]] = existing[issuer["name"]]
                continue
            body = {k: issuer[k] for k in ("name", "url", "email", "description") if k in issuer}
            issuers[issuer["key"]] = _check(client.post(f"{catalog}/issuers", json=body, headers=operator))["issuer_id"]

        published = {
            c["name"]: c["credential_id"]
            for c in client.get(f"{catalog}/credentials", params={"limit": 200}, headers=operator).json()
        }
        credentials: dict[str, str] = {}
        for credential in data["credentials"]:
            if credential["name"] in published:
                credentials[credential["key"]] = published[credential["name"]]
                continue
            issuer_id = issuers[credential["issuer"]]
            admin = {
                "Authorization": "Bearer "
                + tokens.mint(f"admin-{credential['issuer']}", [Role.ISSUER_ADMIN], organization=issuer_id)
            }
            body = {k: v for k, v in credential.items() if k not in ("key", "issuer")} | {"issuer_id": issuer_id}
            created = _check(client.post(f"{catalog}/credentials", json=body, headers=admin))
            _check(client.post(f"{catalog}/credentials/{created['credential_id']}/publish", headers=admin))
            credentials[credential["key"]] = created["credential_id"]

        for reviewer in SAMPLE_REVIEWERS:
            _check(client.put(
                f"{urls['review']}/reviewers/{reviewer}",
                json={"credential_ids": None, "max_open": 25, "active": True},
                headers=operator,
            ))

        teacher = {"Authorization": f"Bearer {tokens.mint(SAMPLE_TEACHER, [Role.TEACHER], states=[SAMPLE_STATE])}"}
        licenses = client.get(f"{urls['licensure']}/licenses", headers=teacher).json()
        if not licenses:
            _check(client.post(
                f"{urls['licensure']}/licenses",
                json={"state": SAMPLE_STATE, "license_number": "TN-0000001", "license_type": "Practitioner",
                      "cycle_start": "2025-09-01", "cycle_end": "2031-08-31"},
                headers=teacher,
            ))
    log.info("seeded %d issuers and %d credentials", len(issuers), len(credentials))
    return SeedResult(issuers=issuers, credentials=credentials)


def sample_tokens(tokens: DevTokenIssuer, issuers: dict[str, str]) -> dict[str, str]:
    first_issuer_key, first_issuer_id = next(iter(issuers.items()))
    return {
        "operator": tokens.mint("operator-1", [Role.OPERATOR]),
        f"issuer_admin ({first_issuer_key})": tokens.mint(
            f"admin-{first_issuer_key}", [Role.ISSUER_ADMIN], organization=first_issuer_id
        ),
        f"teacher ({SAMPLE_TEACHER}, {SAMPLE_STATE})": tokens.mint(
            SAMPLE_TEACHER, [Role.TEACHER], states=[SAMPLE_STATE], name="Sample Teacher"
        ),
        **{f"reviewer ({r})": tokens.mint(r, [Role.REVIEWER]) for r in SAMPLE_REVIEWERS},
        f"state_admin ({SAMPLE_STATE})": tokens.mint("state-admin-tn", [Role.STATE_ADMIN], states=[SAMPLE_STATE]),
    }
