"""What the benchmark scripts share: a throwaway platform that is stopped however the run ends."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from rich.console import Console

from microcred.devstack.platform import Platform


@contextmanager
def running_platform(platform: Platform, console: Console) -> Iterator[Platform]:
    """``platform`` started, and stopped on the way out however the way out happens (error, Ctrl-C, SIGTERM)."""

    def terminate(signum: int, _: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        platform.start()  # stops what it started if it fails half way
        yield platform
    finally:
        console.print("[dim]stopping the platform[/dim]")
        platform.stop()
        signal.signal(signal.SIGTERM, previous)
