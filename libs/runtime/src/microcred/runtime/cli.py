"""Every service's command line: ``python -m microcred.<service> serve|migrate``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import uvicorn
import uvloop
from fastapi import FastAPI

from microcred.runtime.logs import configure_logging
from microcred.runtime.migrations import upgrade
from microcred.runtime.settings import ServiceSettings


def run_service(
    settings_factory: Callable[[], ServiceSettings],
    build_app: Callable[[ServiceSettings], FastAPI],
    migrations: str,
    argv: list[str] | None = None,
    after_migrate: Callable[[ServiceSettings], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """``after_migrate`` provisions what a service needs beyond its schema (reference data, topics),
    once per deployment, before any replica serves."""
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["serve", "migrate"])
    args = parser.parse_args(argv)
    settings = settings_factory()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    if args.command == "migrate":
        upgrade(settings.database_url, migrations)
        if after_migrate is not None:
            asyncio.run(after_migrate(settings))
        return
    app = build_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    # uvicorn.run would pick uvloop itself; serving through our own call needs it said. Its C event loop
    # halves the cost of the many small socket writes (database, broker, HTTP) a request makes.
    uvloop.run(uvicorn.Server(config).serve())
