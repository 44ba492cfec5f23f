"""Award rules: when a passed score becomes an award, and what the issued credential document says.

An award exists once per submission. It is *pending* while the credential version it is for has not
reached this service yet (the catalog's event and the review's event travel on different topics, so
either may arrive first), and *issued* once its Open Badges 3.0 document is built. The document is a
pure function of the award, the credential version and the identity salt, so rebuilding it gives the
same bytes. It is unsigned: proof comes with Open Badges signing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from microcred.events import CriterionResult, IssuerProfile, Rubric, SubmissionCriteria
from microcred.runtime.errors import Conflict, Invalid

CREDENTIALS_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OPEN_BADGES_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"


class AwardStatus(StrEnum):
    PENDING = "pending"
    ISSUED = "issued"


@dataclass(frozen=True)
class CredentialVersion:
    """What this service keeps of a published credential version: enough to describe the achievement."""

    credential_id: UUID
    version: int
    issuer: IssuerProfile
    name: str
    description: str
    competency: str
    rubric: Rubric
    submission_criteria: SubmissionCriteria

    @property
    def achievement_id(self) -> str:
        return f"urn:uuid:{self.credential_id}:v{self.version}"


@dataclass
class Award:
    award_id: UUID
    submission_id: UUID
    teacher_id: str
    credential_id: UUID
    credential_version: int
    results: tuple[CriterionResult, ...]
    issued_at: datetime
    states: tuple[str, ...] = ()
    scored_event_id: UUID | None = None
    correlation_id: UUID | None = None
    status: AwardStatus = AwardStatus.PENDING
    issuer_id: UUID | None = None
    credential_name: str | None = None
    credential: dict[str, Any] | None = field(default=None)

    def issue(self, credential: CredentialVersion, identity_salt: str) -> None:
        """Build the credential document; only a pending award is issued, and only for its own version."""
        if self.status is AwardStatus.ISSUED:
            raise Conflict(f"award {self.award_id} is already issued", code="award_already_issued")
        if (credential.credential_id, credential.version) != (self.credential_id, self.credential_version):
            raise Invalid(
                f"award {self.award_id} is for credential {self.credential_id} v{self.credential_version}, "
                f"not {credential.credential_id} v{credential.version}",
                code="credential_version_mismatch",
            )
        self.credential = build_open_badge(
            award_id=self.award_id,
            issued_at=self.issued_at,
            teacher_id=self.teacher_id,
            identity_salt=identity_salt,
            credential=credential,
            results=self.results,
        )
        self.issuer_id = credential.issuer.issuer_id
        self.credential_name = credential.name
        self.status = AwardStatus.ISSUED


def identity_hash(teacher_id: str, salt: str) -> str:
    """Open Badges hashed identifier: ``sha256$`` and the hex digest of the identifier followed by the salt."""
    return "sha256$" + hashlib.sha256((teacher_id + salt).encode()).hexdigest()


def iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _issuer_profile(issuer: IssuerProfile) -> dict[str, Any]:
    profile: dict[str, Any] = {"id": f"urn:uuid:{issuer.issuer_id}", "type": ["Profile"], "name": issuer.name}
    if issuer.url is not None:
        profile["url"] = str(issuer.url)
    if issuer.email:
        profile["email"] = issuer.email
    return profile


def _result_descriptions(credential: CredentialVersion) -> list[dict[str, Any]]:
    descriptions = []
    for criterion in credential.rubric.criteria:
        description_id = f"{credential.achievement_id}:{criterion.key}"
        levels = []
        for level in criterion.levels:
            entry: dict[str, Any] = {
                "id": f"{description_id}:{level.key}",
                "type": ["RubricCriterionLevel"],
                "name": level.name,
                "points": str(level.points),
            }
            if level.descriptor:
                entry["description"] = level.descriptor
            levels.append(entry)
        descriptions.append(
            {
                "id": description_id,
                "type": ["ResultDescription"],
                "name": criterion.name,
                "resultType": "RubricCriterionLevel",
                "allowedValue": [level.name for level in criterion.levels],
                "rubricCriterionLevel": levels,
            }
        )
    return descriptions


def _results(credential: CredentialVersion, results: tuple[CriterionResult, ...]) -> list[dict[str, Any]]:
    by_key = {result.criterion_key: result for result in results}
    document_results = []
    for criterion in credential.rubric.criteria:
        result = by_key.get(criterion.key)
        if result is None:
            raise Invalid(
                f"the score has no result for rubric criterion {criterion.key!r}", code="rubric_mismatch"
            )
        if criterion.level(result.level_key) is None:
            raise Invalid(
                f"level {result.level_key!r} is not a level of rubric criterion {criterion.key!r}",
                code="rubric_mismatch",
            )
        description_id = f"{credential.achievement_id}:{criterion.key}"
        document_results.append(
            {
                "type": ["Result"],
                "resultDescription": description_id,
                "achievedLevel": f"{description_id}:{result.level_key}",
            }
        )
    unknown = set(by_key) - {criterion.key for criterion in credential.rubric.criteria}
    if unknown:
        raise Invalid(f"the score has results for unknown criteria {sorted(unknown)}", code="rubric_mismatch")
    return document_results


def build_open_badge(
    *,
    award_id: UUID,
    issued_at: datetime,
    teacher_id: str,
    identity_salt: str,
    credential: CredentialVersion,
    results: tuple[CriterionResult, ...],
) -> dict[str, Any]:
    """An Open Badges 3.0 ``OpenBadgeCredential``, without proof.

    The teacher is named only by a salted hash: the document is publicly verifiable and must not
    disclose who earned it to someone who does not already know the teacher's identifier.
    """
    return {
        "@context": [CREDENTIALS_CONTEXT, OPEN_BADGES_CONTEXT],
        "id": f"urn:uuid:{award_id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": _issuer_profile(credential.issuer),
        "validFrom": iso_utc(issued_at),
        "name": credential.name,
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": identity_hash(teacher_id, identity_salt),
                    "identityType": "identifier",
                    "hashed": True,
                    "salt": identity_salt,
                }
            ],
            "achievement": {
                "id": credential.achievement_id,
                "type": ["Achievement"],
                "achievementType": "MicroCredential",
                "name": credential.name,
                "description": credential.description,
                "criteria": {"narrative": credential.competency},
                "resultDescription": _result_descriptions(credential),
            },
            "result": _results(credential, results),
        },
    }
