"""The report of a run: latency per hop and end to end, throughput, per-process CPU, the parameters and the
machine, and the headline figures a before/after comparison puts side by side."""

from __future__ import annotations

import contextlib
import math
import os
import platform as host
import re
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

from microcred.devstack.platform import SERVICES, Platform
from microcred.devstack.samples import QUICK_SERVICE_ENV
from microcred.events.topics import platform_topics
from pipeline.options import Options
from pipeline.players import Run
from pipeline.samplers import Samples
from pipeline.world import AUTOMATIC_STATES, STATE_MIXES, Job

# Hops measured per attempt, in pipeline order: (name, from milestone, to milestone).
HOPS = (
    ("submit -> submitted", "submit_http", "submitted"),
    ("submitted -> assigned", "submitted", "assigned"),
    ("assigned -> scored", "assigned", "scored"),
    ("scored -> awarded", "scored", "awarded"),
    ("awarded -> credit-posted (TN/UT)", "awarded", "credit_auto"),
    ("awarded -> credit-posted (AR, district approval)", "awarded", "credit_ar"),
)
FROM_SUBMIT = ("assigned", "scored", "awarded", "credit_last")


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "min": None, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] * 1000, 1)

    # min is kept to catch clock trouble: a negative hop means the broker's timestamps are not the hosts'.
    return {"count": len(ordered), "min": round(ordered[0] * 1000, 1), "p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99),
            "max": round(ordered[-1] * 1000, 1), "mean": round(statistics.fmean(ordered) * 1000, 1)}


def milestones(job: Job, attempt: int) -> dict[str, float]:
    marks = {name: by_attempt[attempt] for name, by_attempt in job.marks.items() if attempt in by_attempt}
    if "awarded" in marks:
        auto = [t for lid, t in job.credits.items() if job.teacher.license_states[lid] in AUTOMATIC_STATES]
        ar = [t for lid, t in job.credits.items() if job.teacher.license_states[lid] == "AR"]
        if auto:
            marks["credit_auto"] = max(auto)
        if ar:
            marks["credit_ar"] = max(ar)
        if job.completed_at is not None:
            marks["credit_last"] = job.completed_at
    return marks


def latency_report(jobs: list[Job]) -> dict[str, Any]:
    hops: dict[str, list[float]] = {name: [] for name, _, _ in HOPS}
    first_pass: dict[str, list[float]] = {m: [] for m in FROM_SUBMIT}
    end_to_end_revised: list[float] = []
    for job in jobs:
        for attempt in job.marks["submit_http"]:
            marks = milestones(job, attempt)
            for name, start, end in HOPS:
                if start in marks and end in marks:
                    hops[name].append(marks[end] - marks[start])
        if job.completed_at is None:
            continue
        if job.attempts == 1:
            marks = milestones(job, 1)
            for milestone in FROM_SUBMIT:
                if milestone in marks:
                    first_pass[milestone].append(marks[milestone] - marks["submit_http"])
        else:
            end_to_end_revised.append(job.completed_at - job.marks["submit_http"][1])
    return {
        "unit": "ms",
        "per_hop": {name: percentiles(values) for name, values in hops.items()},
        "from_submit_first_pass": {f"submit -> {m}": percentiles(v) for m, v in first_pass.items()},
        "from_first_submit_revised_then_credited": percentiles(end_to_end_revised),
        "_raw_hops": hops,
        "_raw_end_to_end": first_pass["credit_last"],
    }


def per_second(times: list[float], origin: float, end: float) -> list[int]:
    buckets = [0] * (int(max(end - origin, 0)) + 1)
    for at in times:
        index = int(at - origin)
        if 0 <= index < len(buckets):
            buckets[index] += 1
    return buckets


