"""The npm packages some tests run (independent verifiers, the AsyncAPI parser): installed on demand.

Each folder that needs them commits a package.json and package-lock.json; ``npm ci`` installs exactly the
locked versions, again only when the lock changed. Node.js is a system package: without it these tests skip
on a developer's machine and fail in CI (``.ci/run`` installs it and sets ``MICROCRED_CI``).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from system_tools import require_tool


class NodeSetupError(RuntimeError):
    """node or npm is missing or failed: a test that needs them cannot run."""


def node() -> str:
    found = shutil.which("node")
    if found is None:
        raise NodeSetupError("node is not on PATH")
    return found


def require_node(what: str) -> None:
    """Skip the calling test where Node.js is absent, unless this is CI, where that is a failure."""
    require_tool("node", f"{what} needs Node.js 20")


def npm_ci(directory: Path) -> None:
    """``npm ci`` in ``directory`` when its node_modules is missing or came from another package-lock.json."""
    stamp = directory / "node_modules" / ".microcred-lock-sha256"
    digest = hashlib.sha256((directory / "package-lock.json").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text().strip() == digest:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise NodeSetupError(f"npm is not on PATH; it installs {directory}/node_modules")
    completed = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=directory, capture_output=True,
                               text=True, timeout=600, check=False)
    if completed.returncode != 0:
        raise NodeSetupError(f"npm ci failed in {directory}:\n{completed.stdout}\n{completed.stderr}")
    stamp.write_text(digest)
