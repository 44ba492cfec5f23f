"""The generator (deploy/observability/opsgen) is not an installed package: put its folder on the path."""

from __future__ import annotations

import sys
from pathlib import Path

OBSERVABILITY = Path(__file__).resolve().parents[2] / "deploy" / "observability"
sys.path.insert(0, str(OBSERVABILITY))
