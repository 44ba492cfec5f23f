"""Replicas in the pipeline benchmark: ``--replicas submission=2`` runs two processes of a service (see
``Platform``'s replicas), and this says what each replica held and puts runs of one session side by side.

    python benchmarks/replicas.py compare OUT.json RUN.json [RUN.json ...]

writes OUT.json: the first run's whole report plus ``same_session``, the headline of every run given
(completed/s, CPU-ms per submission per process, submit-to-credit percentiles, the worst consumer lag).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from microcred.devstack.platform import Platform, service_of


def parse_replicas(text: str) -> dict[str, int]:
    """``submission=2,review=2`` as a mapping (Platform checks the names and counts)."""
    found = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        service, _, count = item.partition("=")
        if not count.isdigit():
            raise argparse.ArgumentTypeError(f"--replicas takes service=count, not {item!r}")
        found[service] = int(count)
    return found


def held_partitions(platform: Platform) -> dict[str, dict[str, list[int]]]:
    """Per process of a replicated service, the partitions of each group it held at the end (each replica
    exports the lag of its own partitions only), so a report shows how the work was shared."""
    held: dict[str, dict[str, list[int]]] = {}
    for instance, process in platform.processes.items():
        if platform.replicas[service_of(instance)] < 2 or process.poll() is not None:
            continue
        groups: dict[str, list[int]] = defaultdict(list)
        text = httpx.get(f"{platform.url(instance)}/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            if family.name == "microcred_consumer_lag_messages":
                for sample in family.samples:
                    groups[sample.labels["group"]].append(int(sample.labels["partition"]))
        held[instance] = {group: sorted(partitions) for group, partitions in sorted(groups.items())}
    return held


def run_headline(report: dict[str, Any]) -> dict[str, Any]:
    from pipeline.report import headline

    lag = report["series"]["consumer_lag"]
    worst = max(((group, max((n for _, n in series), default=0)) for group, series in lag.items()),
                key=lambda item: item[1], default=(None, 0))
    figures = headline(report)
    cpu = figures["cpu_ms_per_submission"]
    machine = cpu.get("machine (all processes)", 0.0)
    return figures | {
        # The host is shared: what the machine spent beyond the platform and the generator was someone else's.
        "others_cpu_ms_per_submission": round(machine - sum(v for k, v in cpu.items() if not k.startswith("machine")), 1),
        "replicas": report["parameters"].get("replicas", {}),
        "machine_cpu_mean_pct": report["processes"].get("machine (all processes)", {}).get("cpu_mean_pct"),
        "max_consumer_lag": {"group": worst[0], "messages": worst[1]},
        "drained": report["timings"]["drained"],
    }


def compare(output: Path, runs: list[Path]) -> None:
    reports = [json.loads(path.read_text()) for path in runs]
    combined = reports[0] | {"same_session": [run_headline(r) | {"file": p.name} for r, p in zip(reports, runs,
                                                                                                    strict=True)]}
    output.write_text(json.dumps(combined, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("command", choices=("compare",))
    parser.add_argument("output", type=Path)
    parser.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args()
    compare(args.output, args.runs)
    sys.exit(0)
