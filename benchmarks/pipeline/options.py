"""The options of one run, and the tag its report and charts are named by."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class Options:
    submissions: int
    rate: float
    concurrency: int
    credentials: int
    reviewers: int
    fail_share: float
    poll: float
    timeout: float
    ceiling: bool
    seed: int
    broker_log: Literal["s3", "memory"] = "s3"
    replicas: dict[str, int] = field(default_factory=dict)
    counts: bool = False  # SQL, Kafka and HTTP counts per submission (counts.py)
    profile: float = 0.0  # seconds of py-spy profile of every service under load (profiles.py); 0: none
    idle: float = 0.0  # seconds the idle platform's CPU is read before the load starts (samplers.idle_cpu); 0: none


def tag_of(options: Options) -> str:
    return (f"{options.submissions}" + (f"-rate{options.rate:g}" if options.rate > 0 else "")
            + ("-memlog" if options.broker_log == "memory" else "")
            + "".join(f"-replicas-{s}{n}" for s, n in sorted(options.replicas.items()) if n > 1)
            # A profiled run's CPU figures carry the profiler's cost: it must not pass for an ordinary run.
            + ("-profiled" if options.profile > 0 else ""))
