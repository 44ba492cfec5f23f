"""Submission rules: the lifecycle of a teacher's submission, and when its evidence is complete.

Lifecycle (one submission, several attempts)::

    draft --submit--> submitted --assign--> under_review --revise--> revise_requested --submit--> submitted ...
                                                         --pass----> passed --award--> awarded

    draft | submitted | under_review | revise_requested --withdraw--> withdrawn (final)

Evidence may change only in ``draft`` and ``revise_requested``: what an attempt submitted is what its
reviewer sees. Review outcomes arrive as events on separate topics (review.assigned, review.scored,
review.revise-requested, award.awarded), and Kafka orders messages only within a topic. So an outcome
may overtake the assignment that preceded it: the review methods accept an outcome straight from
``submitted``, and treat an event that the submission has already moved past as a no-op (they return
False). Events about an earlier attempt are stale and change nothing. What remains illegal (a pass
after a revision request for the same attempt, an assignment before any submission) raises Conflict.

Reviewer access: a reviewer reads the current attempt (its blind view and evidence) while the review is
open and they hold a seat of its panel (primary, second or adjudicator). review.released (a decline, or
overdue work taken back) ends it at once, before anyone else is assigned and whichever of the release
and the assignment it undoes arrives first (:class:`Attempt`).

Starting: a new submission binds to the latest published version that is not retired, and only if
the teacher has earned every prerequisite the catalog's active pathways name for the credential.
A submission already bound to a version keeps it for good, retired or not.

Evidence: each item answers one requirement of the bound version, within its limits (accepted
content types, maximum size, maximum count, video duration). The declaration is a claim; an item
counts only once what actually landed in the object store was verified against it (size, sha256, the
content type sniffed from the bytes, the duration measured from the video). A failed verification
rejects the item for good (its bytes are deleted) and the teacher declares a new one. Captions are an item
of their own beside the video they caption (``captions_for``): a WebVTT file of the same requirement, checked
as captions (the bytes start with ``WEBVTT``, at most :data:`CAPTIONS_MAX_BYTES`) instead of against the
requirement's limits, and never counted towards its files. Withdrawn items
stay on record but no longer count, so a teacher can replace an item where the maximum is reached;
bytes an earlier attempt submitted are kept (its reviewer assessed them), other withdrawn bytes are
deleted. Every item records when its stored bytes were removed (``removed_at``), whatever the reason:
the retention sweep purges what remains once the decision is final, and the rows, attempts, feedback
and award id stay as the audit trail.

Sealing: every upload URL is signed for the item's upload key (``object_key``) and stays valid for
minutes after the item is verified. What is verified, and what reviewers, events and downloads read,
is bytes no URL can reach any more (``verified_key``). For a single PUT, whose URL could replace the
bytes, that is a server-side copy under a key no URL was ever issued for, unique per verification so
that two concurrent completions cannot overwrite each other's copy; the upload key is garbage once
the item is sealed. For a multipart upload it is the upload key itself: the store refuses every part
once the upload is completed, and no other URL exists for that key. Single uploads verified before
sealing existed were verified in place; they read their upload key until the sweep seals them
(copying and re-hashing, so a copy that is not the verified bytes is caught).

Written responses: each prompt of a requirement is answered in text. Submitting needs every prompt
of every required requirement answered, beside enough verified evidence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from microcred.events import (
    CriterionFeedback,
    EvidenceKind,
    EvidenceRequirement,
    PathwayStep,
    PromptResponse,
    SubmissionCriteria,
)
from microcred.runtime.errors import Conflict, Invalid, NotFound


class SubmissionStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    REVISE_REQUESTED = "revise_requested"
    PASSED = "passed"
    AWARDED = "awarded"
    WITHDRAWN = "withdrawn"


EDITABLE = frozenset({SubmissionStatus.DRAFT, SubmissionStatus.REVISE_REQUESTED})
WITHDRAWABLE = frozenset({
    SubmissionStatus.DRAFT, SubmissionStatus.SUBMITTED, SubmissionStatus.UNDER_REVIEW, SubmissionStatus.REVISE_REQUESTED,
})
# The decision is final: the retention period of the evidence runs from here.
FINAL = frozenset({SubmissionStatus.AWARDED, SubmissionStatus.WITHDRAWN})
# Review is running for the current attempt: an outcome event may apply.
IN_REVIEW = frozenset({SubmissionStatus.SUBMITTED, SubmissionStatus.UNDER_REVIEW})


class EvidenceStatus(StrEnum):
    PENDING = "pending"  # declared, bytes not (yet) verified
    UPLOADED = "uploaded"  # verified: counts towards the next attempt
    REJECTED = "rejected"  # verification failed; bytes deleted
    WITHDRAWN = "withdrawn"  # the teacher took it out
    ABANDONED = "abandoned"  # never completed; the orphan sweep removed the upload
    PURGED = "purged"  # bytes deleted by the retention policy after a final decision


@dataclass(frozen=True)
class PublishedCredential:
    """What this service keeps of a published credential version: enough to check evidence."""

    credential_id: UUID
    version: int
    name: str
    submission_criteria: SubmissionCriteria
    retired: bool = False
    max_attempts: int | None = None  # None: a teacher may resubmit as often as revisions are requested

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
        # The body names it: the request's fault (422), not a missing resource at the path.
        raise Invalid(f"credential {credential_id} is not a published credential", code="credential_not_found")
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


# -- uploads -------------------------------------------------------------------------------------

# S3 refuses parts under 5 MiB (except the last) and more than 10,000 parts.
MIN_PART_BYTES = 5 * 1024**2
MAX_PARTS = 10_000

# Captions of a video (issue 20, point 8): WebVTT, the format browsers play in a <track>. A lesson's captions
# run to tens of kilobytes; the limit keeps them a text file a page can load whole.
CAPTIONS_TYPE = "text/vtt"
CAPTIONS_MAX_BYTES = 1024**2
MAX_CAPTIONS_PER_VIDEO = 4  # a track per language is plenty for one lesson


def ensure_captions_fit(content_type: str, size_bytes: int) -> None:
    if media_type(content_type) != CAPTIONS_TYPE:
        raise Invalid(
            f"captions must be a WebVTT file ({CAPTIONS_TYPE}), not {content_type}",
            code="captions_not_webvtt",
            details={"accepted_content_types": [CAPTIONS_TYPE]},
        )
    if size_bytes > CAPTIONS_MAX_BYTES:
        raise Invalid(
            f"captions may be at most {CAPTIONS_MAX_BYTES} bytes, {size_bytes} were declared",
            code="evidence_too_large",
            details={"max_bytes": CAPTIONS_MAX_BYTES},
        )


class UploadMode(StrEnum):
    SINGLE = "single"
    MULTIPART = "multipart"


@dataclass(frozen=True)
class UploadPlan:
    mode: UploadMode
    part_size: int | None = None
    part_count: int | None = None


def plan_upload(size_bytes: int, *, single_max_bytes: int, part_size_bytes: int) -> UploadPlan:
    """One presigned PUT up to ``single_max_bytes``; above it, parts of ``part_size_bytes`` (grown when
    the file would need more parts than S3 allows)."""
    if size_bytes <= single_max_bytes:
        return UploadPlan(UploadMode.SINGLE)
    part_size = max(part_size_bytes, MIN_PART_BYTES, math.ceil(size_bytes / MAX_PARTS))
    return UploadPlan(UploadMode.MULTIPART, part_size, math.ceil(size_bytes / part_size))


def missing_parts(part_count: int, uploaded: Iterable[int]) -> list[int]:
    present = set(uploaded)
    return [n for n in range(1, part_count + 1) if n not in present]


# -- what landed ---------------------------------------------------------------------------------

# Text has no magic bytes: these declared types are believed when the bytes decode as UTF-8.
TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/csv", "application/json"})
OCTET_STREAM = "application/octet-stream"
# Office and e-book formats are zip archives; a sniffer that stops at the zip header says so.
ZIP_BASED = frozenset({
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/epub+zip",
})
# Families a sniffer recognises by their bytes: a declaration in one of them must be borne out.
SNIFFABLE_FAMILIES = frozenset({"video", "audio", "image", "text"})
RECOGNISED_BINARY = ZIP_BASED | {"application/pdf", "application/zip", "application/msword", "application/rtf"}


def content_family(content_type: str) -> str:
    """``video/mp4`` and ``video/quicktime`` are one family (the same camera writes either); text types
    are one family; any other application type is its own family."""
    declared = media_type(content_type)
    top = declared.split("/", 1)[0]
    if declared in TEXT_TYPES or top == "text":
        return "text"
    if top in ("video", "audio", "image"):
        return top
    return declared


@dataclass(frozen=True)
class MediaInfo:
    """What a media tool read from the container: the numbers a requirement can check."""

    duration_seconds: float | None
    width: int | None = None
    height: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    container: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "duration_seconds": self.duration_seconds, "width": self.width, "height": self.height,
            "video_codec": self.video_codec, "audio_codec": self.audio_codec, "container": self.container,
        }


@dataclass(frozen=True)
class UploadFacts:
    """Measured from the stored object, never taken from the client."""

    size: int
    sha256: str
    etag: str
    sniffed_content_type: str | None  # None: bytes no sniffer recognises
    media: MediaInfo | None = None  # None: not a video, or no decoder could read it
    media_probed: bool = False
    # Where these facts were measured: the sealed copy of a single upload, or a completed multipart
    # upload's own key; None when the upload's size already disagreed and nothing was measured.
    sealed_key: str | None = None


def effective_content_type(declared: str, sniffed: str | None) -> str:
    """The type the evidence is recorded and sent under: the sniffed one when the bytes say anything."""
    declared_type = media_type(declared)
    if sniffed is None:
        return declared_type
    if sniffed == "application/zip" and declared_type in ZIP_BASED:
        return declared_type
    return sniffed


def check_content_type(requirement: EvidenceRequirement, declared: str, sniffed: str | None) -> str:
    """The recorded type, or Invalid ``content_type_mismatch`` when the bytes contradict the claim."""
    declared_type = media_type(declared)
    effective = effective_content_type(declared, sniffed)
    what = sniffed or "not recognisable as any known type"
    contradicts = False
    if declared_type != OCTET_STREAM:
        if sniffed is None:
            # Only a type the sniffer recognises can be contradicted by its silence.
            contradicts = content_family(declared_type) in SNIFFABLE_FAMILIES or declared_type in RECOGNISED_BINARY
        else:
            contradicts = content_family(effective) != content_family(declared_type)
    if contradicts:
        bytes_are = f"the bytes are {sniffed}" if sniffed else "the bytes are not recognisable as any known type"
        raise Invalid(
            f"declared {declared_type} but {bytes_are}",
            code="content_type_mismatch",
            details={"declared": declared_type, "sniffed": sniffed},
        )
    if requirement.kind is EvidenceKind.VIDEO and content_family(effective) != "video":
        raise Invalid(
            f"{requirement.title} must be a video, but the bytes are {what}",
            code="content_type_mismatch",
            details={"declared": declared_type, "sniffed": sniffed},
        )
    if not accepts_content_type(requirement, effective):
        raise Invalid(
            f"{requirement.title} accepts {', '.join(requirement.accepted_content_types)}, but the bytes are {what}",
            code="content_type_mismatch",
            details={"declared": declared_type, "sniffed": sniffed,
                     "accepted_content_types": list(requirement.accepted_content_types)},
        )
    return effective


def check_duration(requirement: EvidenceRequirement, media: MediaInfo | None) -> None:
    low, high = requirement.min_duration_seconds, requirement.max_duration_seconds
    if low is None and high is None:
        return
    duration = None if media is None else media.duration_seconds
    if duration is None:
        raise Invalid(
            f"{requirement.title} must last {_range(low, high)}, but the video's duration cannot be read",
            code="media_unreadable",
        )
    if (low is not None and duration < low) or (high is not None and duration > high):
        raise Invalid(
            f"{requirement.title} must last {_range(low, high)}; this video lasts {duration:.1f} s",
            code="duration_out_of_range",
            details={"duration_seconds": round(duration, 3), "min_duration_seconds": low,
                     "max_duration_seconds": high},
        )


def _range(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"between {low} and {high} s"
    return f"at least {low} s" if low is not None else f"at most {high} s"


@dataclass
class Evidence:
    evidence_id: UUID
    requirement_key: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    # The upload key: every upload URL (the single PUT, each part) is signed for it.
    object_key: str
    status: EvidenceStatus = EvidenceStatus.PENDING
    # The ETag of the verified bytes where they are read (``stored_key``): submit checks the store
    # still holds exactly that object before a reviewer is given it.
    etag: str | None = None
    uploaded_at: datetime | None = None
    registered_at: datetime | None = None
    upload_mode: UploadMode = UploadMode.SINGLE
    upload_id: str | None = None
    part_size: int | None = None
    part_count: int | None = None
    sniffed_content_type: str | None = None
    duration_seconds: float | None = None
    media: dict[str, Any] | None = None
    rejection: dict[str, Any] | None = None
    # The first attempt that sent this item to a reviewer; its bytes are then part of the record.
    submitted_in: int | None = None
    removed_at: datetime | None = None
    # Where the verified bytes are, out of every URL's reach: a sealed copy, or ``object_key`` itself for
    # a completed multipart upload. None until verified, and for single uploads verified in place before
    # sealing existed (see the module docstring).
    verified_key: str | None = None
    # The video (an item of the same submission) these are the captions of; None for every other item.
    captions_for: UUID | None = None

    @property
    def is_captions(self) -> bool:
        return self.captions_for is not None

    def counts(self) -> bool:
        """Registered towards its requirement's files: captions ride along with their video instead."""
        return self.captions_for is None and self.status in (EvidenceStatus.PENDING, EvidenceStatus.UPLOADED)

    @property
    def recorded_content_type(self) -> str:
        return effective_content_type(self.content_type, self.sniffed_content_type)

    @property
    def stored_key(self) -> str:
        """Where this item's bytes are read: the sealed copy, else the upload key."""
        return self.verified_key or self.object_key

    def holds_object(self) -> bool:
        """The store may hold bytes (or an unfinished multipart upload) for this item."""
        return self.removed_at is None and self.status is not EvidenceStatus.REJECTED

    def needs_upload_key(self) -> bool:
        """Bytes at the upload key may still be wanted: an upload under way, bytes verified there, or a
        completed multipart upload's. Otherwise whatever sits there (a PUT through a still-valid URL
        after sealing) is garbage."""
        return self.verified_key in (None, self.object_key) and self.holds_object()

    def verified_in_place(self) -> bool:
        """Verified before sealing existed, bytes still held: the sweep seals it."""
        return self.uploaded_at is not None and self.verified_key is None and self.removed_at is None

    def ensure_pending(self) -> None:
        if self.status is not EvidenceStatus.PENDING:
            raise Conflict(
                f"evidence {self.evidence_id} is {self.status.value}, not waiting for an upload; "
                "declare a new item to upload another file",
                code="evidence_not_pending",
                details={"status": self.status.value},
            )

    def ensure_multipart(self) -> None:
        if self.upload_mode is not UploadMode.MULTIPART or self.part_count is None:
            raise Conflict(
                f"evidence {self.evidence_id} is uploaded with one PUT, not in parts", code="not_multipart"
            )

    def check_part_numbers(self, part_numbers: Iterable[int]) -> list[int]:
        self.ensure_multipart()
        assert self.part_count is not None
        wanted = sorted(set(part_numbers))
        unknown = [n for n in wanted if not 1 <= n <= self.part_count]
        if unknown or not wanted:
            raise Invalid(
                f"part numbers run from 1 to {self.part_count}",
                code="unknown_part",
                details={"unknown": unknown, "part_count": self.part_count},
            )
        return wanted

    def verify(self, requirement: EvidenceRequirement, facts: UploadFacts, now: datetime) -> None:
        """Accept the stored bytes, or raise Invalid with the first way they contradict the declaration."""
        if facts.size != self.size_bytes:
            raise Invalid(
                f"the stored object has {facts.size} bytes but {self.size_bytes} were declared",
                code="size_mismatch",
                details={"declared": self.size_bytes, "stored": facts.size},
            )
        if facts.sha256 != self.sha256:
            raise Invalid(
                "the sha256 of the stored object differs from the declared one",
                code="sha256_mismatch",
                details={"declared": self.sha256, "stored": facts.sha256},
            )
        if self.is_captions:
            # The requirement's limits are the video's; captions answer to the captions format alone.
            if facts.sniffed_content_type != CAPTIONS_TYPE:
                raise Invalid(
                    "captions must be a WebVTT file, whose first line is WEBVTT; these bytes are "
                    f"{facts.sniffed_content_type or 'not recognisable as any known type'}",
                    code="captions_not_webvtt",
                    details={"sniffed": facts.sniffed_content_type},
                )
            recorded = CAPTIONS_TYPE
        else:
            recorded = check_content_type(requirement, self.content_type, facts.sniffed_content_type)
        if content_family(recorded) == "video" and facts.media_probed and facts.media is None:
            raise Invalid(
                f"the bytes look like {recorded} but no decoder could read them",
                code="media_unreadable",
                details={"sniffed": facts.sniffed_content_type},
            )
        if not self.is_captions:
            check_duration(requirement, facts.media)
        # A matching size means the bytes were sealed before they were measured.
        assert facts.sealed_key is not None, "verified facts come from sealed bytes"
        self.sniffed_content_type = facts.sniffed_content_type
        if facts.media is not None:
            self.duration_seconds = facts.media.duration_seconds
            self.media = facts.media.as_dict()
        self.status = EvidenceStatus.UPLOADED
        self.etag = facts.etag
        self.uploaded_at = now
        self.verified_key = facts.sealed_key

    def seal(self, facts: UploadFacts) -> None:
        """Read an item verified in place from now on from its sealed copy, or raise Invalid
        ``changed_after_verification`` when the copy is not the bytes that were verified."""
        if facts.size != self.size_bytes or facts.sha256 != self.sha256:
            raise Invalid(
                "the stored bytes are not the ones verified: they changed after verification",
                code="changed_after_verification",
                details={"verified_sha256": self.sha256, "stored_sha256": facts.sha256 or None,
                         "verified_size": self.size_bytes, "stored_size": facts.size},
            )
        assert facts.sealed_key is not None, "a matching size means the bytes were copied"
        self.verified_key = facts.sealed_key
        self.etag = facts.etag

    def reject(self, refusal: Invalid, now: datetime) -> None:
        """Verification failed: the bytes were deleted and this item will never count."""
        self.status = EvidenceStatus.REJECTED
        self.rejection = {"code": refusal.code, "message": refusal.message}
        self.removed_at = now

    def abandon(self, now: datetime) -> None:
        self.status = EvidenceStatus.ABANDONED
        self.removed_at = now

    def purge(self, now: datetime) -> None:
        if self.status in (EvidenceStatus.UPLOADED, EvidenceStatus.WITHDRAWN):
            self.status = EvidenceStatus.PURGED
        elif self.status is EvidenceStatus.PENDING:
            self.status = EvidenceStatus.ABANDONED
        self.removed_at = now


