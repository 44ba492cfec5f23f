"""``python -m microcred.portal``: the portal process (the Deployment's command; ``microcred up`` starts it too)."""

from __future__ import annotations

from microcred.portal.bootstrap import build_app
from microcred.portal.settings import PortalSettings
from microcred.runtime.client_process import serve


def main() -> None:
    serve("python -m microcred.portal", PortalSettings, build_app)


if __name__ == "__main__":
    main()
