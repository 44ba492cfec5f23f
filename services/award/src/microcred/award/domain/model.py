"""Award rules: when a passed score becomes an award, what the credential document says, and its standing.

A micro-credential award exists once per submission. It is *pending* until this service knows both
the credential version it is for and the submitted attempt that passed (the catalog's, the
submission's and the review's events travel on different topics, so any may arrive first), and
*issued* once its Open Badges 3.0 document is built and signed. A collection award (a stack held in
full, a pathway completed) exists once per teacher and collection and is issued at once.

The unsigned document is a pure function of the award, the credential version, the attempt and the
identity secret, so rebuilding it gives the same bytes; the service layer adds the status entries
and the Data Integrity proof.

Standing is separate from issuance: an issued award is *active*, *suspended* (reversible) or
*revoked* (final). The public Bitstring Status Lists mirror it for verifiers.

Identifiers inside the document are ``urn:uuid:`` URNs, which must carry exactly one UUID. They are
name-based (UUIDv5) so that every build gives the same ids: the achievement's UUID is derived from
the credential id and the version, each result description's from the achievement's UUID and the
criterion key, and each rubric level's from its result description's UUID and the level key.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID, uuid5

from microcred.events import (
    Alignment,
    AwardKind,
    CredentialPublished,
    CriterionResult,
    EvidenceKind,
    IssuerProfile,
    Rubric,
    RubricCriterion,
    SubmissionCriteria,
    SubmissionSubmitted,
)
from microcred.runtime.errors import Conflict, Invalid

CREDENTIALS_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OPEN_BADGES_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
StatusPurpose = Literal["revocation", "suspension"]
STATUS_PURPOSES: tuple[StatusPurpose, ...] = ("revocation", "suspension")


class AwardStatus(StrEnum):
    PENDING = "pending"
    ISSUED = "issued"


class Standing(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


@dataclass(frozen=True)
class PublicUrls:
    """Where this service publishes what a credential points at; verifiers dereference these."""

    base: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", self.base.rstrip("/"))

    def issuer(self, issuer_id: UUID) -> str:
        """The issuer's profile and controller document: its id in every credential it signs."""
        return f"{self.base}/issuers/{issuer_id}"

    def issuer_key(self, issuer_id: UUID, key_id: str) -> str:
        """One signing key as a Multikey document: the ``verificationMethod`` of new Data Integrity proofs."""
        return f"{self.issuer(issuer_id)}/keys/{key_id}"

    def issuer_key_jwk(self, issuer_id: UUID, key_id: str) -> str:
        """The same key as a JWK: the ``kid`` of VC-JWTs, which Open Badges 3.0 says must dereference to a JWK."""
        return f"{self.issuer_key(issuer_id, key_id)}/jwk"

    def issuer_jwks(self, issuer_id: UUID) -> str:
        return f"{self.issuer(issuer_id)}/jwks.json"

    def credential(self, award_id: UUID) -> str:
        return f"{self.base}/credentials/{award_id}"

    def credential_json(self, award_id: UUID) -> str:
        return f"{self.credential(award_id)}/credential.json"

    def achievement(self, kind: AwardKind, achievement_id: UUID, version: int) -> str:
        segment = {"micro_credential": "micro-credentials", "stack": "stacks", "pathway": "pathways"}[kind]
        return f"{self.base}/achievements/{segment}/{achievement_id}/{version}"

    def achievement_image(self, kind: AwardKind, achievement_id: UUID, version: int) -> str:
        return f"{self.achievement(kind, achievement_id, version)}/image.png"

    def status_list(self, issuer_id: UUID, purpose: StatusPurpose, list_no: int) -> str:
        return f"{self.base}/status/{issuer_id}/{purpose}/{list_no}"


@dataclass(frozen=True)
class SigningKey:
    """A published signing key. ``scope`` is the issuer id it signs for, or ``operator`` when one key
    signs for every issuer. A retired key signs nothing new but stays published, so that what it
    signed keeps verifying."""

    key_id: str
    scope: str
    public_key_multibase: str
    created_at: datetime
    retired_at: datetime | None = None


