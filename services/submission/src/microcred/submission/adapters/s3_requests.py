"""The object store's small, frequent requests sent from the event loop, not from a worker thread each.

Completing and submitting evidence sends about nine HEAD, DELETE and CopyObject requests per submission.
Through minio each is a worker thread's job: 0.68 ms of this process's CPU per HEAD, of which 0.26 ms is
the hand-over to the thread and back, and 0.43 ms minio and urllib3 (measured against SeaweedFS here,
300 in a row). Sent with aiohttp on the event loop the same signed HEAD costs 0.26 ms.

Nothing about S3 is re-implemented: minio builds the URL (path or virtual-hosted style, as its client
was configured), the headers and the SigV4 signature, with its own credentials provider, and a refusal
is raised as minio's ``S3Error`` (``ServerError`` for a 5xx without a body), so the callers handle one
error type whichever path a request took. Streaming reads, listings, multipart uploads and presigning
stay with minio in threads: they are rare, or long (hashing a 2 GiB video must not hold the loop).
``open`` hands a GET's answer over before its body is read, so a caller can refuse an object on its
headers (a size that is not the declared one) without downloading what it would refuse.

Unlike minio's urllib3 pool, nothing here retries a 5xx or a refused connection: the request fails at
once, as the outage it is (``microcred.runtime.outages``: 503 to a teacher, a wait for a consumer). Only
a pooled connection the store closed while it sat idle is retried once on a fresh one; every request
sent here is idempotent (a DELETE, a HEAD, a copy or a PUT of known bytes to a fresh key).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlunsplit

import aiohttp
from minio import Minio
from minio.credentials import StaticProvider
from minio.error import S3Error, ServerError
from minio.helpers import DictType
from minio.signer import sign_v4_s3
from urllib3 import HTTPHeaderDict, HTTPResponse
from yarl import URL

# A copy runs on the store's side before it answers: at about 350 MiB/s, 5 GiB (the most one CopyObject
# copies) takes 15 s on an idle store, and a loaded one is several times slower.
_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300)


@dataclass(frozen=True)
class Answer:
    """A 2xx answer: its status, headers and body (empty for HEAD and DELETE)."""

    status: int
    headers: HTTPHeaderDict
    body: bytes

    def as_urllib3(self) -> HTTPResponse:
        """For minio's parsers (``parse_copy_object``), which read a urllib3 response."""
        return HTTPResponse(body=self.body, headers=self.headers, status=self.status, preload_content=True)


class S3Requests:
    """Signed requests on one bucket's objects, over one aiohttp connection pool per event loop."""

    def __init__(self, client: Minio, bucket: str) -> None:
        self._client = client
        self._bucket = bucket
        self._region: str | None = None
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    async def send(self, method: str, object_key: str, headers: DictType | None = None,
                   body: bytes | None = None) -> Answer:
        """Send ``method`` on the object (with ``body``, a PUT's bytes, signed as minio signs them); its answer
        when 2xx, else raise as minio would."""
        try:
            return await self._send_once(method, object_key, headers, body)
        except aiohttp.ServerDisconnectedError:
            # The store closed a kept-alive connection just as it was reused; a new one is not refused.
            return await self._send_once(method, object_key, headers, body)

    @asynccontextmanager
    async def open(self, method: str, object_key: str, headers: DictType | None = None
                   ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send ``method`` on the object and hand over its 2xx answer before its body is read; else raise as
        ``send`` does.

        Leaving without having read the whole body closes the connection instead of returning it to the
        pool (aiohttp never reuses a half-read one), so the rest of a body nobody wants is not downloaded.
        """
        try:
            response, path = await self._start(method, object_key, headers)
        except aiohttp.ServerDisconnectedError:
            # As in ``send``: a kept-alive connection closed by the store just as it was reused.
            response, path = await self._start(method, object_key, headers)
        try:
            if not 200 <= response.status < 300:
                refused = Answer(response.status, HTTPHeaderDict(response.headers.items()), await response.read())
                raise _refusal(refused, method, path, self._bucket, object_key)
            yield response
        finally:
            response.release()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _send_once(self, method: str, object_key: str, headers: DictType | None, body: bytes | None) -> Answer:
        response, path = await self._start(method, object_key, headers, body)
        async with response:
            answer = Answer(response.status, HTTPHeaderDict(response.headers.items()), await response.read())
        if 200 <= answer.status < 300:
            return answer
        raise _refusal(answer, method, path, self._bucket, object_key)

    async def _start(self, method: str, object_key: str, headers: DictType | None, body: bytes | None = None
                     ) -> tuple[aiohttp.ClientResponse, str]:
        """The answer, its status and headers read and its body not yet, and the path it was sent to."""
        client = self._client
        provider = client._provider
        # A static key signs at once; a role's temporary credentials may be refreshed over the network.
        creds = None if provider is None else (
            provider.retrieve() if isinstance(provider, StaticProvider) else await asyncio.to_thread(provider.retrieve)
        )
        region = self._region or await self._bucket_region()
        url = client._base_url.build(method=method, region=region, bucket_name=self._bucket, object_name=object_key)
        # With a body, minio adds its length and its SHA-256 (over plain HTTP) or its MD5 (over TLS), which the
        # store checks against what arrives.
        signed, date = client._build_headers(url.netloc, dict(headers or {}), body, creds)
        if creds is not None:
            signed = sign_v4_s3(method=method, url=url, region=region, headers=signed, credentials=creds,
                                content_sha256=str(signed["x-amz-content-sha256"]), date=date)
        # aiohttp sets Host itself, from the URL minio built it from.
        sent = {name: str(value) for name, value in signed.items() if name != "Host"}
        # encoded=True: the path goes out as minio quoted and signed it, not re-quoted by yarl.
        response = await self._pool().request(method, URL(urlunsplit(url), encoded=True), headers=sent, data=body,
                                              skip_auto_headers=("User-Agent",), auto_decompress=False)
        return response, url.path

    async def _bucket_region(self) -> str:
        # Given in the settings, the region is known without a request; otherwise minio asks the store once.
        self._region = await asyncio.to_thread(self._client._get_region, self._bucket)
        return self._region

    def _pool(self) -> aiohttp.ClientSession:
        # Made on first use, inside the loop it serves: aiohttp binds a session to its loop, and a caller
        # that runs one loop after another (a script, a test) gets a pool for each.
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session = aiohttp.ClientSession(timeout=_TIMEOUT)
            self._session_loop = loop
        return self._session


def _refusal(answer: Answer, method: str, path: str, bucket: str, object_key: str) -> Exception:
    """The error minio raises for the same answer: the store's XML error, or one made from the status."""
    if answer.body and "xml" in answer.headers.get("content-type", ""):
        return S3Error.fromxml(answer.as_urllib3())
    code, message = {
        403: ("AccessDenied", "Access denied"),
        404: ("NoSuchKey", "Object does not exist"),
        405: ("MethodNotAllowed", "The specified method is not allowed against this resource"),
        412: ("PreconditionFailed", "At least one of the preconditions you specified did not hold"),
        501: ("MethodNotAllowed", "The specified method is not allowed against this resource"),
    }.get(answer.status, (None, None))
    if code is None:
        return ServerError(f"server failed with HTTP status code {answer.status} on {method} {path}", answer.status)
    return S3Error(response=answer.as_urllib3(), code=code, message=message, resource=path,
                   request_id=answer.headers.get("x-amz-request-id"), host_id=answer.headers.get("x-amz-id-2"),
                   bucket_name=bucket, object_name=object_key)
