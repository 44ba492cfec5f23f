"""The evidence bucket in the object store (S3 API, via the minio SDK; its HEAD, DELETE and CopyObject
requests, and the reads of small objects, are sent from the event loop, signed by minio, see
``s3_requests``).

Browsers upload and download evidence directly with presigned URLs; the bytes never pass through
this service except when it verifies a finished upload (one streaming pass for the sha256, and range
reads for the media probe). Two clients: one talks to the store on the endpoint the service reaches,
the other only signs URLs for the endpoint browsers reach. The signing client has its region fixed,
so signing needs no network call (minio would otherwise ask the store for the bucket's location, over
an address the service may not be able to reach).

Multipart uploads: the service creates the upload, presigns one PUT per part (``partNumber`` and
``uploadId`` are signed query parameters), asks the store which parts arrived (ListParts: the truth
comes from the store, never from the client) and completes the upload with the store's ETags. The
minio SDK exposes these S3 calls only as underscored methods of ``Minio`` (its own ``put_object``
drives them); they are stable across 7.2.x, which the service pins.

Sealing relies on two facts, measured on SeaweedFS 4.48 here and documented for S3. ``copy`` is one
server-side CopyObject; it writes new chunks (the copy shares nothing with its source: deleting or
overwriting the source leaves it intact), at about 350 MiB/s (5.8 s for 2 GiB on an idle machine).
A PUT to a part URL after CompleteMultipartUpload is refused with NoSuchUpload, and part PUTs racing
the completion never changed the completed object (20 trials).

Deleting: several objects go in one DeleteObjects request (``remove_many``), and the upload of an item sealed
under another key, garbage from then on, waits a few seconds to go with others (``remove_soon``,
adapters.removal_queue).
"""

from __future__ import annotations

import asyncio
import codecs
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import quote, urlparse

from minio import Minio
from minio.commonconfig import ENABLED, CopySource, Filter
from minio.credentials import IamAwsProvider, StaticProvider
from minio.datatypes import Part, parse_copy_object
from minio.deleteobjects import DeleteObject
from minio.error import S3Error, ServerError
from minio.helpers import DictType
from minio.lifecycleconfig import AbortIncompleteMultipartUpload, LifecycleConfig, Rule

from microcred.runtime.errors import Conflict
from microcred.submission.adapters.removal_queue import RemovalQueue
from microcred.submission.adapters.s3_requests import S3Requests
from microcred.submission.settings import SubmissionSettings

CHUNK_BYTES = 1024 * 1024
HEAD_BYTES = 8192  # what filetype looks at
_MISSING = frozenset({"NoSuchKey", "NoSuchObject", "ResourceNotFound"})
_NO_UPLOAD = frozenset({"NoSuchUpload"})
_CHANGED = frozenset({"PreconditionFailed"})
# What a store or a policy answers when the service may not manage the bucket's lifecycle.
_LIFECYCLE_REFUSED = frozenset({"AccessDenied", "NotImplemented", "MethodNotAllowed", "XNotImplemented"})
# What a store without DeleteObjects answers it (Google Cloud Storage's XML API has none).
_NO_BULK_DELETE = frozenset({"NotImplemented", "MethodNotAllowed", "XNotImplemented"})
ABANDONED_UPLOADS_RULE = "microcred-abort-incomplete-multipart-uploads"
log = logging.getLogger(__name__)


