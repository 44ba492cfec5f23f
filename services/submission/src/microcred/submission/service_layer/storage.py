"""What the use cases need of the object store and the media probe, and the policies they apply.

``adapters.evidence_store.EvidenceStore`` and ``adapters.media_probe.PyAVMediaProbe`` are the real ones;
the unit tests use fakes of these protocols.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from microcred.submission.domain.model import MediaInfo


class StoredObject(Protocol):
    @property
    def size(self) -> int: ...

    @property
    def etag(self) -> str: ...


class StoredPart(Protocol):
    @property
    def part_number(self) -> int: ...

    @property
    def size(self) -> int: ...

    @property
    def etag(self) -> str: ...


class Inspection(Protocol):
    @property
    def sha256(self) -> str: ...

    @property
    def head(self) -> bytes: ...

    @property
    def text(self) -> bool: ...

    @property
    def content(self) -> bytes | None:
        """The whole object, when it was small enough to keep."""


class Reading(StoredObject, Protocol):
    """One GET's answer: the object's size and ETag from its headers, and what its bytes gave."""

    @property
    def inspection(self) -> Inspection | None:
        """None when the size was not the one expected: the bytes were left unread."""

    @property
    def content_type(self) -> str | None:
        """The Content-Type the object was stored with."""


class ListedObject(Protocol):
    @property
    def object_key(self) -> str: ...

    @property
    def last_modified(self) -> datetime | None: ...


class OpenUpload(Protocol):
    @property
    def object_key(self) -> str: ...

    @property
    def upload_id(self) -> str: ...

    @property
    def initiated_at(self) -> datetime | None: ...


class EvidenceStorage(Protocol):
    """What the use cases need of the object store (adapters.evidence_store.EvidenceStore in production)."""

    async def upload_url(self, object_key: str, ttl_seconds: int) -> str: ...

    async def part_urls(
        self, object_key: str, upload_id: str, part_numbers: list[int], ttl_seconds: int
    ) -> dict[int, str]: ...

    async def download_url(self, object_key: str, ttl_seconds: int, filename: str) -> str: ...

    async def start_multipart(self, object_key: str, content_type: str) -> str: ...

    async def list_parts(self, object_key: str, upload_id: str) -> Sequence[StoredPart] | None: ...

    async def complete_multipart(self, object_key: str, upload_id: str, parts: Sequence[StoredPart]) -> None: ...

    async def open_uploads(self, prefix: str) -> Sequence[OpenUpload]: ...

    async def abort_multipart(self, object_key: str, upload_id: str) -> None: ...

    async def stat(self, object_key: str) -> StoredObject | None: ...

    async def inspect(self, object_key: str, size: int | None = None) -> Inspection | None:
        """None when the object is not there; ``size``, when known, lets a small object be read on the loop."""

    async def read_if_size(self, object_key: str, size: int) -> Reading | None:
        """One GET: size and ETag, and the bytes inspected only when there are ``size`` of them; None when the
        object is not there."""

    def keeps_bytes_of(self, size: int) -> bool:
        """Whether ``read_if_size`` gives the bytes (``Inspection.content``) of an object of ``size`` bytes."""

    async def write(self, object_key: str, content: bytes, content_type: str | None) -> str:
        """PUT bytes held in memory; their ETag."""

    async def copy(self, source_key: str, target_key: str, *, if_etag: str | None = None) -> str | None:
        """The copy's ETag; None when the source is gone or no longer ``if_etag``."""

    async def list_objects(self, prefix: str) -> Sequence[ListedObject]: ...

    async def remove(self, object_key: str) -> None: ...

    async def remove_many(self, object_keys: Sequence[str]) -> None:
        """Delete these objects in as few requests as the store allows; what is gone is no error."""

    def remove_soon(self, object_key: str) -> None:
        """Delete the object with the next batch, within seconds: for bytes nothing reads again (an upload whose
        item is sealed under another key). One lost with the process is left to the stray-upload sweep."""


class MediaProbe(Protocol):
    """Reads duration and metadata of stored video (adapters.media_probe.PyAVMediaProbe in production)."""

    async def probe(self, object_key: str, size: int, content: bytes | None = None) -> MediaInfo | None:
        """``content``, when given, is the object's bytes, read from memory instead of the store."""


@dataclass(frozen=True)
class EvidencePolicy:
    max_bytes: int
    upload_url_ttl_seconds: int
    download_url_ttl_seconds: int
    single_upload_max_bytes: int = 16 * 1024**2
    part_size_bytes: int = 16 * 1024**2


@dataclass(frozen=True)
class RetentionPolicy:
    evidence_retention: timedelta
    orphan_upload_age: timedelta
    batch_size: int = 100
