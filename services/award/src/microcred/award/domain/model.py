"""Award rules: when a passed score becomes an award, and what the issued credential document says.

An award exists once per submission. It is *pending* while the credential version it is for has not
reached this service yet (the catalog's event and the review's event travel on different topics, so
either may arrive first), and *issued* once its Open Badges 3.0 document is built. The document is a
pure function of the award, the credential version and the identity salt, so rebuilding it gives the
same bytes. It is unsigned: proof comes with Open Badges signing.

Identifiers inside the document are ``urn:uuid:`` URNs, which must carry exactly one UUID. They are
name-based (UUIDv5) so that every build gives the same ids: the achievement's UUID is derived from
the credential id and the version, each result description's from the achievement's UUID and the
criterion key, and each rubric level's from its result description's UUID and the level key.
"""

from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from microcred.events import (
    Alignment,
    CredentialPublished,
    CriterionResult,
    IssuerProfile,
    Rubric,
    RubricCriterion,
    SubmissionCriteria,
)
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
    alignments: tuple[Alignment, ...] = ()
    image_url: str | None = None
    expiry_months: int | None = None

    @classmethod
    def from_event(cls, event: CredentialPublished) -> CredentialVersion:
        return cls(
            credential_id=event.credential_id,
            version=event.version,
            issuer=event.issuer,
            name=event.name,
            description=event.description,
            competency=event.competency,
            rubric=event.rubric,
            submission_criteria=event.submission_criteria,
            alignments=event.alignments,
            image_url=None if event.image_url is None else str(event.image_url),
            expiry_months=event.expiry_months,
        )

    @property
    def achievement_uuid(self) -> UUID:
        return uuid5(self.credential_id, f"v{self.version}")

    @property
    def achievement_id(self) -> str:
        return f"urn:uuid:{self.achievement_uuid}"

    def result_description_uuid(self, criterion: RubricCriterion) -> UUID:
        return uuid5(self.achievement_uuid, criterion.key)

    def result_description_id(self, criterion: RubricCriterion) -> str:
        return f"urn:uuid:{self.result_description_uuid(criterion)}"

    def level_id(self, criterion: RubricCriterion, level_key: str) -> str:
        return f"urn:uuid:{uuid5(self.result_description_uuid(criterion), level_key)}"

    def valid_until(self, issued_at: datetime) -> datetime | None:
        """When an award issued at ``issued_at`` expires; None when the credential does not expire."""
        return None if self.expiry_months is None else add_months(issued_at, self.expiry_months)


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
    valid_until: datetime | None = None
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
        self.valid_until = credential.valid_until(self.issued_at)
        self.status = AwardStatus.ISSUED


def add_months(moment: datetime, months: int) -> datetime:
    """The same wall-clock time ``months`` calendar months later, in UTC.

    The day of the month is kept, clamped to the last day of the target month (31 January plus one
    month is 28 or 29 February). Computed in UTC so that the result does not depend on the offset
    the issue time happened to carry.
    """
    utc = moment.astimezone(UTC)
    years, month_index = divmod(utc.month - 1 + months, 12)
    year, month = utc.year + years, month_index + 1
    day = min(utc.day, calendar.monthrange(year, month)[1])
    return utc.replace(year=year, month=month, day=day)


def identity_hash(teacher_id: str, salt: str) -> str:
    """Open Badges hashed identifier: ``sha256$`` and the hex digest of the identifier followed by the salt."""
    return "sha256$" + hashlib.sha256((teacher_id + salt).encode()).hexdigest()


def iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _image(url: str) -> dict[str, str]:
    return {"id": url, "type": "Image"}


def _issuer_profile(issuer: IssuerProfile) -> dict[str, Any]:
    profile: dict[str, Any] = {"id": f"urn:uuid:{issuer.issuer_id}", "type": ["Profile"], "name": issuer.name}
    if issuer.url is not None:
        profile["url"] = str(issuer.url)
    if issuer.email:
        profile["email"] = issuer.email
    if issuer.description:
        profile["description"] = issuer.description
    if issuer.image_url is not None:
        profile["image"] = _image(str(issuer.image_url))
    return profile


def _alignment(alignment: Alignment) -> dict[str, Any]:
    document: dict[str, Any] = {"type": ["Alignment"], "targetName": alignment.target_name}
    optional = {
        "targetUrl": None if alignment.target_url is None else str(alignment.target_url),
        "targetDescription": alignment.target_description,
        "targetFramework": alignment.target_framework,
        "targetCode": alignment.target_code,
        "targetType": alignment.target_type,
    }
    return document | {key: value for key, value in optional.items() if value}


def _result_descriptions(credential: CredentialVersion) -> list[dict[str, Any]]:
    descriptions = []
    for criterion in credential.rubric.criteria:
        levels = []
        for level in criterion.levels:
            entry: dict[str, Any] = {
                "id": credential.level_id(criterion, level.key),
                "type": ["RubricCriterionLevel"],
                "name": level.name,
                "points": str(level.points),
            }
            if level.descriptor:
                entry["description"] = level.descriptor
            levels.append(entry)
        descriptions.append(
            {
                "id": credential.result_description_id(criterion),
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
        document_results.append(
            {
                "type": ["Result"],
                "resultDescription": credential.result_description_id(criterion),
                "achievedLevel": credential.level_id(criterion, result.level_key),
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
    achievement: dict[str, Any] = {
        "id": credential.achievement_id,
        "type": ["Achievement"],
        "achievementType": "MicroCredential",
        "name": credential.name,
        "description": credential.description,
        "criteria": {"narrative": credential.competency},
    }
    if credential.image_url is not None:
        achievement["image"] = _image(credential.image_url)
    if credential.alignments:
        achievement["alignment"] = [_alignment(alignment) for alignment in credential.alignments]
    achievement["resultDescription"] = _result_descriptions(credential)
    document: dict[str, Any] = {
        "@context": [CREDENTIALS_CONTEXT, OPEN_BADGES_CONTEXT],
        "id": f"urn:uuid:{award_id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": _issuer_profile(credential.issuer),
        "validFrom": iso_utc(issued_at),
    }
    valid_until = credential.valid_until(issued_at)
    if valid_until is not None:
        document["validUntil"] = iso_utc(valid_until)
    return document | {
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
            "achievement": achievement,
            "result": _results(credential, results),
        },
    }
