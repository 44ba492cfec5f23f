"""Every service's command line: ``python -m microcred.<service> serve|migrate``."""

from __future__ import annotations

import argparse
import asyncio
import gc
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
    tune_garbage_collector(settings)
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


def tune_garbage_collector(settings: ServiceSettings) -> None:
    """Spare the request and message paths most of the cyclic garbage collector's work.

    Measured in the pipeline benchmark (benchmarks/README.md, "The garbage collector"): with Python's defaults a
    service spent 10-20% of its CPU in collections, most of it in full collections walking the hundreds of
    thousands of objects the app is made of (modules, routes, models, the ORM's mappers), which live as long as
    the process. Built, they are frozen out of every later collection; what remains is the garbage of requests and
    messages, most of it freed by reference counting, so the youngest generation can wait for many more
    allocations before a collection pays off.
    """
    if settings.gc_freeze_at_start:
        gc.collect()
        gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(settings.gc_young_threshold, middle, oldest)