def process_summary(samples: Samples) -> dict[str, Any]:
    summary = {}
    for name, series in samples.process.items():
        if not series:
            continue
        cpu = [c for _, c, _ in series]
        summary[name] = {"cpu_mean_pct": round(statistics.fmean(cpu), 1), "cpu_max_pct": round(max(cpu), 1),
                         "cpu_seconds": round(sum(cpu) / 100, 1), "rss_max_mb": round(max(r for _, _, r in series), 1)}
    return dict(sorted(summary.items(), key=lambda item: -item[1]["cpu_seconds"]))


def summarise(run: Run, samples: Samples, started: float, finished: float, options: Options) -> dict[str, Any]:
    jobs = run.jobs
    completed = [j for j in jobs if j.completed_at is not None]
    ends = [j.completed_at for j in completed if j.completed_at is not None]
    elapsed = (max(ends) if ends else finished) - started
    latencies = latency_report(jobs)
    raw_hops = latencies.pop("_raw_hops")
    raw_end_to_end = latencies.pop("_raw_end_to_end")
    during = [e for e in run.events if e[1] >= started]
    by_topic = Counter(e[0] for e in during)
    offsets = samples.end_offsets
    broker_records = offsets[-1][1] - offsets[0][1] if len(offsets) > 1 else None
    broker_span = offsets[-1][0] - offsets[0][0] if len(offsets) > 1 else None
    first_submits = [j.marks["submit_http"][1] for j in jobs if 1 in j.marks["submit_http"]]
    submit_span = (max(first_submits) - min(first_submits)) if len(first_submits) > 1 else None
    routes = {route: percentiles(values) for route, values in sorted(run.api.timings.items())}
    return {
        "counts": {
            "submissions": len(jobs), "submitted": len(first_submits), "completed": len(completed),
            "failed": sum(1 for j in jobs if j.failed), "revised": sum(1 for j in jobs if j.attempts > 1),
            "fail_first_planned": sum(1 for j in jobs if j.fail_first),
            "events_followed": dict(sorted(by_topic.items())), "unmatched_events": dict(run.unmatched),
            "http_errors": dict(run.api.errors), "errors_sample": run.teacher_errors[:10],
            "transport_retries": run.api.transport_retries,
        },
        "timings": {
            "elapsed_s": round(elapsed, 2), "submit_phase_s": None if submit_span is None else round(submit_span, 2),
            "drained": len(completed) == len(jobs),
        },
        "throughput": {
            "completed_per_s": round(len(completed) / elapsed, 2) if elapsed > 0 else None,
            "submitted_per_s": round(len(first_submits) / submit_span, 2) if submit_span else None,
            "followed_events_per_s": round(len(during) / elapsed, 1) if elapsed > 0 else None,
            "broker_records": broker_records,
            "broker_records_per_s": round(broker_records / broker_span, 1) if broker_records and broker_span else None,
            "mean_event_bytes": round(statistics.fmean(e[3] for e in during)) if during else None,
        },
        "latency": latencies,
        "http_latency_ms": routes,
        "processes": process_summary(samples),
        "series": {
            "origin_epoch_s": started,
            "submitted_per_s": per_second(first_submits, started, finished),
            "completed_per_s": per_second([j.completed_at for j in completed if j.completed_at], started, finished),
            "events_per_s": per_second([e[1] for e in during], started, finished),
            "completions": [[round(j.completed_at - started, 3), round(j.completed_at - j.marks["submit_http"][1], 3)]
                            for j in completed if j.completed_at and 1 in j.marks["submit_http"]],
            "process": {k: [[round(a, 1), round(c, 1), round(r, 1)] for a, c, r in v] for k, v in samples.process.items()},
            "outbox_backlog": {k: [[round(a, 1), b] for a, b in v] for k, v in samples.backlog.items()},
            "consumer_lag": {k: [[round(a, 1), n] for a, n in v] for k, v in samples.lag.items()},
            "consumer_lag_error": samples.lag_error,
            "broker_end_offsets": [[round(a, 1), n] for a, n in offsets],
        },
        "_raw_hops": raw_hops,
        "_raw_end_to_end": raw_end_to_end,
    }


