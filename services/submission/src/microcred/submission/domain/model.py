"""Submission rules: the lifecycle of a teacher's submission, and when its evidence is complete.

Lifecycle (one submission, several attempts)::

    draft --submit--> submitted --assign--> under_review --revise--> revise_requested --submit--> submitted ...
                                                         --pass----> passed --award--> awarded

Evidence may change only in ``draft`` and ``revise_requested``: what an attempt submitted is what its
reviewer sees. Review outcomes arrive as events on separate topics (review.assigned, review.scored,
review.revise-requested, award.awarded), and Kafka orders messages only within a topic. So an outcome
may overtake the assignment that preceded it: the review methods accept an outcome straight from
``submitted``, and treat an event that the submission has already moved past as a no-op (they return
False). Events about an earlier attempt are stale and change nothing. What remains illegal (a pass
after a revision request for the same attempt, an assignment before any submission) raises Conflict.

Starting: a new submission binds to the latest published version that is not retired, and only if
the teacher has earned every prerequisite the catalog's active pathways name for the credential.
A submission already bound to a version keeps it for good, retired or not.

Evidence: each item answers one requirement of the bound version, within its limits (accepted
content types, maximum size, maximum count). Withdrawn items stay on record (an earlier attempt may
have submitted them) but no longer count, so a teacher can replace an item where the maximum is
reached. Durations are kept in the projection but not checked yet.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from microcred.events import CriterionFeedback, EvidenceRequirement, PathwayStep, SubmissionCriteria
from microcred.runtime.errors import Conflict, Invalid, NotFound


class SubmissionStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    REVISE_REQUESTED = "revise_requested"
    PASSED = "passed"
    AWARDED = "awarded"


EDITABLE = frozenset({SubmissionStatus.DRAFT, SubmissionStatus.REVISE_REQUESTED})
# Review is running for the current attempt: an outcome event may apply.
IN_REVIEW = frozenset({SubmissionStatus.SUBMITTED, SubmissionStatus.UNDER_REVIEW})


class EvidenceStatus(StrEnum):
    PENDING = "pending"
    UPLOADED = "uploaded"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class PublishedCredential:
    """What this service keeps of a published credential version: enough to check evidence."""

    credential_id: UUID
    version: int
    name: str
    submission_criteria: SubmissionCriteria
    retired: bool = False

    def requirement_keys(self) -> frozenset[str]:
        return frozenset(item.key for item in self.submission_criteria.items)

    def requirement(self, key: str) -> EvidenceRequirement:
        found = next((item for item in self.submission_criteria.items if item.key == key), None)
        if found is None:
            raise Invalid(
                f"{key!r} is not an evidence requirement of {self.name}",
                code="unknown_requirement",
                details={"requirement_keys": sorted(self.requirement_keys())},
            )
        return found


def version_for_new_submission(credential_id: UUID, versions: Iterable[PublishedCredential]) -> PublishedCredential:
    """The latest published version that is not retired."""
    published = list(versions)
    if not published:
        raise NotFound(f"credential {credential_id} is not a published credential", code="credential_not_found")
    open_versions = [v for v in published if not v.retired]
    if not open_versions:
        latest = max(published, key=lambda v: v.version)
        raise Conflict(
            f"{latest.name} is retired: every published version stopped taking new submissions",
            code="credential_retired",
            details={"retired_versions": sorted(v.version for v in published)},
        )
    return max(open_versions, key=lambda v: v.version)


# -- prerequisites -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pathway:
    """The catalog's latest revision of a pathway. An inactive one was removed and imposes nothing,
    but its revision is kept so that an older revision delivered late cannot bring it back."""

    pathway_id: UUID
    revision: int
    active: bool
    steps: tuple[PathwayStep, ...]

    def prerequisite_links(self) -> frozenset[tuple[UUID, UUID]]:
        """(credential, prerequisite) pairs: a teacher must have earned the second to start the first."""
        if not self.active:
            return frozenset()
        return frozenset((step.credential_id, needed) for step in self.steps for needed in step.prerequisites)


def ensure_prerequisites_met(
    credential: PublishedCredential,
    prerequisites: Collection[UUID],
    earned: Collection[UUID],
    names: Mapping[UUID, str],
) -> None:
    """Refuse to start ``credential`` while a prerequisite is unearned; lists them in a stable order."""
    missing = sorted((p for p in prerequisites if p not in earned), key=str)
    if missing:
        described = ", ".join(f"{names[p]} ({p})" if p in names else str(p) for p in missing)
        raise Invalid(
            f"{credential.name} can be started only after earning its prerequisites; not yet earned: {described}",
            code="prerequisites_not_met",
            details=[str(p) for p in missing],
        )


# -- evidence limits -----------------------------------------------------------------------------


def media_type(content_type: str) -> str:
    """``text/plain; charset=utf-8`` -> ``text/plain``: parameters never decide acceptance."""
    return content_type.split(";", 1)[0].strip().lower()


def accepts_content_type(requirement: EvidenceRequirement, content_type: str) -> bool:
    """An empty list accepts anything; ``video/*`` accepts every video subtype."""
    if not requirement.accepted_content_types:
        return True
    declared = media_type(content_type)
    for accepted in map(media_type, requirement.accepted_content_types):
        if accepted in (declared, "*/*") or (accepted.endswith("/*") and declared.startswith(accepted[:-1])):
            return True
    return False


def ensure_evidence_fits(requirement: EvidenceRequirement, content_type: str, size_bytes: int) -> None:
    if not accepts_content_type(requirement, content_type):
        raise Invalid(
            f"{requirement.title} accepts {', '.join(requirement.accepted_content_types)}, not {content_type}",
            code="content_type_not_accepted",
            details={"accepted_content_types": list(requirement.accepted_content_types)},
        )
    if requirement.max_size_bytes is not None and size_bytes > requirement.max_size_bytes:
        raise Invalid(
            f"{requirement.title} may be at most {requirement.max_size_bytes} bytes, {size_bytes} were declared",
            code="evidence_too_large",
            details={"max_bytes": requirement.max_size_bytes},
        )


@dataclass
class Evidence:
    evidence_id: UUID
    requirement_key: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    object_key: str
    status: EvidenceStatus = EvidenceStatus.PENDING
    # The object store's ETag when the bytes were verified: a later overwrite through a still-valid
    # upload URL changes it, and submit refuses evidence whose bytes changed after verification.
    etag: str | None = None
    uploaded_at: datetime | None = None

    def verify_upload(self, *, stored_size: int, stored_sha256: str, etag: str, now: datetime) -> None:
        if self.status is EvidenceStatus.WITHDRAWN:
            raise Conflict(f"evidence {self.evidence_id} was withdrawn; declare a new item", code="evidence_withdrawn")
        if stored_size != self.size_bytes:
            raise Invalid(
                f"the stored object has {stored_size} bytes but {self.size_bytes} were declared; upload again",
                code="size_mismatch",
                details={"declared": self.size_bytes, "stored": stored_size},
            )
        if stored_sha256 != self.sha256:
            raise Invalid(
                "the sha256 of the stored object differs from the declared one; upload again",
                code="sha256_mismatch",
                details={"declared": self.sha256, "stored": stored_sha256},
            )
        self.status = EvidenceStatus.UPLOADED
        self.etag = etag
        self.uploaded_at = now


@dataclass
class Attempt:
    number: int
    submitted_at: datetime
    reviewer_id: str | None = None
    feedback: tuple[CriterionFeedback, ...] = ()
    feedback_received_at: datetime | None = None


@dataclass
class Submission:
    submission_id: UUID
    teacher_id: str
    credential_id: UUID
    credential_version: int
    credential_name: str
    states: tuple[str, ...]
    created_at: datetime
    status: SubmissionStatus = SubmissionStatus.DRAFT
    attempt: int = 1
    attempts: list[Attempt] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    award_id: UUID | None = None

    # -- teacher actions -----------------------------------------------------------------------

    def ensure_evidence_editable(self) -> None:
        if self.status not in EDITABLE:
            raise Conflict(
                f"submission {self.submission_id} is {self.status.value}; evidence can change only in "
                "draft or after a revision request",
                code="evidence_locked",
            )

    def add_evidence(self, evidence: Evidence, requirement: EvidenceRequirement) -> None:
        """Register an item; pending ones count too, so declaring cannot outrun the maximum."""
        self.ensure_evidence_editable()
        registered = sum(
            1 for e in self.evidence
            if e.requirement_key == requirement.key and e.status is not EvidenceStatus.WITHDRAWN
        )
        if requirement.max_count is not None and registered >= requirement.max_count:
            raise Invalid(
                f"{requirement.title} takes at most {requirement.max_count} item(s) and {registered} are "
                "registered; withdraw one to replace it",
                code="too_many_items",
                details={"requirement_key": requirement.key, "max_count": requirement.max_count,
                         "registered": registered},
            )
        self.evidence.append(evidence)

    def withdraw_evidence(self, evidence_id: UUID) -> Evidence:
        """Take an item out of the next attempt; it stays on record, since an earlier one may have sent it."""
        self.ensure_evidence_editable()
        evidence = self.find_evidence(evidence_id)
        if evidence is None:
            raise NotFound(
                f"evidence {evidence_id} is not part of submission {self.submission_id}", code="evidence_not_found"
            )
        evidence.status = EvidenceStatus.WITHDRAWN
        return evidence

    def find_evidence(self, evidence_id: UUID) -> Evidence | None:
        return next((e for e in self.evidence if e.evidence_id == evidence_id), None)

    def uploaded_evidence(self) -> list[Evidence]:
        return [e for e in self.evidence if e.status is EvidenceStatus.UPLOADED]

    def submit(self, criteria: SubmissionCriteria, now: datetime) -> Attempt:
        """Open the next attempt: the first from draft, a resubmission after a revision request."""
        if self.status is SubmissionStatus.DRAFT:
            number = 1
        elif self.status is SubmissionStatus.REVISE_REQUESTED:
            number = self.attempt + 1
        else:
            raise Conflict(
                f"submission {self.submission_id} is {self.status.value}; it can be submitted only as a "
                "draft or after a revision request",
                code="not_submittable",
            )
        short = missing_requirements(criteria, self.evidence)
        if short:
            raise Invalid(
                "every required piece of evidence needs enough uploaded files: "
                + ", ".join(f"{s.requirement_key} ({s.uploaded} of {s.min_count})" for s in short),
                code="incomplete",
                details=[s.as_details() for s in short],
            )
        attempt = Attempt(number=number, submitted_at=now)
        self.attempt = number
        self.attempts.append(attempt)
        self.status = SubmissionStatus.SUBMITTED
        return attempt

    # -- review outcomes (from events) ---------------------------------------------------------

    def current_attempt(self) -> Attempt | None:
        return next((a for a in self.attempts if a.number == self.attempt), None)

    def is_current(self, attempt: int) -> bool:
        return self.status is not SubmissionStatus.DRAFT and attempt == self.attempt

    def is_reviewed_by(self, reviewer_id: str) -> bool:
        """The reviewer assigned to the current attempt, while that review is open."""
        current = self.current_attempt()
        return (
            self.status is SubmissionStatus.UNDER_REVIEW
            and current is not None
            and current.reviewer_id == reviewer_id
        )

    def assign_reviewer(self, attempt: int, reviewer_id: str) -> bool:
        current = self._current_for_event(attempt, "a reviewer assignment")
        if current is None or self.status not in IN_REVIEW:
            return False  # stale, or the review already concluded (its outcome arrived first)
        current.reviewer_id = reviewer_id
        self.status = SubmissionStatus.UNDER_REVIEW
        return True

    def request_revision(self, attempt: int, feedback: Iterable[CriterionFeedback], now: datetime) -> bool:
        current = self._current_for_event(attempt, "a revision request")
        if current is None or self.status is SubmissionStatus.REVISE_REQUESTED:
            return False
        if self.status not in IN_REVIEW:
            raise Conflict(
                f"submission {self.submission_id} attempt {attempt} is {self.status.value}; "
                "a revision cannot be requested any more",
                code="illegal_transition",
            )
        current.feedback = tuple(feedback)
        current.feedback_received_at = now
        self.status = SubmissionStatus.REVISE_REQUESTED
        return True

    def record_pass(self, attempt: int) -> bool:
        current = self._current_for_event(attempt, "a pass")
        if current is None or self.status in (SubmissionStatus.PASSED, SubmissionStatus.AWARDED):
            return False
        if self.status not in IN_REVIEW:
            raise Conflict(
                f"submission {self.submission_id} attempt {attempt} is {self.status.value}; it cannot pass",
                code="illegal_transition",
            )
        self.status = SubmissionStatus.PASSED
        return True

    def record_award(self, award_id: UUID) -> bool:
        if self.status is SubmissionStatus.AWARDED:
            if self.award_id == award_id:
                return False
            raise Conflict(
                f"submission {self.submission_id} was already awarded as {self.award_id}",
                code="illegal_transition",
            )
        # An award implies a pass, whose event may simply not have arrived yet.
        if self.status is not SubmissionStatus.PASSED and self.status not in IN_REVIEW:
            raise Conflict(
                f"submission {self.submission_id} is {self.status.value}; it cannot be awarded",
                code="illegal_transition",
            )
        self.status = SubmissionStatus.AWARDED
        self.award_id = award_id
        return True

    def _current_for_event(self, attempt: int, what: str) -> Attempt | None:
        if self.status is SubmissionStatus.DRAFT:
            raise Conflict(
                f"{what} for submission {self.submission_id}, which was never submitted",
                code="illegal_transition",
            )
        if attempt != self.attempt:
            return None
        return self.current_attempt()


@dataclass(frozen=True)
class Shortfall:
    requirement_key: str
    min_count: int
    uploaded: int

    def as_details(self) -> dict[str, object]:
        return {"requirement_key": self.requirement_key, "min_count": self.min_count, "uploaded": self.uploaded}


def missing_requirements(criteria: SubmissionCriteria, evidence: Iterable[Evidence]) -> list[Shortfall]:
    """Required evidence with fewer uploaded items than its ``min_count``, in the credential's order.

    Optional requirements are never short, whatever their ``min_count``.
    """
    uploaded: dict[str, int] = {}
    for item in evidence:
        if item.status is EvidenceStatus.UPLOADED:
            uploaded[item.requirement_key] = uploaded.get(item.requirement_key, 0) + 1
    return [
        Shortfall(item.key, item.min_count, uploaded.get(item.key, 0))
        for item in criteria.items
        if item.required and uploaded.get(item.key, 0) < item.min_count
    ]


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(filename: str, max_length: int = 120) -> str:
    """A filename usable in an object key: no path, no separators or control characters, not hidden."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip("._") or "file"
    if len(cleaned) > max_length:
        stem, dot, suffix = cleaned.rpartition(".")
        if dot and 0 < len(suffix) <= 16:
            cleaned = stem[: max_length - len(suffix) - 1] + "." + suffix
        else:
            cleaned = cleaned[:max_length]
    return cleaned


def evidence_object_key(submission_id: UUID, evidence_id: UUID, filename: str) -> str:
    return f"submissions/{submission_id}/{evidence_id}/{safe_filename(filename)}"
