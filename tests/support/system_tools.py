"""System tools some tests run (promtool from Debian's ``prometheus``): skip without them locally, fail in CI.

``.ci/run`` installs them and sets ``MICROCRED_CI``, so a missing tool there is a broken pipeline, never a
silently skipped check.
"""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str, what: str) -> str:
    """The tool's path; the calling test skips where it is absent, unless this is CI, where that is a failure."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed: {what}"
        if os.environ.get("MICROCRED_CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found
