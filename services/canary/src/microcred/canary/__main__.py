"""``python -m microcred.canary``: the canary process (the Deployment's command; ``microcred canary`` locally)."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from microcred.canary.bootstrap import build_app
from microcred.canary.settings import CanarySettings
from microcred.runtime.logs import configure_logging


def main() -> None:
    # ``serve`` only, like the services' command line (the image's CMD); the canary has nothing to migrate.
    parser = argparse.ArgumentParser(prog="python -m microcred.canary")
    parser.add_argument("command", nargs="?", choices=["serve"], default="serve")
    parser.parse_args()
    settings = CanarySettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    # One line per request at INFO would bury the canary's own outcomes; failures are logged by the probe.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    uvicorn.run(build_app(settings), host=settings.http_host, port=settings.http_port, log_config=None,
                access_log=False)


if __name__ == "__main__":
    main()
