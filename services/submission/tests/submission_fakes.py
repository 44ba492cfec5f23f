"""Fakes for the submission use cases: an in-memory unit of work and object store.

The fake unit of work keeps the real one's contract: changes become visible only on ``commit()``,
``claim`` returns False for an event already processed, and published events land in an outbox list
only when the transaction commits.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from microcred.events import IntegrationEvent, SubmissionCriteria
from microcred.submission.domain.model import (
    FINAL,
    EvidenceStatus,
    MediaInfo,
    Pathway,
    PublishedCredential,
    Submission,
)

CRITERIA = SubmissionCriteria.model_validate(
    {
        "items": [
            {"key": "classroom-video", "kind": "video", "title": "Video of the lesson"},
            {"key": "reflection", "kind": "reflection", "title": "Reflection"},
            {"key": "student-work", "kind": "student_work", "title": "Student work", "required": False},
        ]
    }
)


@dataclass
class State:
    credentials: dict[tuple[UUID, int], PublishedCredential] = field(default_factory=dict)
    retired: set[tuple[UUID, int]] = field(default_factory=set)
    pathways: dict[UUID, Pathway] = field(default_factory=dict)
    earned: set[tuple[str, UUID]] = field(default_factory=set)
    submissions: dict[UUID, Submission] = field(default_factory=dict)
    inbox: set[tuple[str, UUID]] = field(default_factory=set)
    outbox: list[IntegrationEvent] = field(default_factory=list)


class FakeCredentials:
    def __init__(self, state: State) -> None:
        self.state = state

    async def add(self, credential: PublishedCredential, published_at: datetime) -> None:
        self.state.credentials.setdefault((credential.credential_id, credential.version), credential)

    async def retire(self, credential_id: UUID, version: int, reason: str, retired_at: datetime) -> None:
        self.state.retired.add((credential_id, version))

    def _marked(self, credential: PublishedCredential) -> PublishedCredential:
        return replace(credential, retired=(credential.credential_id, credential.version) in self.state.retired)

    async def bound_version(self, credential_id: UUID, version: int) -> PublishedCredential | None:
        # As the repository's: the version's content, whatever its retirement.
        return self.state.credentials.get((credential_id, version))

    async def versions(self, credential_id: UUID) -> list[PublishedCredential]:
        found = [self._marked(c) for (cid, _), c in self.state.credentials.items() if cid == credential_id]
        return sorted(found, key=lambda c: c.version)

    async def names(self, credential_ids: Iterable[UUID]) -> dict[UUID, str]:
        names: dict[UUID, str] = {}
        for (cid, _), c in sorted(self.state.credentials.items()):
            if cid in set(credential_ids):
                names[cid] = c.name
        return names


class FakePathways:
    def __init__(self, state: State) -> None:
        self.state = state

    async def replace_if_newer(self, pathway: Pathway, changed_at: datetime) -> bool:
        current = self.state.pathways.get(pathway.pathway_id)
        if current is not None and current.revision >= pathway.revision:
            return False
        self.state.pathways[pathway.pathway_id] = pathway
        return True

    async def prerequisites_of(self, credential_id: UUID) -> set[UUID]:
        return {
            needed
            for pathway in self.state.pathways.values()
            for credential, needed in pathway.prerequisite_links()
            if credential == credential_id
        }


class FakeEarned:
    def __init__(self, state: State) -> None:
        self.state = state

    async def add(self, teacher_id: str, credential_id: UUID, award_id: UUID, earned_at: datetime) -> None:
        self.state.earned.add((teacher_id, credential_id))

    async def among(self, teacher_id: str, credential_ids: Iterable[UUID]) -> set[UUID]:
        return {c for c in credential_ids if (teacher_id, c) in self.state.earned}


class FakeSubmissions:
    def __init__(self, state: State) -> None:
        self.state = state

    async def get(self, submission_id: UUID, *, for_update: bool = False) -> Submission | None:
        return self.state.submissions.get(submission_id)

    async def list_recent(self, *, teacher_id: str | None, limit: int, offset: int) -> list[Submission]:
        found = [s for s in self.state.submissions.values() if teacher_id is None or s.teacher_id == teacher_id]
        return found[offset : offset + limit]

    async def add(self, submission: Submission) -> None:
        self.state.submissions[submission.submission_id] = submission

    async def save(self, submission: Submission) -> None:
        self.state.submissions[submission.submission_id] = submission

    async def final_with_stored_evidence(self, cutoff: datetime, limit: int) -> list[UUID]:
        return [
            s.submission_id for s in self.state.submissions.values()
            if s.status in FINAL and s.finalized_at is not None and s.finalized_at <= cutoff
            and any(e.holds_object() for e in s.evidence)
        ][:limit]

    async def pending_uploads_before(self, cutoff: datetime, limit: int) -> list[tuple[UUID, UUID]]:
        return [
            (s.submission_id, e.evidence_id) for s in self.state.submissions.values() for e in s.evidence
            if e.status is EvidenceStatus.PENDING and e.registered_at is not None and e.registered_at <= cutoff
        ][:limit]

    async def pending_upload_ids(self, upload_ids: Iterable[str]) -> set[str]:
        wanted = set(upload_ids)
        return {
            e.upload_id for s in self.state.submissions.values() for e in s.evidence
            if e.upload_id in wanted and e.status is EvidenceStatus.PENDING and e.upload_id is not None
        }

    async def verified_in_place(self, limit: int) -> list[tuple[UUID, UUID]]:
        return [
            (s.submission_id, e.evidence_id) for s in self.state.submissions.values() for e in s.evidence
            if e.verified_in_place()
        ][:limit]

    async def upload_keys_needed(self, object_keys: Iterable[str]) -> dict[str, bool]:
        wanted = set(object_keys)
        return {
            e.object_key: e.needs_upload_key() for s in self.state.submissions.values() for e in s.evidence
            if e.object_key in wanted
        }


class FakeUnitOfWork:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self.committed = False

    async def __aenter__(self) -> Self:
        self.staged = copy.deepcopy(self.db.state)
        self.pending: list[IntegrationEvent] = []
        self.credentials = FakeCredentials(self.staged)
        self.pathways = FakePathways(self.staged)
        self.earned = FakeEarned(self.staged)
        self.submissions = FakeSubmissions(self.staged)
        self.reading = False
        return self

    async def without_transaction(self) -> None:
        """Nothing to leave out in memory; the real unit of work's refusal to commit after it is kept."""
        self.reading = True

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def claim(self, consumer: str, event_id: UUID) -> bool:
        if (consumer, event_id) in self.staged.inbox:
            return False
        self.staged.inbox.add((consumer, event_id))
        return True

    def publish(self, *events: IntegrationEvent) -> None:
        self.pending.extend(events)

    async def commit(self) -> None:
        if self.reading:
            raise RuntimeError("a unit of work reading without a transaction cannot commit")
        self.staged.outbox.extend(self.pending)
        self.db.state = self.staged
        self.db.commits += 1
        self.committed = True