@dataclass(frozen=True)
class Answer:
    requirement_key: str
    prompt_index: int
    answer: str


@dataclass(frozen=True)
class UnansweredPrompt:
    requirement_key: str
    prompt_index: int
    prompt: str

    def as_details(self) -> dict[str, object]:
        return {"requirement_key": self.requirement_key, "prompt_index": self.prompt_index, "prompt": self.prompt}


def unanswered_prompts(criteria: SubmissionCriteria, responses: Mapping[tuple[str, int], str]) -> list[UnansweredPrompt]:
    """Prompts of required requirements without a non-blank answer, in the credential's order."""
    return [
        UnansweredPrompt(item.key, index, prompt)
        for item in criteria.items
        if item.required
        for index, prompt in enumerate(item.prompts)
        if not responses.get((item.key, index), "").strip()
    ]


SeatRole = Literal["primary", "second", "adjudicator"]


@dataclass(frozen=True)
class Seat:
    """One reviewer on one seat of an attempt's panel. ``role`` None: a seat recorded before seats had
    roles here (migration 0005), which any release of that reviewer from the attempt ends."""

    role: SeatRole | None
    reviewer_id: str


@dataclass
class Attempt:
    """One submitted attempt and who may review it.

    Access is two grow-only sets: the seats assigned and the seats released. A reviewer may read the
    attempt while they hold an assigned seat that was not released. Review never gives a released
    reviewer the same seat again, so a release is final for its seat, and sets make every delivery order
    of review.assigned and review.released (different topics) end in the same access: a release handled
    before the assignment it undoes is already there when the assignment arrives.
    """

    number: int
    submitted_at: datetime
    # The latest assignment, as a record; access is decided by the seats.
    reviewer_id: str | None = None
    feedback: tuple[CriterionFeedback, ...] = ()
    feedback_received_at: datetime | None = None
    assigned_seats: frozenset[Seat] = frozenset()
    released_seats: frozenset[Seat] = frozenset()
    # The latest due time among the attempt's assignments: the decision date the teacher is shown.
    expected_decision_at: datetime | None = None
    # What the teacher tells the reviewer with this attempt (what changed since the feedback), as typed.
    note_to_reviewer: str | None = None

    def seated(self, reviewer_id: str) -> bool:
        """Whether ``reviewer_id`` holds a seat of this attempt's panel now."""
        released = {seat.role for seat in self.released_seats if seat.reviewer_id == reviewer_id}
        return any(
            seat.reviewer_id == reviewer_id and (seat.role not in released if seat.role else not released)
            for seat in self.assigned_seats
        )


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
    # The teacher's affiliations from their token, passed to review for conflict-of-interest routing.
    teacher_district: str | None = None
    teacher_school: str | None = None
    attempt: int = 1
    attempts: list[Attempt] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    award_id: UUID | None = None
    # (requirement key, prompt index) -> the teacher's answer
    responses: dict[tuple[str, int], str] = field(default_factory=dict)
    # When the decision became final (awarded or withdrawn): evidence retention runs from here.
    finalized_at: datetime | None = None
    withdrawal_reason: str | None = None

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
        registered = sum(1 for e in self.evidence if e.requirement_key == requirement.key and e.counts())
        if requirement.max_count is not None and registered >= requirement.max_count:
            raise Invalid(
                f"{requirement.title} takes at most {requirement.max_count} item(s) and {registered} are "
                "registered; withdraw one to replace it",
                code="too_many_items",
                details={"requirement_key": requirement.key, "max_count": requirement.max_count,
                         "registered": registered},
            )
        self.evidence.append(evidence)

    def add_captions(self, captions: Evidence) -> None:
        """Register captions for a video of this submission that is uploaded or uploading, under its requirement."""
        self.ensure_evidence_editable()
        video = self.find_evidence(captions.captions_for) if captions.captions_for else None
        if (video is None or video.is_captions or video.status not in (EvidenceStatus.PENDING, EvidenceStatus.UPLOADED)
                or content_family(video.recorded_content_type) != "video"):
            raise Invalid(
                f"captions_for must name a video of submission {self.submission_id} that is uploaded or uploading",
                code="captions_target_invalid",
                details={"captions_for": str(captions.captions_for)},
            )
        if captions.requirement_key != video.requirement_key:
            raise Invalid(
                f"captions belong to their video's requirement, {video.requirement_key}",
                code="captions_target_invalid",
                details={"captions_for": str(video.evidence_id), "requirement_key": video.requirement_key},
            )
        tracks = sum(1 for e in self.evidence if e.captions_for == video.evidence_id
                     and e.status in (EvidenceStatus.PENDING, EvidenceStatus.UPLOADED))
        if tracks >= MAX_CAPTIONS_PER_VIDEO:
            raise Invalid(
                f"a video takes at most {MAX_CAPTIONS_PER_VIDEO} captions files; withdraw one to replace it",
                code="too_many_items",
                details={"captions_for": str(video.evidence_id), "max_count": MAX_CAPTIONS_PER_VIDEO},
            )
        self.evidence.append(captions)

    def withdraw_evidence(self, evidence_id: UUID, now: datetime) -> Evidence:
        """Take an item out of the next attempt. Its stored bytes are to be deleted (``removed_at`` is
        set) unless an earlier attempt submitted them: then they are that attempt's record and stay."""
        self.ensure_evidence_editable()
        evidence = self.find_evidence(evidence_id)
        if evidence is None:
            raise NotFound(
                f"evidence {evidence_id} is not part of submission {self.submission_id}", code="evidence_not_found"
            )
        if evidence.status not in (EvidenceStatus.PENDING, EvidenceStatus.UPLOADED):
            raise Conflict(
                f"evidence {evidence_id} is already {evidence.status.value}", code="evidence_not_active",
                details={"status": evidence.status.value},
            )
        evidence.status = EvidenceStatus.WITHDRAWN
        if evidence.submitted_in is None:
            evidence.removed_at = now
        return evidence

    def answer_prompts(self, answers: Iterable[Answer], criteria: SubmissionCriteria) -> None:
        """Set the given answers; a blank answer clears its prompt. Other answers stay as they were."""
        self.ensure_evidence_editable()
        prompts = {item.key: item.prompts for item in criteria.items}
        changes: dict[tuple[str, int], str] = {}
        for answer in answers:
            if answer.requirement_key not in prompts:
                raise Invalid(
                    f"{answer.requirement_key!r} is not an evidence requirement of {self.credential_name}",
                    code="unknown_requirement",
                    details={"requirement_keys": sorted(prompts)},
                )
            count = len(prompts[answer.requirement_key])
            if not 0 <= answer.prompt_index < count:
                raise Invalid(
                    f"{answer.requirement_key} has {count} prompt(s); there is no prompt {answer.prompt_index}",
                    code="unknown_prompt",
                    details={"requirement_key": answer.requirement_key, "prompt_count": count},
                )
            changes[(answer.requirement_key, answer.prompt_index)] = answer.answer
        for key, text in changes.items():
            if text.strip():
                self.responses[key] = text
            else:
                self.responses.pop(key, None)

    def prompt_responses(self, criteria: SubmissionCriteria) -> tuple[PromptResponse, ...]:
        """Every answered prompt with its text, in the credential's order."""
        return tuple(
            PromptResponse(
                requirement_key=item.key, prompt=prompt, prompt_index=index, answer=self.responses[(item.key, index)]
            )
            for item in criteria.items
            for index, prompt in enumerate(item.prompts)
            if self.responses.get((item.key, index), "").strip()
        )

    def withdraw(self, reason: str | None, now: datetime) -> None:
        if self.status not in WITHDRAWABLE:
            raise Conflict(
                f"submission {self.submission_id} is {self.status.value}; only a draft or a submission "
                "still under way can be withdrawn",
                code="not_withdrawable",
                details={"status": self.status.value},
            )
        self.status = SubmissionStatus.WITHDRAWN
        self.withdrawal_reason = reason
        self.finalized_at = now

    def is_final_since(self, cutoff: datetime) -> bool:
        return self.status in FINAL and self.finalized_at is not None and self.finalized_at <= cutoff

    def retention_due(self, now: datetime, retention: timedelta) -> list[Evidence]:
        """Items whose stored bytes the retention policy deletes now."""
        if not self.is_final_since(now - retention):
            return []
        return [e for e in self.evidence if e.holds_object()]

    def find_evidence(self, evidence_id: UUID) -> Evidence | None:
        return next((e for e in self.evidence if e.evidence_id == evidence_id), None)

    def uploaded_evidence(self) -> list[Evidence]:
        return [e for e in self.evidence if e.status is EvidenceStatus.UPLOADED]

    def submit(self, criteria: SubmissionCriteria, now: datetime, max_attempts: int | None = None,
               note_to_reviewer: str | None = None) -> Attempt:
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
                details={"status": self.status.value},
            )
        if max_attempts is not None and number > max_attempts:
            raise Conflict(
                f"{self.credential_name} allows {max_attempts} attempt(s) and all were used",
                code="max_attempts_reached",
                details={"max_attempts": max_attempts, "attempts": self.attempt},
            )
        short = missing_requirements(criteria, self.evidence)
        unanswered = unanswered_prompts(criteria, self.responses)
        if short or unanswered:
            missing = [f"{s.requirement_key} ({s.uploaded} of {s.min_count} files)" for s in short]
            missing += [f"{p.requirement_key} prompt {p.prompt_index + 1} unanswered" for p in unanswered]
            raise Invalid(
                "the submission is not complete: " + ", ".join(missing),
                code="incomplete",
                details=[s.as_details() for s in short] + [p.as_details() for p in unanswered],
            )
        if not self.uploaded_evidence():
            # A credential whose every requirement is optional still needs something to review: the submitted
            # event carries at least one file, and a reviewer scores evidence, not an empty attempt.
            raise Invalid(
                "the submission is not complete: upload at least one file of evidence",
                code="incomplete",
                details=[{"requirement_key": None, "uploaded": 0, "min_count": 1}],
            )
        for evidence in self.uploaded_evidence():
            if evidence.submitted_in is None:
                evidence.submitted_in = number
        attempt = Attempt(number=number, submitted_at=now, note_to_reviewer=(note_to_reviewer or "").strip() or None)
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
        """A reviewer holding a seat of the current attempt's panel, while that review is open."""
        current = self.current_attempt()
        return self.status is SubmissionStatus.UNDER_REVIEW and current is not None and current.seated(reviewer_id)

    def assign_reviewer(
        self, attempt: int, reviewer_id: str, due_at: datetime | None = None, replaces: str | None = None,
        *, role: SeatRole = "primary",
    ) -> bool:
        """``replaces``: who held this seat before (the assignment's ``reassigned_from``), released by it."""
        current = self._current_for_event(attempt, "a reviewer assignment")
        if current is None or self.status not in IN_REVIEW:
            return False  # stale, or the review already concluded (its outcome arrived first)
        current.reviewer_id = reviewer_id
        current.assigned_seats = current.assigned_seats | {Seat(role, reviewer_id)}
        if replaces is not None:
            current.released_seats = current.released_seats | {Seat(role, replaces)}
        if due_at is not None and (current.expected_decision_at is None or due_at > current.expected_decision_at):
            current.expected_decision_at = due_at
        self.status = SubmissionStatus.UNDER_REVIEW
        return True

    def release_reviewer(self, attempt: int, reviewer_id: str, role: SeatRole) -> bool:
        """The reviewer gave the seat back: from now on they may not read this attempt, whatever the order
        in which the assignment it undoes arrives (see :class:`Attempt`)."""
        current = self._current_for_event(attempt, "a reviewer release")
        if current is None or self.status not in IN_REVIEW:
            return False  # stale, or the review concluded: nobody reads the attempt any more
        seat = Seat(role, reviewer_id)
        if seat in current.released_seats:
            return False
        current.released_seats = current.released_seats | {seat}
        return True

    def request_revision(self, attempt: int, feedback: Iterable[CriterionFeedback], now: datetime) -> bool:
        current = self._current_for_event(attempt, "a revision request")
        if current is None or self.status in (SubmissionStatus.REVISE_REQUESTED, SubmissionStatus.WITHDRAWN):
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
        if current is None or self.status in (
            SubmissionStatus.PASSED, SubmissionStatus.AWARDED, SubmissionStatus.WITHDRAWN
        ):
            return False
        if self.status not in IN_REVIEW:
            raise Conflict(
                f"submission {self.submission_id} attempt {attempt} is {self.status.value}; it cannot pass",
                code="illegal_transition",
            )
        self.status = SubmissionStatus.PASSED
        return True

    def record_award(self, award_id: UUID, now: datetime) -> bool:
        if self.status is SubmissionStatus.WITHDRAWN:
            # A review that concluded while the withdrawal travelled: the award exists (another service
            # issued it), so it is recorded, but the teacher's withdrawal stands.
            if self.award_id is not None:
                return False
            self.award_id = award_id
            return True
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
        self.finalized_at = now
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
        if item.status is EvidenceStatus.UPLOADED and not item.is_captions:
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


# Upload URLs are only ever signed for keys under UPLOAD_PREFIX; sealed copies live under VERIFIED_PREFIX,
# so one listing of the first finds every upload in flight and everything left behind after sealing.
UPLOAD_PREFIX = "submissions/"
VERIFIED_PREFIX = "verified/"


def evidence_object_key(submission_id: UUID, evidence_id: UUID, filename: str) -> str:
    return f"{UPLOAD_PREFIX}{submission_id}/{evidence_id}/{safe_filename(filename)}"


def verified_prefix(submission_id: UUID, evidence_id: UUID) -> str:
    """Every sealed copy of the item is under this prefix (a crashed completion may leave one more)."""
    return f"{VERIFIED_PREFIX}{submission_id}/{evidence_id}/"


def verified_object_key(submission_id: UUID, evidence_id: UUID, copy_id: UUID, filename: str) -> str:
    """A key for one sealed copy; ``copy_id`` is new for each verification, so no two share a key."""
    return f"{verified_prefix(submission_id, evidence_id)}{copy_id.hex}/{safe_filename(filename)}"

