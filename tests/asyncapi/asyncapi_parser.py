"""The AsyncAPI Initiative's parser (npm ``@asyncapi/parser``, pinned in package.json) run on our documents."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


class NodeSetupError(RuntimeError):
    """node or npm is missing or failed: a check that needs them cannot run."""


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


def diagnostics(documents: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """Each document's diagnostics: ``{"severity", "code", "message", "path"}``, errors and warnings included."""
    node = shutil.which("node")
    if node is None:
        raise NodeSetupError("node is not on PATH")
    npm_ci(HERE)
    completed = subprocess.run([node, str(HERE / "check.mjs")], cwd=HERE, input=json.dumps({"documents": documents}),
                               capture_output=True, text=True, timeout=300, check=False)
    if completed.returncode != 0:
        raise NodeSetupError(f"check.mjs failed:\n{completed.stderr}")
    report: dict[str, list[dict[str, str]]] = json.loads(completed.stdout)
    return report
