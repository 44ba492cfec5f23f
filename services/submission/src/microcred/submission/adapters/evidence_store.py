"""The evidence bucket in the object store (S3 API, via the minio SDK).

Browsers upload and download evidence directly with presigned URLs; the bytes never pass through
this service except when it hashes a finished upload. Two clients: one talks to the store on the
endpoint the service reaches, the other only signs URLs for the endpoint browsers reach. The signing
client has its region fixed, so signing needs no network call (minio would otherwise ask the store
for the bucket's location, over an address the service may not be able to reach).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote, urlparse

from minio import Minio
from minio.error import S3Error

from microcred.submission.settings import SubmissionSettings

CHUNK_BYTES = 1024 * 1024
_MISSING = frozenset({"NoSuchKey", "NoSuchObject", "ResourceNotFound"})


@dataclass(frozen=True)
class StoredObject:
    size: int
    etag: str


def _client(endpoint: str, settings: SubmissionSettings) -> Minio:
    url = urlparse(endpoint)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ValueError(f"S3 endpoint must be an http(s) URL, got {endpoint!r}")
    return Minio(
        url.netloc,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        secure=url.scheme == "https",
        region=settings.s3_region,
    )


class EvidenceStore:
    def __init__(self, settings: SubmissionSettings) -> None:
        self._bucket = settings.s3_bucket
        self._client = _client(settings.s3_endpoint, settings)
        self._signer = _client(settings.s3_public_endpoint or settings.s3_endpoint, settings)

    async def upload_url(self, object_key: str, ttl_seconds: int) -> str:
        return await asyncio.to_thread(
            self._signer.presigned_put_object, self._bucket, object_key, timedelta(seconds=ttl_seconds)
        )

    async def download_url(self, object_key: str, ttl_seconds: int, filename: str) -> str:
        # Served as an attachment: evidence is untrusted content and must not render on the store's origin.
        disposition = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
        return await asyncio.to_thread(
            self._signer.presigned_get_object,
            self._bucket,
            object_key,
            timedelta(seconds=ttl_seconds),
            {"response-content-disposition": disposition},
        )

    async def stat(self, object_key: str) -> StoredObject | None:
        try:
            info = await asyncio.to_thread(self._client.stat_object, self._bucket, object_key)
        except S3Error as exc:
            if exc.code in _MISSING:
                return None
            raise
        return StoredObject(size=info.size or 0, etag=info.etag or "")

    async def sha256(self, object_key: str) -> str:
        return await asyncio.to_thread(self._sha256_blocking, object_key)

    def _sha256_blocking(self, object_key: str) -> str:
        digest = hashlib.sha256()
        response = self._client.get_object(self._bucket, object_key)
        try:
            for chunk in response.stream(CHUNK_BYTES):
                digest.update(chunk)
        finally:
            response.close()
            response.release_conn()
        return digest.hexdigest()