@dataclass(frozen=True)
class EvidenceDescription:
    """What a credential says about one kind of evidence: enough to judge it, never the private files."""

    name: str
    description: str
    genre: str


@dataclass(frozen=True)
class SubmittedAttempt:
    """What this service keeps of a submitted attempt: who the teacher says they are, and what they sent."""

    submission_id: UUID
    attempt: int
    teacher_id: str
    teacher_email: str | None
    teacher_did: str | None
    evidence: tuple[tuple[str, int, float | None], ...]  # (requirement key, files, total seconds of video)
    responses: tuple[tuple[str, int], ...]  # (requirement key, answered prompts)

    @classmethod
    def from_event(cls, event: SubmissionSubmitted) -> SubmittedAttempt:
        files: dict[str, list[float | None]] = {}
        for ref in event.evidence:
            files.setdefault(ref.requirement_key, []).append(ref.duration_seconds)
        answers: dict[str, int] = {}
        for response in event.responses:
            if response.answer.strip():
                answers[response.requirement_key] = answers.get(response.requirement_key, 0) + 1
        return cls(
            submission_id=event.submission_id,
            attempt=event.attempt,
            teacher_id=event.teacher_id,
            teacher_email=event.teacher_email,
            teacher_did=event.teacher_did,
            evidence=tuple(
                (key, len(durations), _total_seconds(durations)) for key, durations in sorted(files.items())
            ),
            responses=tuple(sorted(answers.items())),
        )

    def describe(self, criteria: SubmissionCriteria) -> tuple[EvidenceDescription, ...]:
        """One OB3 evidence entry per requirement the attempt answered, in the credential's order."""
        files = {key: (count, seconds) for key, count, seconds in self.evidence}
        answers = dict(self.responses)
        described = []
        for item in criteria.items:
            count, seconds = files.get(item.key, (0, None))
            answered = answers.get(item.key, 0)
            if not count and not answered:
                continue
            parts = []
            if count:
                noun = _EVIDENCE_NOUNS.get(item.kind, "file")
                parts.append(f"{count} {noun}{'' if count == 1 else 's'}"
                             + (f" ({_duration(seconds)})" if seconds else ""))
            if answered:
                parts.append(f"written answers to {answered} prompt{'' if answered == 1 else 's'}")
            described.append(EvidenceDescription(
                name=item.title,
                description=(
                    f"{' and '.join(parts).capitalize()}, scored against the rubric by trained reviewers. "
                    "The evidence itself is private to the teacher and their reviewers."
                ),
                genre=_EVIDENCE_GENRES.get(item.kind, str(item.kind)),
            ))
        return tuple(described)


_EVIDENCE_NOUNS = {
    EvidenceKind.VIDEO: "classroom video",
    EvidenceKind.STUDENT_WORK: "student work sample",
    EvidenceKind.REFLECTION: "reflection",
    EvidenceKind.DOCUMENT: "document",
}
_EVIDENCE_GENRES = {
    EvidenceKind.VIDEO: "Classroom video",
    EvidenceKind.STUDENT_WORK: "Student work",
    EvidenceKind.REFLECTION: "Reflection",
    EvidenceKind.DOCUMENT: "Document",
}