def parameters(options: Options, teachers: int) -> dict[str, Any]:
    return {
        "submissions": options.submissions, "rate_per_s": options.rate or "open loop (max)",
        "concurrency": options.concurrency, "credentials": options.credentials, "reviewers": options.reviewers,
        "teachers": teachers, "fail_share": options.fail_share, "poll_interval_s": options.poll,
        "timeout_s": options.timeout, "seed": options.seed, "state_mixes": [list(m) for m in STATE_MIXES],
        "ar_district_approval": "approved by a district-admin player polling pending credits",
        "service_env": QUICK_SERVICE_ENV, "broker_log": options.broker_log,
        "topic_partitions": {spec.name: spec.partitions for spec in platform_topics()},
        # Settings from this run's environment reach every service too (Platform.env_for): a before/after of one
        # setting is two runs with and without the variable, and the report says which it was.
        "inherited_env": {name: value for name, value in sorted(os.environ.items()) if name.startswith("MICROCRED_")},
        "replicas": options.replicas,
    }


def cpu_ms_per_submission(processes: dict[str, Any], completed: int) -> dict[str, float]:
    return {name: round(values["cpu_seconds"] * 1000 / max(completed, 1), 1) for name, values in processes.items()}


def idle_report(cpu_ms_per_s: dict[str, float], seconds: float, completed_per_s: float) -> dict[str, Any]:
    """What the idle platform spent by the clock (``samplers.idle_cpu``), and what that comes to per completed
    submission at this run's rate: the share of each process's CPU per submission that no saving per request or
    per event can remove, only fewer or slower clocks."""
    per_s = dict(sorted(cpu_ms_per_s.items(), key=lambda item: -item[1])) | {
        "all watched": round(sum(cpu_ms_per_s.values()), 1)}
    return {
        "seconds": seconds,
        "cpu_ms_per_s": per_s,
        "cpu_ms_per_submission_at_run_rate": {name: round(value / completed_per_s, 1) if completed_per_s else None
                                              for name, value in per_s.items()},
    }


def service_log_errors(platform: Platform) -> dict[str, Any]:
    """Errors and warnings the services logged during the run: the data directory goes with the platform."""
    found: dict[str, Any] = {}
    for service in SERVICES:
        path = platform.log_dir / f"{service}.log"
        counts: Counter[str] = Counter()
        samples: list[str] = []
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        for line in lines:
            level = re.search(r'"level":\s*"(\w+)"', line)
            name = level.group(1).upper() if level else ("ERROR" if "Traceback" in line else "")
            if name in ("WARNING", "ERROR", "CRITICAL"):
                counts[name] += 1
                if len(samples) < 3:
                    samples.append(line[:400])
        found[service] = {"counts": dict(counts), "first": samples}
    return found


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": host.python_version(), "os": host.platform()}


def headline(report: dict[str, Any]) -> dict[str, Any]:
    """The figures a before/after comparison puts side by side."""
    submissions = report["counts"]["submissions"] or 1
    end_to_end = report["latency"]["from_submit_first_pass"]["submit -> credit_last"]
    return {
        "date": report["date"], "submissions": report["counts"]["submissions"],
        "broker_log": report["parameters"].get("broker_log", "s3"),
        "completed_per_s": report["throughput"]["completed_per_s"],
        "submit_to_last_credit_ms": {q: end_to_end[q] for q in ("p50", "p95", "p99")},
        "cpu_ms_per_submission": cpu_ms_per_submission(report["processes"], submissions),
    }


def before_after(before: dict[str, Any], after: dict[str, Any], before_path: Path) -> dict[str, Any]:
    old, new = headline(before), headline(after)
    return {"before_file": str(before_path), "before": old, "after": new,
            "throughput_ratio": round((new["completed_per_s"] or 0) / (old["completed_per_s"] or 1), 2)}
