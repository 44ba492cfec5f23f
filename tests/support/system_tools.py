"""System tools some tests run (promtool, docker-compose): found on PATH, or the test cannot run.

Like Node.js (node_packages.require_node): absent on a developer's machine the test skips, absent in CI
(``MICROCRED_CI``, where ``.ci/run`` installs them) it fails, so a check never silently stops running.
"""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str, what: str) -> str:
    """The path of ``name``; skips the calling test without it, or fails it in CI."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed: {what}"
        if os.environ.get("MICROCRED_CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found
