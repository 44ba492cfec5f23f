"""What the canary needs on the platform, made through the public APIs at its first start and found after.

Idempotent by name: the canary issuer is found by its key, the credential by its name among that issuer's
versions (a version left half-way through the workflow by an earlier crash is carried on), reviewers are
upserts, and the license is reused while its cycle lasts. Everything is the canary's own, so nothing real is
touched: reviewers certified for the canary credential only, a teacher licensed only in the canary state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from microcred.canary.adapters.platform_api import PlatformApi
from microcred.canary.adapters.tokens import REVIEWERS, Identity
from microcred.canary.domain.model import (
    CREDENTIAL_DEFINITION,
    CREDENTIAL_NAME,
    ISSUER_KEY,
    ISSUER_NAME,
    LICENSE_YEARS,
    REVIEWER_MAX_OPEN,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CanaryFixture:
    issuer_id: str
    credential_id: str
    license_id: str


async def provision(api: PlatformApi, state: str, today: date) -> CanaryFixture:
    issuer_id = await _issuer(api)
    credential_id = await _credential(api, issuer_id)
    for reviewer in REVIEWERS:
        await api.register_reviewer(api.subject(reviewer), [credential_id], REVIEWER_MAX_OPEN)
    license_id = await _license(api, state, today)
    log.info("canary provisioned", extra={"issuer_id": issuer_id, "credential_id": credential_id,
                                          "license_id": license_id})
    return CanaryFixture(issuer_id, credential_id, license_id)


async def _issuer(api: PlatformApi) -> str:
    found = next((i for i in await api.issuers() if i.get("key") == ISSUER_KEY), None)
    if found is None:
        found = await api.create_issuer(ISSUER_NAME, key=ISSUER_KEY, url="https://example.org/microcred-canary",
                                        description="The end-to-end canary's issuer. Its awards are synthetic.")
    issuer_id = str(found["issuer_id"])
    # Staff rather than an ``org`` claim: the issuer admin's token can then be issued before the issuer exists.
    admin = api.subject(Identity.ISSUER_ADMIN)
    if not any(member["subject"] == admin for member in await api.staff(issuer_id)):
        await api.add_staff(issuer_id, admin, "admin")
    return issuer_id


async def _credential(api: PlatformApi, issuer_id: str) -> str:
    published = [c for c in await api.credentials(issuer_id, "published") if c["name"] == CREDENTIAL_NAME]
    if published:
        return str(published[0]["credential_id"])
    version: dict[str, Any] | None = None
    for status in ("approved", "in_review", "draft", "changes_requested"):
        version = next((c for c in await api.credentials(issuer_id, status) if c["name"] == CREDENTIAL_NAME), None)
        if version is not None:
            break
    if version is None:
        version = await api.draft_credential(issuer_id, CREDENTIAL_DEFINITION)
    credential_id, number, status = str(version["credential_id"]), int(version["version"]), version["status"]
    if status in ("draft", "changes_requested"):
        await api.advance_version(credential_id, number, "submit-for-review", Identity.ISSUER_ADMIN,
                                  {"note": "the platform's canary credential"})
        status = "in_review"
    if status == "in_review":
        await api.advance_version(credential_id, number, "approve", Identity.OPERATOR, {
            "checks": {"research_base": True, "evidence_requirements": True, "rubric": True},
            "note": "synthetic: the end-to-end canary's own credential"})
    await api.advance_version(credential_id, number, "publish", Identity.ISSUER_ADMIN)
    return credential_id


async def _license(api: PlatformApi, state: str, today: date) -> str:
    for license in await api.licenses():
        if (license["state"] == state
                and date.fromisoformat(license["cycle_start"]) <= today < date.fromisoformat(license["cycle_end"])):
            return str(license["license_id"])
    created = await api.register_license({
        "state": state, "license_number": f"{state}-CANARY-{today:%Y%m%d}", "license_type": "Canary",
        "cycle_start": today.isoformat(),
        "cycle_end": today.replace(year=today.year + LICENSE_YEARS, day=min(today.day, 28)).isoformat(),
    })
    return str(created["license_id"])
