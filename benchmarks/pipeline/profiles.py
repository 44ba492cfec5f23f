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


def hottest(speedscope: dict[str, Any], top: int = 15) -> dict[str, Any]:
    """The busy time recorded (in the document's unit: py-spy weighs each sample by the seconds it stands for)
    and the functions most often on top of the stack (self) and anywhere in it (total), in shares of it, from
    a py-spy speedscope document (sampled profiles, one per thread)."""
    frames = speedscope["shared"]["frames"]
    own: Counter[int] = Counter()
    anywhere: Counter[int] = Counter()
    samples = 0
    for profile in speedscope["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            samples += weight
            if stack:
                own[stack[-1]] += weight
            for frame in set(stack):
                anywhere[frame] += weight

    def name(index: int) -> str:
        frame = frames[index]
        return f"{frame['name']} ({Path(frame.get('file', '?')).name}:{frame.get('line', '?')})"

    def share(counter: Counter[int]) -> list[list[Any]]:
        return [[name(i), round(n / max(samples, 1), 3)] for i, n in counter.most_common(top)]

    unit = speedscope["profiles"][0].get("unit", "none") if speedscope["profiles"] else "none"
    return {"busy": round(samples, 2), "unit": unit, "self": share(own), "total": share(anywhere)}
