"""``python -m microcred.canary``: the canary process (the Deployment's command; ``microcred canary`` locally)."""

from __future__ import annotations

from microcred.canary.bootstrap import build_app
from microcred.canary.settings import CanarySettings
from microcred.runtime.client_process import serve


def main() -> None:
    serve("python -m microcred.canary", CanarySettings, build_app)


if __name__ == "__main__":
    main()
