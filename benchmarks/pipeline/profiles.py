"""A sampling profile of every service under saturation (``--profile``): py-spy attached to each service
process from outside, for a window of the measured phase, written as speedscope JSON beside the report
(open it at https://www.speedscope.app or with ``speedscope FILE``), plus each service's hottest functions.

py-spy reads the interpreter's stacks from another process, so the services run unchanged. ``--nonblocking``:
a service is not paused for each sample (100 per second), so a stack is now and then torn, which a profile of
where the time goes can afford. Paused, every thread reads as busy to py-spy (tried: thread-pool workers
waiting on their queue then took 78% of submission's samples), while unpaused it leaves idle threads out, so
the shares are of the time a service was busy. The profiler still costs some CPU: a profiled run's report is
tagged ``-profiled`` and CPU figures are quoted from runs without ``--profile``. The services run uvloop, whose loop is C: time in it (socket reads and writes, callbacks'
scheduling) shows as the self time of ``Runner.run``, the Python frame that started it.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from microcred.devstack.platform import Platform

PY_SPY = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))


async def record(platform: Platform, directory: Path, tag: str, delay: float, seconds: float,
                 drained: asyncio.Event) -> dict[str, Any]:
    """Wait ``delay`` s (the platform reaching saturation), then record every service for ``seconds`` s, or
    until the run has drained: an idle platform's stacks would only dilute the profile."""
    await asyncio.sleep(delay)
    if drained.is_set():
        return {"error": f"the run drained within {delay} s, before the profiles were to start"}
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    runs = {}
    for instance, popen in platform.processes.items():
        path = directory / f"{tag}-{instance}.speedscope.json"
        runs[instance] = (path, await asyncio.create_subprocess_exec(
            PY_SPY, "record", "--pid", str(popen.pid), "--duration", str(max(int(seconds), 1)), "--rate", "100",
            "--nonblocking", "--format", "speedscope", "--output", str(path),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE))
    errors: dict[str, bytes] = {}

    async def all_finished() -> None:
        for instance, (_, process) in runs.items():
            errors[instance] = (await process.communicate())[1]

    finished, stopped = asyncio.create_task(all_finished()), asyncio.create_task(drained.wait())
    await asyncio.wait([finished, stopped], return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    for _, process in runs.values():
        if process.returncode is None:
            process.send_signal(signal.SIGINT)  # py-spy writes what it has recorded and exits
    await finished
    found: dict[str, Any] = {}
    for instance, (path, _) in runs.items():
        if not path.exists():  # stopped early, py-spy exits non-zero but still writes its file
            found[instance] = {"error": errors.get(instance, b"").decode(errors="replace")[-500:]}
            continue
        found[instance] = {"file": str(path), **hottest(json.loads(path.read_text()))}
    return found


def short(file: str) -> str:
    """A frame's file as a reader finds it: from the package on (``microcred/award/handlers.py``,
    ``asyncpg/connection.py``, ``asyncio/runners.py``)."""
    for marker in ("/src/", "/site-packages/", "/lib/python3.11/", "/lib/python3.12/"):
        if marker in file:
            return file.split(marker)[-1]
    return Path(file).name


# The frames every stack of a service starts with: in all of them, they say nothing about where time goes.
ENTRY_FRAMES = frozenset({"<module>", "run_service"})


def hottest(speedscope: dict[str, Any], top: int = 15) -> dict[str, Any]:
    """From a py-spy speedscope document (sampled profiles, one per thread, each sample weighed by the seconds
    it stands for): ``busy``, the seconds a thread was seen not idle (running, or runnable and waiting for a
    core: on a saturated host that counts too), summed over threads; ``self``, the functions most often on
    top of the stack; ``ours``, the platform's own functions (``microcred``) by the share of busy time they
    were anywhere in the stack, the handlers and adapters a change would touch. Shares of ``busy``, per
    function (its lines together)."""
    frames = speedscope["shared"]["frames"]

    def function(index: int) -> str:
        frame = frames[index]
        return f"{frame['name']} ({short(frame.get('file', '?'))})"

    own: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    busy = 0.0
    for profile in speedscope["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            busy += weight
            if stack:
                own[function(stack[-1])] += weight
            ours.update(dict.fromkeys({function(i) for i in stack if "/microcred/" in frames[i].get("file", "")
                                       and frames[i]["name"] not in ENTRY_FRAMES}, weight))

    def share(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(n / max(busy, 1e-9), 3)] for name, n in counter.most_common(top)]

    unit = speedscope["profiles"][0].get("unit", "none") if speedscope["profiles"] else "none"
    return {"busy": round(busy, 2), "unit": unit, "self": share(own), "ours": share(ours)}
