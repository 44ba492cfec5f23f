"""The command line of a deployable that reaches the platform over HTTP only (the canary, the portal)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import TypeVar

import uvicorn
from fastapi import FastAPI

from microcred.runtime.client_settings import PlatformClientSettings
from microcred.runtime.logs import configure_logging

S = TypeVar("S", bound=PlatformClientSettings)


def serve(prog: str, settings_type: Callable[[], S], build_app: Callable[[S], FastAPI]) -> None:
    """``serve`` only, like the services' command line (the image's CMD): such a process has nothing to migrate."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("command", nargs="?", choices=["serve"], default="serve")
    parser.parse_args()
    settings = settings_type()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    # One line per request it makes at INFO would bury its own outcomes; failures are logged where they happen.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    uvicorn.run(build_app(settings), host=settings.http_host, port=settings.http_port, log_config=None,
                access_log=False)