class LifecycleRefused(Exception):
    """The store, or the service's credentials, do not allow it to read or set the bucket's lifecycle."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class StoredObject:
    size: int
    etag: str


@dataclass(frozen=True)
class UploadedPart:
    part_number: int
    size: int
    etag: str


class PartRef(Protocol):
    @property
    def part_number(self) -> int: ...

    @property
    def etag(self) -> str: ...


@dataclass(frozen=True)
class Inspection:
    """One streaming pass over a stored object."""

    sha256: str
    head: bytes
    # Decodes as UTF-8 and holds no NUL byte: what text looks like when it has no magic number.
    text: bool
    # The whole object when it was small enough to keep (settings.inspect_keep_max_bytes): the media probe
    # then reads these bytes instead of asking the store for ranges of what was just read.
    content: bytes | None = None


@dataclass(frozen=True)
class Reading:
    """What one GET of an object gave: its size and ETag from the answer's headers, and the facts of its
    bytes, or None when they were left unread because the size was not the one expected."""

    size: int
    etag: str
    inspection: Inspection | None
    # The Content-Type the object was stored with (the uploader's, on a single PUT).
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


def _stored(headers: Mapping[str, str]) -> StoredObject:
    """Size and ETag from a HEAD's or a GET's headers (the stored size: nothing here decodes a body)."""
    return StoredObject(size=int(headers.get("content-length", 0)), etag=headers.get("etag", "").replace('"', ""))


def _client(endpoint: str, settings: SubmissionSettings) -> Minio:
    url = urlparse(endpoint)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ValueError(f"S3 endpoint must be an http(s) URL, got {endpoint!r}")
    client = Minio(
        url.netloc,
        access_key=settings.s3_access_key or None,
        secret_key=settings.s3_secret_key or None,
        secure=url.scheme == "https",
        region=settings.s3_region,
        # No static keys: a role's temporary credentials, refreshed by the provider before they expire.
        credentials=None if settings.s3_access_key else IamAwsProvider(),
    )
    if settings.s3_addressing_style == "path":
        client.disable_virtual_style_endpoint()
    elif settings.s3_addressing_style == "virtual":
        client.enable_virtual_style_endpoint()
    return client


class _Inspector:
    """The facts one pass over an object's bytes gives, chunk by chunk, wherever the chunks are read."""

    def __init__(self, keep_max_bytes: int) -> None:
        self._digest = hashlib.sha256()
        self._head = bytearray()
        self._decoder: codecs.IncrementalDecoder | None = codecs.getincrementaldecoder("utf-8")()
        self._keep_max_bytes = keep_max_bytes
        # Kept while the object fits, dropped as soon as it does not: a large video costs no memory.
        self._kept: bytearray | None = bytearray() if keep_max_bytes > 0 else None

    def feed(self, chunk: bytes) -> None:
        self._digest.update(chunk)
        if self._kept is not None and len(self._kept) + len(chunk) <= self._keep_max_bytes:
            self._kept += chunk
        else:
            self._kept = None
        if len(self._head) < HEAD_BYTES:
            self._head += chunk[: HEAD_BYTES - len(self._head)]
        # Binary fails within its first bytes, so checking text costs nothing on a video.
        if self._decoder is not None:
            try:
                self._decoder.decode(chunk)
            except UnicodeDecodeError:
                self._decoder = None
            if b"\x00" in chunk:
                self._decoder = None

    def result(self) -> Inspection:
        if self._decoder is not None:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self._decoder = None
        return Inspection(sha256=self._digest.hexdigest(), head=bytes(self._head), text=self._decoder is not None,
                          content=bytes(self._kept) if self._kept is not None else None)


