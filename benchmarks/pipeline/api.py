"""The players' HTTP client: every request timed per route, errors counted, the front door's latency."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import aiohttp

from microcred.devstack.client import Actor, RoundRobin


@dataclass(frozen=True)
class Reply:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class Api:
    """Async twin of ``PlatformClient.call`` that also times each route (the front door's latency).

    aiohttp rather than httpx: with a pool of a hundred connections, httpx (httpcore 1.0) checks every
    pooled connection on every request, and the generator then took a third of the machine it measures.
    """

    def __init__(self, urls: dict[str, list[str]], concurrency: int) -> None:
        self.urls = RoundRobin(urls)  # a replicated service's requests go to its replicas in turn
        # Idle connections are dropped before uvicorn's 5 s keep-alive timeout: otherwise a request sent on
        # a connection the server is closing fails with "Server disconnected".
        self.http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=120.0),
            connector=aiohttp.TCPConnector(limit=concurrency * 2 + 32, keepalive_timeout=2.0))
        self.timings: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.transport_retries = 0

    async def call(self, method: str, service: str, path: str, actor: Actor | None, route: str, *,
                   expect: int = 200, **kwargs: Any) -> Any:
        response = await self.request(method, self.urls[service] + path, route,
                                      headers=dict(actor.headers) if actor else None, **kwargs)
        if response.status_code != expect:
            self.errors[f"{route} {response.status_code}"] += 1
            raise RuntimeError(f"{method} {path} -> {response.status_code} (expected {expect}): {response.text[:300]}")
        return response.json() if response.content else None

    async def request(self, method: str, url: str, route: str, *, content: bytes | None = None,
                      **kwargs: Any) -> Reply:
        started = time.perf_counter()
        try:
            reply = await self.send(method, url, data=content, **kwargs)
        except aiohttp.ServerDisconnectedError:
            if method != "GET":
                raise
            # The keep-alive race above, should it still happen: a GET is safe to send again (counted).
            self.transport_retries += 1
            reply = await self.send(method, url, data=content, **kwargs)
        self.timings[route].append(time.perf_counter() - started)
        return reply

    async def send(self, method: str, url: str, **kwargs: Any) -> Reply:
        async with self.http.request(method, url, **kwargs) as response:
            return Reply(response.status, await response.read())

    async def close(self) -> None:
        await self.http.close()
