"""Every service's command line: ``python -m microcred.<service> serve|migrate``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from microcred.runtime.logs import configure_logging
from microcred.runtime.migrations import upgrade
from microcred.runtime.settings import ServiceSettings


def run_service(
    settings_factory: Callable[[], ServiceSettings],
    build_app: Callable[[ServiceSettings], FastAPI],
    migrations: str,
    argv: list[str] | None = None,
) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["serve", "migrate"])
    args = parser.parse_args(argv)
    settings = settings_factory()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    if args.command == "migrate":
        upgrade(settings.database_url, migrations)
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
    asyncio.run(uvicorn.Server(config).serve())
