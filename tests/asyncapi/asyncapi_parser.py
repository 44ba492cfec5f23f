"""The AsyncAPI Initiative's parser (npm ``@asyncapi/parser``, pinned in package.json) run on our documents."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from node_packages import NodeSetupError, node, npm_ci

HERE = Path(__file__).resolve().parent


def diagnostics(documents: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """Each document's diagnostics: ``{"severity", "code", "message", "path"}``, errors and warnings included."""
    npm_ci(HERE)
    completed = subprocess.run([node(), str(HERE / "check.mjs")], cwd=HERE, input=json.dumps({"documents": documents}),
                               capture_output=True, text=True, timeout=300, check=False)
    if completed.returncode != 0:
        raise NodeSetupError(f"check.mjs failed:\n{completed.stderr}")
    report: dict[str, list[dict[str, str]]] = json.loads(completed.stdout)
    return report
