"""What the platform's own metrics cost: a scrape of every service's /metrics, and the background refreshes.

Issue 18's targets: scraping all services' ``/metrics`` costs under 2% of the platform's CPU at the pipeline
benchmark's saturation rate, and the lag and outbox metrics add under 3% to the CPU per submission.

Both are measured on one platform, so the machine's drift between runs does not enter the comparison:

1. the pipeline benchmark's saturation run (``benchmarks/pipeline/driver.py``'s ``drive``, N submissions as
   fast as the front door takes them) gives the platform's CPU per second and per submission at saturation, and
   leaves every service's registry holding the series a busy platform has (every consumer group, partition,
   route and state);
2. **scrape cost**: each service, idle after the run, is scraped K times back to back; its CPU time (its
   process tree, user + system, from /proc) during the scrapes, less its idle CPU over as long a window just
   before, divided by K, is the CPU one scrape costs. At the configured scrape interval that is a CPU rate,
   set against the platform's at saturation;
3. **refresh cost**: the services are restarted three times, with the lag and outbox refresh
   (``MICROCRED_METRICS_REFRESH_INTERVAL_SECONDS``) and the domain gauges' database refresh
   (``MICROCRED_GAUGE_REFRESH_INTERVAL_SECONDS``) each either every second or never, and their idle CPU is
   read over a window. The difference from "never", divided by the refreshes in the window, is the CPU of one
   refresh; at the default 15 s interval and the saturation rate it is CPU per submission.

A refresh measured idle reads the same partitions and runs the same queries as one under load; only the outbox
count differs, over the few hundred unsent rows of a saturated outbox instead of none (a partial index on
unsent rows makes that count cheap either way).

    python benchmarks/metrics_cost.py [-n 500] [--scrapes 200] [--window 30]

Writes ``benchmarks/results/metrics_cost.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from harness import running_platform
from pipeline import console
from pipeline.cli import RESULTS
from pipeline.driver import drive, platform_for
from pipeline.options import Options
from pipeline.report import machine
from pipeline.world import build_world, reviewer_capacity

from microcred.devstack.client import PlatformClient
from microcred.devstack.platform import SERVICES, Platform
from microcred.devstack.samples import tiny_video

DEFAULT_INTERVAL_S = 15.0  # both refresh loops' default, and the compose and cluster scrape interval
NEVER = str(10**9)
STACK = ("postgres", "tansu", "seaweedfs", "seaweedfs-volume")  # the platform's infrastructure, as pipeline names it


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and every process below it, as now."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                continue
    except psutil.Error:
        pass
    return total


def idle_cpu(platform: Platform, seconds: float) -> dict[str, float]:
    """CPU seconds each service spent over ``seconds`` of doing nothing asked of it."""
    before = {service: cpu_seconds(platform.processes[service].pid) for service in SERVICES}
    time.sleep(seconds)
    return {service: cpu_seconds(platform.processes[service].pid) - before[service] for service in SERVICES}


def scrape_cost(platform: Platform, scrapes: int) -> dict[str, Any]:
    """CPU milliseconds per scrape of each service's /metrics, its size and series count."""
    found: dict[str, Any] = {}
    with httpx.Client(timeout=10.0) as client:
        for service in SERVICES:
            pid = platform.processes[service].pid
            url = f"{platform.url(service)}/metrics"
            body = client.get(url).text  # warm: the first exposition builds nothing the next ones reuse, but a
            started, cpu_started = time.monotonic(), cpu_seconds(pid)  # connection is opened once
            for _ in range(scrapes):
                client.get(url).raise_for_status()
            elapsed, busy = time.monotonic() - started, cpu_seconds(pid) - cpu_started
            # The same service's idle CPU over as long a window, taken right after: its consumers' empty
            # fetches and its refresh loops go on during the scrapes too.
            idle = idle_cpu_one(pid, elapsed)
            found[service] = {
                "scrapes": scrapes, "wall_ms_per_scrape": round(1000 * elapsed / scrapes, 2),
                "cpu_ms_per_scrape": round(1000 * max(busy - idle, 0.0) / scrapes, 3),
                "bytes": len(body.encode()),
                "samples": sum(1 for line in body.splitlines() if line and not line.startswith("#")),
            }
    return found


def idle_cpu_one(pid: int, seconds: float) -> float:
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return cpu_seconds(pid) - before


def restart_all(platform: Platform, env: dict[str, str]) -> None:
    platform.service_env = {**platform.service_env, **env}
    for service in SERVICES:
        platform.stop_service(service)
    for service in SERVICES:
        platform.start_service(service)
    platform.wait_healthy()


