"""HTTP POST of one signed webhook body over a shared ``httpx.AsyncClient``.

The signature is computed here, at send time, with the wall clock: receivers compare its timestamp
with their own clock, so it must say when the bytes left, not when the delivery was scheduled.
Redirects are not followed (a 3xx is a failed attempt): following one would send a state's licensee
records, signed, to wherever the receiver's server points. The response body is never read, so a
receiver cannot make us buffer an arbitrary amount of data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Self

import httpx

from microcred.licensure.domain.webhooks import MAX_ERROR_LENGTH, SIGNATURE_HEADER, USER_AGENT, signature_header

DEFAULT_TIMEOUT_SECONDS = 10.0


class WebhookSender:
    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds), follow_redirects=False, trust_env=False
        )
        self._clock = clock

    async def send(
        self, url: str, secret: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int | None, str | None]:
        """(status code, None) when the receiver answered, (None, error) when it could not be reached.

        Never raises for a receiver's fault: the worker records the outcome and retries later.
        """
        signed = {
            **headers,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signature_header(secret, int(self._clock()), body),
        }
        try:
            async with self._client.stream("POST", url, content=body, headers=signed) as response:
                status = response.status_code
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return None, _describe(exc)
        error = None if 200 <= status < 300 else f"HTTP {status}"
        return status, error

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _describe(exc: Exception) -> str:
    # httpx messages name the URL at most, never our headers, so the secret cannot leak through here.
    detail = str(exc) or "no detail"
    return f"{type(exc).__name__}: {detail}"[:MAX_ERROR_LENGTH]
