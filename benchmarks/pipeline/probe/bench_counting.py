"""Per-process counters of Kafka requests (by API), outgoing HTTP requests (by method and host:port) and
statement prepares.

Tansu counts nothing it can tell us (its only telemetry is an OTLP export), so the Kafka requests are counted
where they are sent: every request of every aiokafka client (FastStream's consumers and producer, the relay,
the lag readers) goes through ``AIOKafkaConnection.send``, which is wrapped here. Outgoing HTTP (S3 through
urllib3 and aiohttp, httpx for JWKS or webhooks) is counted the same way, and so are asyncpg's prepares. A daemon thread
writes the counters to ``<directory>/<pid>.json`` every second; the benchmark reads them before and after its
measured phase and maps each pid to its service. Counting is a dict increment per request: it changes no behaviour.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

kafka: Counter[str] = Counter()
http: Counter[str] = Counter()
sql: Counter[str] = Counter()


def _wrap_kafka() -> None:
    from aiokafka.conn import AIOKafkaConnection

    send = AIOKafkaConnection.send

    def counted(self: Any, request: Any, expect_response: bool = True) -> Any:
        kafka[type(request).__name__.removesuffix("Request")] += 1
        return send(self, request, expect_response)

    AIOKafkaConnection.send = counted  # type: ignore[method-assign]


def _wrap_asyncpg() -> None:
    # SQLAlchemy's asyncpg dialect prepares each statement once per connection (an LRU of 100): a miss is a
    # round trip (Parse, Describe) that pg_stat_statements does not see, as it counts executions only.
    from asyncpg.connection import Connection

    prepare = Connection.prepare

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        sql["prepare"] += 1
        return prepare(self, *args, **kwargs)

    Connection.prepare = counted  # type: ignore[method-assign]


def _wrap_urllib3() -> None:
    from urllib3.connectionpool import HTTPConnectionPool

    urlopen = HTTPConnectionPool.urlopen

    def counted(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        http[f"{method} {self.host}:{self.port}"] += 1
        return urlopen(self, method, url, *args, **kwargs)

    HTTPConnectionPool.urlopen = counted  # type: ignore[method-assign]


def _wrap_httpx() -> None:
    import httpx

    for client in (httpx.Client, httpx.AsyncClient):
        send = client.send

        def counted(self: Any, request: Any, *args: Any, send_of: Any = send, **kwargs: Any) -> Any:
            http[f"{request.method} {request.url.host}:{request.url.port}"] += 1
            return send_of(self, request, *args, **kwargs)

        client.send = counted  # type: ignore[method-assign]


def _wrap_aiohttp() -> None:
    # Submission's object-store requests sent from its event loop (adapters.s3_requests), and the load generator's.
    import aiohttp
    from yarl import URL

    request = aiohttp.ClientSession._request

    def counted(self: Any, method: str, str_or_url: Any, *args: Any, **kwargs: Any) -> Any:
        url = URL(str_or_url)
        http[f"{method} {url.host}:{url.port}"] += 1
        return request(self, method, str_or_url, *args, **kwargs)

    aiohttp.ClientSession._request = counted  # type: ignore[method-assign]


def snapshot() -> dict[str, Any]:
    return {"pid": os.getpid(), "argv": sys.argv, "kafka": dict(kafka), "http": dict(http), "sql": dict(sql)}


_installed = False


def install_in_process() -> None:
    """Wrap the clients (once); a client that is not installed is skipped. The load generator counts its own
    requests this way, reading the counters directly."""
    global _installed
    if not _installed:
        _installed = True
        for wrap in (_wrap_kafka, _wrap_asyncpg, _wrap_urllib3, _wrap_httpx, _wrap_aiohttp):
            with contextlib.suppress(ImportError):
                wrap()


def install(directory: str) -> None:
    """Wrap the clients and write the counters to ``<directory>/<pid>.json`` every second."""
    install_in_process()
    Path(directory).mkdir(parents=True, exist_ok=True)
    target = Path(directory) / f"{os.getpid()}.json"

    def write() -> None:
        while True:
            time.sleep(1.0)
            with contextlib.suppress(OSError, RuntimeError):  # RuntimeError: a counter grew while copied
                part = target.with_suffix(".part")
                part.write_text(json.dumps(snapshot()))
                part.replace(target)

    threading.Thread(target=write, name="bench-counts", daemon=True).start()