def refresh_cost(platform: Platform, window: float) -> dict[str, Any]:
    """CPU milliseconds per refresh of each loop, per service, from idle windows with the loop every second or
    never. Each configuration is measured twice, alternating, and the two differences averaged."""
    configurations = {
        "none": {"MICROCRED_METRICS_REFRESH_INTERVAL_SECONDS": NEVER, "MICROCRED_GAUGE_REFRESH_INTERVAL_SECONDS": NEVER},
        "lag_outbox": {"MICROCRED_METRICS_REFRESH_INTERVAL_SECONDS": "1", "MICROCRED_GAUGE_REFRESH_INTERVAL_SECONDS": NEVER},
        "domain_gauges": {"MICROCRED_METRICS_REFRESH_INTERVAL_SECONDS": NEVER, "MICROCRED_GAUGE_REFRESH_INTERVAL_SECONDS": "1"},
    }
    readings: dict[str, list[dict[str, float]]] = {name: [] for name in configurations}
    for _ in range(2):
        for name, env in configurations.items():
            console.print(f"idle window with refresh: {name}")
            restart_all(platform, env)
            time.sleep(5)  # past the start: consumers joined, first refreshes done
            readings[name].append(idle_cpu(platform, window))
    mean = {name: {service: sum(r[service] for r in runs) / len(runs) for service in SERVICES}
            for name, runs in readings.items()}
    per_refresh = {
        loop: {service: round(1000 * max(mean[loop][service] - mean["none"][service], 0.0) / window, 3)
               for service in SERVICES}
        for loop in ("lag_outbox", "domain_gauges")
    }
    return {"window_s": window, "idle_cpu_s": mean, "cpu_ms_per_refresh": per_refresh}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--submissions", type=int, default=500)
    parser.add_argument("--scrapes", type=int, default=200, help="scrapes of each service's /metrics")
    parser.add_argument("--window", type=float, default=30.0, help="seconds of each idle CPU window")
    parser.add_argument("--output", type=Path, default=RESULTS / "metrics_cost.json")
    args = parser.parse_args(argv)

    options = Options(submissions=args.submissions, rate=0.0, concurrency=32, credentials=4, reviewers=8,
                      fail_share=0.1, poll=0.25, timeout=120 + args.submissions / 2, ceiling=False, seed=7)
    teachers = max(math.ceil(options.submissions / options.credentials), 1)
    with tempfile.TemporaryDirectory(prefix="microcred-metrics-cost-") as scratch, \
            running_platform(platform_for(Path(scratch) / "platform", "s3"), console) as platform:
        client = PlatformClient({s: platform.url(s) for s in SERVICES}, platform.tokens, timeout=120.0)
        try:
            world = build_world(client, options.credentials, options.reviewers, teachers,
                                max_open=reviewer_capacity(options.submissions))
        finally:
            client.close()
        run = asyncio.run(drive(platform, world, options, tiny_video()))
        console.print("saturation run done; measuring scrapes")
        scrapes = scrape_cost(platform, args.scrapes)
        refreshes = refresh_cost(platform, args.window)

    completed, rate = run["counts"]["completed"], run["throughput"]["completed_per_s"]
    processes = run["processes"]
    platform_cpu_s = sum(processes[name]["cpu_seconds"] for name in (*SERVICES, *STACK) if name in processes)
    elapsed = run["timings"]["elapsed_s"]
    platform_cores = platform_cpu_s / elapsed  # CPU seconds per second at saturation
    cpu_ms_per_submission = 1000 * platform_cpu_s / completed
    scrape_ms = sum(s["cpu_ms_per_scrape"] for s in scrapes.values())
    lag_outbox_ms = sum(refreshes["cpu_ms_per_refresh"]["lag_outbox"].values())
    gauges_ms = sum(refreshes["cpu_ms_per_refresh"]["domain_gauges"].values())

    def share_of_platform(ms_per_interval: float, interval: float) -> float:
        return round(100 * (ms_per_interval / 1000 / interval) / platform_cores, 4)

    def per_submission(ms_per_interval: float, interval: float) -> float:
        return round(ms_per_interval / interval / rate, 4)

    report = {
        "benchmark": "metrics_cost",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "saturation": {"submissions": completed, "completed_per_s": rate, "elapsed_s": elapsed,
                       "platform_cpu_cores": round(platform_cores, 3),
                       "platform_cpu_ms_per_submission": round(cpu_ms_per_submission, 1),
                       "processes": processes},
        "scrape": {"per_service": scrapes, "all_services_cpu_ms": round(scrape_ms, 3),
                   "share_of_platform_cpu_pct": {f"every {i:g}s": share_of_platform(scrape_ms, i) for i in (15, 5, 1)},
                   "target": "under 2% of the platform's CPU at saturation"},
        "refresh": {**refreshes,
                    "lag_outbox": {"all_services_cpu_ms": round(lag_outbox_ms, 3),
                                   "cpu_ms_per_submission_at_15s": per_submission(lag_outbox_ms, DEFAULT_INTERVAL_S),
                                   "share_of_cpu_per_submission_pct": round(
                                       100 * per_submission(lag_outbox_ms, DEFAULT_INTERVAL_S) / cpu_ms_per_submission, 4),
                                   "target": "under 3% of the CPU per submission"},
                    "domain_gauges": {"all_services_cpu_ms": round(gauges_ms, 3),
                                      "cpu_ms_per_submission_at_15s": per_submission(gauges_ms, DEFAULT_INTERVAL_S),
                                      "share_of_cpu_per_submission_pct": round(
                                          100 * per_submission(gauges_ms, DEFAULT_INTERVAL_S) / cpu_ms_per_submission, 4)}},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1) + "\n")
    console.print_json(data={k: report[k] for k in ("saturation", "scrape")} | {
        "refresh": {k: v for k, v in report["refresh"].items() if k != "idle_cpu_s"}})
    console.print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
