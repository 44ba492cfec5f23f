"""The pipeline benchmark's reading of the idle platform (benchmarks/pipeline/samplers.idle_cpu, report.idle_report):
each watched process's CPU by the clock, its children included, and what it comes to per submission at a run's rate.
Real processes stand in for the platform's: one that spins in a child, one that sleeps."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from pipeline.report import idle_report
from pipeline.samplers import idle_cpu

# A parent that only waits on a child that spins: the CPU is all in the descendant.
SPINNING_CHILD = ("import subprocess, sys; subprocess.run([sys.executable, '-c', "
                  "'import time\\nend = time.time() + 60\\nwhile time.time() < end: pass'])")


@pytest.fixture
def processes() -> Iterator[dict[str, int]]:
    # Each in a session of its own, so the spinner goes with its parent's process group.
    busy = subprocess.Popen([sys.executable, "-c", SPINNING_CHILD], start_new_session=True)
    quiet = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        yield {"busy": busy.pid, "quiet": quiet.pid, "load generator": os.getpid()}
    finally:
        for process in (busy, quiet):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_the_idle_reading_counts_each_process_with_its_descendants_and_leaves_the_generator_out(
    processes: dict[str, int],
) -> None:
    time.sleep(0.5)  # the spinning grandchild has started
    found = asyncio.run(idle_cpu(processes, 1.5))
    assert set(found) == {"busy", "quiet"}
    assert found["busy"] > 200  # ms of CPU per second, spent in the child (a core when the host is quiet)
    assert found["quiet"] < 50


def test_the_idle_report_sets_the_clock_against_the_run_rate() -> None:
    report = idle_report({"tansu": 40.0, "submission": 20.0}, 10.0, completed_per_s=20.0)
    assert report["cpu_ms_per_s"] == {"tansu": 40.0, "submission": 20.0, "all watched": 60.0}
    assert report["cpu_ms_per_submission_at_run_rate"] == {"tansu": 2.0, "submission": 1.0, "all watched": 3.0}
    assert idle_report({"tansu": 40.0}, 10.0, completed_per_s=0.0)["cpu_ms_per_submission_at_run_rate"] == {
        "tansu": None, "all watched": None}