@dataclass
class FakeDatabase:
    state: State = field(default_factory=State)
    commits: int = 0

    def uow(self) -> Any:
        return FakeUnitOfWork(self)


@dataclass(frozen=True)
class Stored:
    size: int
    etag: str


@dataclass(frozen=True)
class StoredPart:
    part_number: int
    size: int
    etag: str


@dataclass(frozen=True)
class Inspection:
    sha256: str
    head: bytes
    text: bool
    content: bytes | None = None


@dataclass(frozen=True)
class Reading:
    size: int
    etag: str
    inspection: Inspection | None
    content_type: str | None = None


@dataclass(frozen=True)
class ListedObject:
    object_key: str
    last_modified: datetime | None


@dataclass(frozen=True)
class OpenUpload:
    object_key: str
    upload_id: str
    initiated_at: datetime | None


def _etag(content: bytes) -> str:
    return hashlib.md5(content).hexdigest()  # noqa: S324 - an ETag, not security


class FakeStore:
    """Objects and multipart uploads in memory; URLs are fake but name the key, so a test can 'upload' to them."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.modified: dict[str, datetime] = {}
        # upload id -> (object key, {part number: bytes}, initiated at)
        self.uploads: dict[str, tuple[str, dict[int, bytes], datetime]] = {}
        self.removed: list[str] = []
        # Keys given to remove_soon, until remove_queued removes them (as EvidenceStore's batch, every few seconds).
        self.queued: list[str] = []
        self.aborted: list[str] = []
        # As EvidenceStore: an item up to this size is sealed by writing the bytes read, a larger one by a copy.
        self.keep_max_bytes = 1024**2

    def put(self, object_key: str, content: bytes, at: datetime | None = None) -> None:
        self.objects[object_key] = content
        self.modified[object_key] = at or datetime.now(UTC)

    def put_part(self, upload_id: str, part_number: int, content: bytes) -> None:
        self.uploads[upload_id][1][part_number] = content

    async def upload_url(self, object_key: str, ttl_seconds: int) -> str:
        return f"https://s3.example/evidence/{object_key}?X-Amz-Expires={ttl_seconds}"

    async def part_urls(self, object_key: str, upload_id: str, part_numbers: list[int], ttl_seconds: int) -> dict[int, str]:
        return {
            n: f"https://s3.example/evidence/{object_key}?partNumber={n}&uploadId={upload_id}&X-Amz-Expires={ttl_seconds}"
            for n in part_numbers
        }

    async def download_url(self, object_key: str, ttl_seconds: int, filename: str) -> str:
        return f"https://s3.example/evidence/{object_key}?X-Amz-Expires={ttl_seconds}&get"

    async def start_multipart(self, object_key: str, content_type: str) -> str:
        upload_id = f"upload-{len(self.uploads) + 1}"
        self.uploads[upload_id] = (object_key, {}, datetime.now(UTC))
        return upload_id

    async def list_parts(self, object_key: str, upload_id: str) -> list[StoredPart] | None:
        if upload_id not in self.uploads:
            return None
        parts = self.uploads[upload_id][1]
        return [StoredPart(n, len(parts[n]), _etag(parts[n])) for n in sorted(parts)]

    async def complete_multipart(self, object_key: str, upload_id: str, parts: Any) -> None:
        _, held, _ = self.uploads.pop(upload_id)
        self.put(object_key, b"".join(held[p.part_number] for p in parts))

    async def abort_multipart(self, object_key: str, upload_id: str) -> None:
        if self.uploads.pop(upload_id, None) is not None:
            self.aborted.append(upload_id)

    async def open_uploads(self, prefix: str) -> list[OpenUpload]:
        return [OpenUpload(key, uid, at) for uid, (key, _, at) in self.uploads.items() if key.startswith(prefix)]

    async def stat(self, object_key: str) -> Stored | None:
        content = self.objects.get(object_key)
        if content is None:
            return None
        return Stored(size=len(content), etag=_etag(content))

    async def inspect(self, object_key: str, size: int | None = None) -> Inspection | None:
        content = self.objects.get(object_key)
        if content is None:
            return None
        try:
            content.decode("utf-8")
            text = b"\x00" not in content
        except UnicodeDecodeError:
            text = False
        return Inspection(hashlib.sha256(content).hexdigest(), content[:8192], text, content)

    async def read_if_size(self, object_key: str, size: int) -> Reading | None:
        content = self.objects.get(object_key)
        if content is None:
            return None
        inspection = await self.inspect(object_key) if len(content) == size else None
        return Reading(len(content), _etag(content), inspection)

    def keeps_bytes_of(self, size: int) -> bool:
        return size <= self.keep_max_bytes

    async def write(self, object_key: str, content: bytes, content_type: str | None) -> str:
        self.put(object_key, content)
        return _etag(content)

    async def copy(self, source_key: str, target_key: str, *, if_etag: str | None = None) -> str | None:
        content = self.objects.get(source_key)
        if content is None or (if_etag is not None and _etag(content) != if_etag):
            return None
        self.put(target_key, content)
        return _etag(content)

    async def list_objects(self, prefix: str) -> list[ListedObject]:
        return [ListedObject(key, self.modified.get(key)) for key in sorted(self.objects) if key.startswith(prefix)]

    async def remove(self, object_key: str) -> None:
        if self.objects.pop(object_key, None) is not None:
            self.removed.append(object_key)

    async def remove_many(self, object_keys: Sequence[str]) -> None:
        for key in object_keys:
            await self.remove(key)

    def remove_soon(self, object_key: str) -> None:
        self.queued.append(object_key)

    async def remove_queued(self) -> int:
        queued, self.queued = self.queued, []
        await self.remove_many(queued)
        return len(queued)


def _item_of(object_key: str) -> tuple[str, ...]:
    # submissions/<submission>/<evidence>/<name> (the upload) and verified/<submission>/<evidence>/... (its
    # sealed copies) name the same item.
    return tuple(object_key.split("/")[1:3])


class FakeProbe:
    """Reports the duration a test set for a key (or a default); ``unreadable`` keys read as None.

    A key set for an item's upload also answers for its sealed copies, which are what the service probes.
    """

    def __init__(self, default_seconds: float = 60.0) -> None:
        self.durations: dict[str, float] = {}
        self.unreadable: set[str] = set()
        self.default_seconds = default_seconds
        self.probed: list[str] = []

    async def probe(self, object_key: str, size: int, content: bytes | None = None) -> MediaInfo | None:
        self.probed.append(object_key)
        item = _item_of(object_key)
        if any(_item_of(key) == item for key in self.unreadable):
            return None
        seconds = next((s for key, s in self.durations.items() if _item_of(key) == item), self.default_seconds)
        return MediaInfo(duration_seconds=seconds, width=640, height=360, video_codec="mpeg4", container="mp4")


def now() -> datetime:
    return datetime.now(UTC)
