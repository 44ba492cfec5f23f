"""The benchmarks are run by hand, not by CI, so nothing else notices when a refactor breaks one of them.

Each command starting and reading its options is cheap, and catches a module that no longer imports (the
pipeline benchmark is a package of a dozen modules whose imports only run when the benchmark does).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", [
    ["benchmarks/pipeline"],
    ["benchmarks/metrics_cost.py"],
    ["benchmarks/portal_pages.py"],
    ["benchmarks/broker_fetches.py"],
    ["benchmarks/statement_costs.py"],
    ["benchmarks/object_store_costs.py"],
])
def test_benchmark_command_starts_and_reads_its_options(command: list[str]) -> None:
    done = subprocess.run([sys.executable, *command, "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:"), done.stdout