class EvidenceStore:
    def __init__(self, settings: SubmissionSettings) -> None:
        self._bucket = settings.s3_bucket
        self._keep_max_bytes = settings.inspect_keep_max_bytes
        self._on_loop_max_bytes = settings.inspect_on_loop_max_bytes
        self._client = _client(settings.s3_endpoint, settings)
        self._signer = _client(settings.s3_public_endpoint or settings.s3_endpoint, settings)
        # HEAD, DELETE and CopyObject, the calls every completion and submission sends, on the event loop.
        self._requests = S3Requests(self._client, self._bucket)
        self._removals = RemovalQueue(self.remove_many)
        self._bulk_delete = True

    async def close(self) -> None:
        """Remove what is queued for removal, then close the event loop's connection pool (minio's needs no closing)."""
        await self._removals.flush()
        await self._requests.close()

    # -- presigned URLs --------------------------------------------------------------------------

    async def upload_url(self, object_key: str, ttl_seconds: int) -> str:
        return await self._presign(self._signer.presigned_put_object, self._bucket, object_key,
                                   timedelta(seconds=ttl_seconds))

    async def part_urls(
        self, object_key: str, upload_id: str, part_numbers: list[int], ttl_seconds: int
    ) -> dict[int, str]:
        def sign() -> dict[int, str]:
            return {
                n: self._signer.get_presigned_url(
                    "PUT", self._bucket, object_key, timedelta(seconds=ttl_seconds),
                    extra_query_params={"partNumber": str(n), "uploadId": upload_id},
                )
                for n in part_numbers
            }

        # Signing is local (no network) but a thousand HMACs are still better off the event loop.
        return await asyncio.to_thread(sign)

    async def download_url(self, object_key: str, ttl_seconds: int, filename: str) -> str:
        # Served as an attachment: evidence is untrusted content and must not render on the store's origin.
        disposition = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
        return await self._presign(self._signer.presigned_get_object, self._bucket, object_key,
                                   timedelta(seconds=ttl_seconds), {"response-content-disposition": disposition})

    async def _presign(self, sign: Callable[..., str], *args: object) -> str:
        # One signature with a static key is about 0.04 ms of HMACs (the signing client's region is fixed, so
        # no request either): less than handing it to a worker thread and back. A role's temporary
        # credentials may first be refreshed over the network, so that signer still signs in a thread.
        provider = self._signer._provider
        if provider is None or isinstance(provider, StaticProvider):
            return sign(*args)
        return await asyncio.to_thread(sign, *args)

    # -- multipart -------------------------------------------------------------------------------

    async def start_multipart(self, object_key: str, content_type: str) -> str:
        upload_id: str = await asyncio.to_thread(
            self._client._create_multipart_upload, self._bucket, object_key, {"Content-Type": content_type}
        )
        return upload_id

    async def list_parts(self, object_key: str, upload_id: str) -> Sequence[UploadedPart] | None:
        """The parts the store holds, by number; None when the upload no longer exists."""
        return await asyncio.to_thread(self._list_parts_blocking, object_key, upload_id)

    def _list_parts_blocking(self, object_key: str, upload_id: str) -> list[UploadedPart] | None:
        found: list[UploadedPart] = []
        marker: str | None = None
        while True:
            try:
                result = self._client._list_parts(
                    self._bucket, object_key, upload_id, max_parts=1000, part_number_marker=marker
                )
            except S3Error as exc:
                if exc.code in _NO_UPLOAD:
                    return None
                raise
            found.extend(UploadedPart(p.part_number, p.size or 0, p.etag) for p in result.parts)
            if not result.is_truncated or not result.parts:
                return sorted(found, key=lambda p: p.part_number)
            marker = str(result.next_part_number_marker)

    async def complete_multipart(self, object_key: str, upload_id: str, parts: Sequence[PartRef]) -> None:
        try:
            await asyncio.to_thread(
                self._client._complete_multipart_upload,
                self._bucket, object_key, upload_id, [Part(p.part_number, p.etag) for p in parts],
            )
        except S3Error as exc:
            raise Conflict(
                f"the object store refused to assemble the parts ({exc.code}: {exc.message})",
                code="upload_refused",
                details={"store_code": exc.code},
            ) from exc

    async def abort_multipart(self, object_key: str, upload_id: str) -> None:
        try:
            await asyncio.to_thread(self._client._abort_multipart_upload, self._bucket, object_key, upload_id)
        except S3Error as exc:
            if exc.code not in _NO_UPLOAD:
                raise

    async def open_uploads(self, prefix: str) -> Sequence[OpenUpload]:
        """Every multipart upload under ``prefix`` the store still holds (ListMultipartUploads)."""
        return await asyncio.to_thread(self._open_uploads_blocking, prefix)

    def _open_uploads_blocking(self, prefix: str) -> list[OpenUpload]:
        found: list[OpenUpload] = []
        key_marker: str | None = None
        upload_marker: str | None = None
        while True:
            result = self._client._list_multipart_uploads(
                self._bucket, prefix=prefix, key_marker=key_marker, upload_id_marker=upload_marker, max_uploads=1000
            )
            found.extend(
                OpenUpload(u.object_name, u.upload_id, u.initiated_time)
                for u in result.uploads
                if u.object_name and u.upload_id
            )
            if not result.is_truncated or not result.uploads:
                return found
            key_marker, upload_marker = result.next_key_marker, result.next_upload_id_marker

    # -- bucket lifecycle ------------------------------------------------------------------------

    async def ensure_abandoned_upload_rule(self, days: int) -> bool:
        """Make the bucket abort multipart uploads left incomplete for ``days``; True when it had to be set.

        A backstop for the orphan sweep (evidence_retention.abandon_orphan_uploads), which aborts the
        uploads this service started but only while it runs and only under its own prefix: the store's rule
        also removes the parts of uploads nobody will ever sweep. PutBucketLifecycleConfiguration replaces
        the whole configuration, so the bucket's other rules (an operator's own) are read and kept; only the
        rule with this service's id is added or replaced. Replicas starting together write the same result.
        """
        return await asyncio.to_thread(self._ensure_abandoned_upload_rule_blocking, days)

    def _ensure_abandoned_upload_rule_blocking(self, days: int) -> bool:
        try:
            current = self._client.get_bucket_lifecycle(self._bucket)
            rules = list(current.rules) if current is not None else []
            ours = [r for r in rules if r.rule_id == ABANDONED_UPLOADS_RULE]
            abort = ours[0].abort_incomplete_multipart_upload if len(ours) == 1 else None
            if (len(ours) == 1 and ours[0].status == ENABLED and abort is not None
                    and abort.days_after_initiation == days and ours[0].expiration is None):
                return False
            wanted = Rule(
                ENABLED,
                rule_filter=Filter(prefix=""),
                rule_id=ABANDONED_UPLOADS_RULE,
                abort_incomplete_multipart_upload=AbortIncompleteMultipartUpload(days_after_initiation=days),
            )
            others = [r for r in rules if r.rule_id != ABANDONED_UPLOADS_RULE]
            self._client.set_bucket_lifecycle(self._bucket, LifecycleConfig([*others, wanted]))
        except S3Error as exc:
            if exc.code in _LIFECYCLE_REFUSED:
                raise LifecycleRefused(exc.code) from exc
            raise
        return True

    # -- objects ---------------------------------------------------------------------------------

    async def stat(self, object_key: str) -> StoredObject | None:
        try:
            answer = await self._requests.send("HEAD", object_key)
        except S3Error as exc:
            if exc.code in _MISSING:
                return None
            raise
        return _stored(answer.headers)

    async def inspect(self, object_key: str, size: int | None = None) -> Inspection | None:
        """One streaming pass over the object; None when it is not there (deleted before or as it was asked).

        An object known to be small (``size``, up to ``inspect_on_loop_max_bytes``) is read and hashed on the
        event loop: a GET and about 0.6 ms of hashing per MiB, against a worker thread's hand-over and minio's
        urllib3 request. A larger one, or one of unknown size, streams through minio in a worker thread,
        so a 2 GiB video never holds the loop.
        """
        reading = await self._read(object_key, size, expected_size=None)
        return None if reading is None else reading.inspection

    async def read_if_size(self, object_key: str, size: int) -> Reading | None:
        """One GET of the object: its size and ETag, and one streaming pass over its bytes (as ``inspect``)
        only when it has ``size`` bytes; None when it is not there.

        The size is checked on the answer's headers, before the body: an object of another size is refused
        whatever it holds, and a URL issued for a small file may have received gigabytes, which are left
        unread (the connection is closed). What a HEAD would have said comes with the bytes, one request fewer.
        """
        return await self._read(object_key, size, expected_size=size)

    async def _read(self, object_key: str, size: int | None, expected_size: int | None) -> Reading | None:
        try:
            if size is not None and size <= self._on_loop_max_bytes:
                async with self._requests.open("GET", object_key) as response:
                    found = _stored(response.headers)
                    content_type = response.headers.get("content-type")
                    if expected_size is not None and found.size != expected_size:
                        return Reading(found.size, found.etag, None, content_type)
                    inspector = _Inspector(self._keep_max_bytes)
                    inspector.feed(await response.read())
                    return Reading(found.size, found.etag, inspector.result(), content_type)
            return await asyncio.to_thread(self._read_blocking, object_key, expected_size)
        except S3Error as exc:
            if exc.code in _MISSING:
                return None
            raise

    def _read_blocking(self, object_key: str, expected_size: int | None) -> Reading:
        # minio's GET answers once the headers are in (preload_content=False): the body is streamed below.
        response = self._client.get_object(self._bucket, object_key)
        try:
            found = _stored(response.headers)
            content_type = response.headers.get("content-type")
            if expected_size is not None and found.size != expected_size:
                return Reading(found.size, found.etag, None, content_type)
            inspector = _Inspector(self._keep_max_bytes)
            # The stored bytes, as the event loop's GET reads them: never decoded by a Content-Encoding the
            # uploader may have set on its PUT.
            for chunk in response.stream(CHUNK_BYTES, decode_content=False):
                inspector.feed(chunk)
            return Reading(found.size, found.etag, inspector.result(), content_type)
        finally:
            # Closed, not returned to the pool, when the body was left unread: the rest is never downloaded.
            response.close()
            response.release_conn()

    def read_range(self, object_key: str, offset: int, length: int) -> bytes:
        """Blocking: for the media probe, which runs in a worker thread."""
        response = self._client.get_object(self._bucket, object_key, offset=offset, length=length)
        try:
            return bytes(response.read())
        finally:
            response.close()
            response.release_conn()

    def keeps_bytes_of(self, size: int) -> bool:
        """Whether ``read_if_size`` of an object of ``size`` bytes reads it on the event loop and gives its bytes
        (``Inspection.content``): up to the smaller of ``inspect_on_loop_max_bytes`` and ``inspect_keep_max_bytes``,
        and never when nothing is kept (``inspect_keep_max_bytes`` 0), not even an empty object."""
        return self._keep_max_bytes > 0 and size <= min(self._on_loop_max_bytes, self._keep_max_bytes)

    async def write(self, object_key: str, content: bytes, content_type: str | None) -> str:
        """PUT ``content`` at the key; its ETag. For bytes already in memory (a small item being sealed)."""
        headers: DictType = {"Content-Type": content_type or "application/octet-stream"}
        answer = await self._requests.send("PUT", object_key, headers, content)
        return answer.headers.get("etag", "").replace('"', "")

    async def copy(self, source_key: str, target_key: str, *, if_etag: str | None = None) -> str | None:
        """Server-side copy; the copy's ETag, or None when the source is gone or (with ``if_etag``) no longer
        that object.

        One CopyObject, sent directly: minio's ``copy_object`` first HEADs the source for its size, which
        the callers already know (sealing stat'ed it and copies on its ETag) or need not (the sweep). Its
        size matters only above 5 GiB, the most one CopyObject may copy, where minio would switch to a
        multipart copy: only single-PUT uploads are copied, and settings cap those at 5 GiB
        (``single_upload_max_bytes``), 16 MiB by default; the store refuses a larger one outright.
        """
        headers: DictType = dict(CopySource(self._bucket, source_key, match_etag=if_etag).gen_copy_headers())
        try:
            answer = await self._requests.send("PUT", target_key, headers)
        except S3Error as exc:
            if exc.code in _MISSING | _CHANGED:
                return None
            raise
        etag, _ = parse_copy_object(answer.as_urllib3())
        return etag

    async def list_objects(self, prefix: str) -> Sequence[ListedObject]:
        return await asyncio.to_thread(self._list_objects_blocking, prefix)

    def _list_objects_blocking(self, prefix: str) -> list[ListedObject]:
        return [
            ListedObject(o.object_name, o.last_modified)
            for o in self._client.list_objects(self._bucket, prefix=prefix, recursive=True)
            if o.object_name
        ]

    async def remove(self, object_key: str) -> None:
        """Delete the object; removing what is gone is no error."""
        await self._requests.send("DELETE", object_key)

    async def remove_many(self, object_keys: Sequence[str]) -> None:
        """Delete these objects, up to 1,000 to a request (DeleteObjects); removing what is gone is no error.

        One key is one DELETE, sent from the event loop. A store without DeleteObjects gets a DELETE each, from the
        first refusal on.
        """
        keys = list(dict.fromkeys(object_keys))
        if len(keys) > 1 and self._bulk_delete:
            try:
                refused = await asyncio.to_thread(self._remove_many_blocking, keys)
            except (S3Error, ServerError) as exc:
                code = exc.code if isinstance(exc, S3Error) else ("NotImplemented" if exc.status_code == 501 else "")
                if code not in _NO_BULK_DELETE:
                    raise
                log.warning("the object store has no DeleteObjects (%s): deleting one object per request", code)
                self._bulk_delete = False
            else:
                if refused:
                    raise RemovalRefused(refused)
                return
        for key in keys:
            await self.remove(key)

    def _remove_many_blocking(self, keys: list[str]) -> list[tuple[str, str]]:
        # minio splits the keys into requests of 1,000 and sends them quiet: the answer lists only the failures.
        errors = self._client.remove_objects(self._bucket, [DeleteObject(key) for key in keys])
        return [(error.name or "", error.code or "") for error in errors if error.code not in _MISSING]

    def remove_soon(self, object_key: str) -> None:
        """Queue the object for the next batched removal (``remove_queued``, every few seconds); for garbage only
        (adapters.removal_queue)."""
        self._removals.add(object_key)

    async def remove_queued(self) -> int:
        """Remove what is queued now; how many objects."""
        return await self._removals.flush()

    async def remove_queued_periodically(self, interval_seconds: float) -> None:
        await self._removals.run(interval_seconds)


class RemovalRefused(Exception):
    """The store refused to delete some of the objects of a DeleteObjects request."""

    def __init__(self, refused: Sequence[tuple[str, str]]) -> None:
        key, code = refused[0]
        super().__init__(f"the object store refused to delete {len(refused)} objects (first: {key}: {code})")
        self.refused = list(refused)