def _total_seconds(durations: Sequence[float | None]) -> float | None:
    known = [d for d in durations if d]
    return sum(known) if known else None


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


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
    """One issued (or about to be issued) credential: a micro-credential, or a stack or pathway held in full.

    For a micro-credential ``credential_id``/``credential_version`` name the catalog version and
    ``submission_id`` the submission that earned it; for a collection ``credential_id`` is the stack
    or pathway id, ``credential_version`` its revision, and ``component_award_ids`` the awards that
    completed it.
    """

    award_id: UUID
    submission_id: UUID | None
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
    kind: AwardKind = "micro_credential"
    attempt: int | None = None
    component_award_ids: tuple[UUID, ...] = ()
    standing: Standing = Standing.ACTIVE
    standing_reason: str | None = None
    standing_changed_at: datetime | None = None
    standing_changed_by: str | None = None
    status_list: int | None = None
    status_index: int | None = None

    def unsigned_document(
        self,
        credential: CredentialVersion,
        attempt: SubmittedAttempt,
        identity_secret: str,
        urls: PublicUrls,
        credential_status: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The OB3 document this pending micro-credential award will be issued as, before its proof."""
        if self.status is AwardStatus.ISSUED:
            raise Conflict(f"award {self.award_id} is already issued", code="award_already_issued")
        if (credential.credential_id, credential.version) != (self.credential_id, self.credential_version):
            raise Invalid(
                f"award {self.award_id} is for credential {self.credential_id} v{self.credential_version}, "
                f"not {credential.credential_id} v{credential.version}",
                code="credential_version_mismatch",
            )
        if (attempt.submission_id, attempt.attempt) != (self.submission_id, self.attempt):
            raise Invalid(
                f"award {self.award_id} is for attempt {self.attempt} of submission {self.submission_id}",
                code="attempt_mismatch",
            )
        return build_open_badge(
            award_id=self.award_id,
            issued_at=self.issued_at,
            teacher_id=self.teacher_id,
            identity_salt=award_salt(identity_secret, self.award_id),
            credential=credential,
            results=self.results,
            identity=attempt,
            evidence=attempt.describe(credential.submission_criteria),
            urls=urls,
            credential_status=credential_status,
        )

    def issue(self, signed: dict[str, Any], issuer_id: UUID, name: str, valid_until: datetime | None) -> None:
        """Record the signed document; only a pending award is issued."""
        if self.status is AwardStatus.ISSUED:
            raise Conflict(f"award {self.award_id} is already issued", code="award_already_issued")
        if "proof" not in signed:
            raise Invalid("an award is issued only with a signed document", code="unsigned_credential")
        self.credential = signed
        self.issuer_id = issuer_id
        self.credential_name = name
        self.valid_until = valid_until
        self.status = AwardStatus.ISSUED

    # -- standing --------------------------------------------------------------------------------

    def _require_issued(self) -> None:
        if self.status is not AwardStatus.ISSUED:
            raise Conflict(f"award {self.award_id} is not issued yet", code="award_not_issued")

    def _change(self, standing: Standing, reason: str, at: datetime, by: str) -> None:
        if not reason.strip():
            raise Invalid("a reason is required", code="reason_required")
        self.standing = standing
        self.standing_reason = reason.strip()
        self.standing_changed_at = at
        self.standing_changed_by = by

    def revoke(self, reason: str, at: datetime, by: str) -> None:
        """Final: a revoked credential never becomes valid again (a suspended one may be revoked)."""
        self._require_issued()
        if self.standing is Standing.REVOKED:
            raise Conflict(f"award {self.award_id} is already revoked", code="already_revoked")
        self._change(Standing.REVOKED, reason, at, by)

    def suspend(self, reason: str, at: datetime, by: str) -> None:
        self._require_issued()
        if self.standing is not Standing.ACTIVE:
            raise Conflict(f"award {self.award_id} is {self.standing.value}; only an active award can be suspended",
                           code=f"award_{self.standing.value}")
        self._change(Standing.SUSPENDED, reason, at, by)

    def reinstate(self, reason: str, at: datetime, by: str) -> None:
        self._require_issued()
        if self.standing is not Standing.SUSPENDED:
            raise Conflict(f"award {self.award_id} is {self.standing.value}; only a suspended award can be reinstated",
                           code=f"award_{self.standing.value}")
        self._change(Standing.ACTIVE, reason, at, by)

    def status_bits(self) -> dict[StatusPurpose, bool]:
        """The award's bit in each status list: revocation is set once revoked, suspension while suspended."""
        return {"revocation": self.standing is Standing.REVOKED, "suspension": self.standing is Standing.SUSPENDED}


@dataclass(frozen=True)
class Collection:
    """A stack or pathway as this service keeps it: the credentials a teacher must hold to earn it."""

    kind: Literal["stack", "pathway"]
    collection_id: UUID
    revision: int
    issuer_id: UUID
    name: str
    description: str
    credential_ids: tuple[UUID, ...]
    active: bool = True

    def achievement_uuid(self) -> UUID:
        return uuid5(self.collection_id, f"{self.kind}-r{self.revision}")

    def completed_by(self, held: set[UUID]) -> bool:
        return self.active and bool(self.credential_ids) and set(self.credential_ids) <= held


def build_collection_badge(
    *,
    award_id: UUID,
    issued_at: datetime,
    teacher: SubmittedAttempt | None,
    teacher_id: str,
    identity_salt: str,
    collection: Collection,
    issuer: IssuerProfile,
    components: Sequence[tuple[UUID, str]],
    urls: PublicUrls,
    credential_status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The OB3 document for a completed stack or pathway; its evidence is the component credentials."""
    achievement_url = urls.achievement(collection.kind, collection.collection_id, collection.revision)
    noun = "stack" if collection.kind == "stack" else "pathway"
    achievement: dict[str, Any] = {
        "id": f"urn:uuid:{collection.achievement_uuid()}",
        "type": ["Achievement"],
        "achievementType": "Certificate",
        "name": collection.name,
        "description": collection.description or f"Every micro-credential of the {noun} {collection.name}.",
        "criteria": {
            "id": achievement_url,
            "narrative": f"Earn every micro-credential of this {noun}: "
                         + "; ".join(name for _, name in components) + ".",
        },
        "image": _image(urls.achievement_image(collection.kind, collection.collection_id, collection.revision)),
    }
    document = _envelope(award_id, issued_at, issuer, urls, None, credential_status)
    return document | {
        "name": collection.name,
        "credentialSubject": _subject(teacher, teacher_id, identity_salt) | {"achievement": achievement},
        "evidence": [
            {
                "id": urls.credential(component_id),
                "type": ["Evidence"],
                "name": name,
                "description": f"The micro-credential {name}, a verifiable credential of its own.",
                "genre": "Micro-credential",
            }
            for component_id, name in components
        ],
    }


def award_salt(identity_secret: str, award_id: UUID) -> str:
    """A salt of the award's own: the same teacher's hashes then differ between credentials.

    Derived rather than random so that the document stays a pure function of the award; the secret
    keeps anyone else from deriving it and so from testing guesses across credentials.
    """
    return hmac.new(identity_secret.encode(), award_id.bytes, hashlib.sha256).hexdigest()[:32]


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


def _issuer_profile(issuer: IssuerProfile, urls: PublicUrls | None) -> dict[str, Any]:
    # The id is the URL of the issuer's controller document when we sign: verifiers require the
    # proof's verification method to be controlled by the credential's issuer.
    issuer_id = f"urn:uuid:{issuer.issuer_id}" if urls is None else urls.issuer(issuer.issuer_id)
    profile: dict[str, Any] = {"id": issuer_id, "type": ["Profile"], "name": issuer.name}
    if issuer.url is not None:
        profile["url"] = str(issuer.url)
    if issuer.email:
        profile["email"] = issuer.email
    if issuer.description:
        profile["description"] = issuer.description
    if issuer.image_url is not None:
        profile["image"] = _image(str(issuer.image_url))
    return profile


# OB 3.0's AlignmentTargetType; anything else must be an extension term.
ALIGNMENT_TARGET_TYPES = frozenset({
    "ceasn:Competency", "ceterms:Credential", "CFItem", "CFRubric", "CFRubricCriterion", "CFRubricCriterionLevel",
    "CTDL",
})


def _target_type(value: str | None) -> str | None:
    if not value or value in ALIGNMENT_TARGET_TYPES or value.startswith("ext:"):
        return value
    # The catalog takes the issuer's own words ("State standard"); OB 3.0 accepts them as extensions.
    return "ext:" + "".join(word[:1].upper() + word[1:] for word in value.split())


def _alignment(alignment: Alignment) -> dict[str, Any]:
    document: dict[str, Any] = {"type": ["Alignment"], "targetName": alignment.target_name}
    optional = {
        "targetUrl": None if alignment.target_url is None else str(alignment.target_url),
        "targetDescription": alignment.target_description,
        "targetFramework": alignment.target_framework,
        "targetCode": alignment.target_code,
        "targetType": _target_type(alignment.target_type),
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


def _envelope(
    award_id: UUID,
    issued_at: datetime,
    issuer: IssuerProfile,
    urls: PublicUrls | None,
    valid_until: datetime | None,
    credential_status: dict[str, Any] | None,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": [CREDENTIALS_CONTEXT, OPEN_BADGES_CONTEXT],
        "id": f"urn:uuid:{award_id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": _issuer_profile(issuer, urls),
        "validFrom": iso_utc(issued_at),
    }
    if valid_until is not None:
        document["validUntil"] = iso_utc(valid_until)
    if credential_status is not None:
        # One entry: OB 3.0 allows at most one credentialStatus (its schema types it as an object).
        document["credentialStatus"] = credential_status
    return document


def _subject(identity: SubmittedAttempt | None, teacher_id: str, identity_salt: str) -> dict[str, Any]:
    """The teacher as the credential names them: their DID, else a salted hash of their email or id."""
    subject: dict[str, Any] = {"type": ["AchievementSubject"]}
    if identity is not None and identity.teacher_did:
        return subject | {"id": identity.teacher_did}
    if identity is not None and identity.teacher_email:
        value, kind = identity.teacher_email.strip().lower(), "emailAddress"
    else:
        value, kind = teacher_id, "identifier"
    return subject | {
        "identifier": [
            {
                "type": "IdentityObject",
                "identityHash": identity_hash(value, identity_salt),
                "identityType": kind,
                "hashed": True,
                "salt": identity_salt,
            }
        ]
    }


def micro_achievement(credential: CredentialVersion, urls: PublicUrls | None) -> dict[str, Any]:
    """The OB3 ``Achievement`` a credential version is, as credentials embed it and its URL serves it."""
    achievement: dict[str, Any] = {
        "id": credential.achievement_id,
        "type": ["Achievement"],
        "achievementType": "MicroCredential",
        "name": credential.name,
        "description": credential.description,
        "criteria": {"narrative": credential.competency},
    }
    if urls is not None:
        achievement["criteria"] = {
            "id": urls.achievement("micro_credential", credential.credential_id, credential.version),
            "narrative": credential.competency,
        }
    if credential.image_url is not None:
        achievement["image"] = _image(credential.image_url)
    elif urls is not None:
        achievement["image"] = _image(
            urls.achievement_image("micro_credential", credential.credential_id, credential.version)
        )
    alignments = [_alignment(alignment) for alignment in credential.alignments if alignment.target_url is not None]
    if alignments:
        # OB 3.0 requires a targetUrl; an alignment the catalog holds without one stays in the catalog.
        achievement["alignment"] = alignments
    achievement["resultDescription"] = _result_descriptions(credential)
    return achievement


def build_open_badge(
    *,
    award_id: UUID,
    issued_at: datetime,
    teacher_id: str,
    identity_salt: str,
    credential: CredentialVersion,
    results: tuple[CriterionResult, ...],
    identity: SubmittedAttempt | None = None,
    evidence: Sequence[EvidenceDescription] = (),
    urls: PublicUrls | None = None,
    credential_status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An Open Badges 3.0 ``OpenBadgeCredential``, without proof.

    The teacher is named by their DID or only by a salted hash: the document is publicly verifiable
    and must not disclose who earned it to someone who does not already know the teacher. With
    ``urls`` the issuer, criteria and image point at what this service publishes.
    """
    achievement = micro_achievement(credential, urls)
    document = _envelope(
        award_id, issued_at, credential.issuer, urls, credential.valid_until(issued_at), credential_status
    )
    document = document | {
        "name": credential.name,
        "credentialSubject": _subject(identity, teacher_id, identity_salt) | {
            "achievement": achievement,
            "result": _results(credential, results),
        },
    }
    if evidence:
        document["evidence"] = [
            {"type": ["Evidence"], "name": item.name, "description": item.description, "genre": item.genre}
            for item in evidence
        ]
    return document
