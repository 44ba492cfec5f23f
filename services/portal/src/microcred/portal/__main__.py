"""``python -m microcred.portal``: the portal process (the Deployment's command; ``microcred up`` starts it too)."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from microcred.portal.bootstrap import build_app
from microcred.portal.settings import PortalSettings
from microcred.runtime.logs import configure_logging


def main() -> None:
    # ``serve`` only, like the services' command line (the image's CMD); the portal has nothing to migrate.
    parser = argparse.ArgumentParser(prog="python -m microcred.portal")
    parser.add_argument("command", nargs="?", choices=["serve"], default="serve")
    parser.parse_args()
    settings = PortalSettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    uvicorn.run(build_app(settings), host=settings.http_host, port=settings.http_port, log_config=None,
                access_log=False)


if __name__ == "__main__":
    main()
