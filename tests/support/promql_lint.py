"""What the observability tests know about PromQL: the metric catalog, names and labels in an expression,
and promtool as the parser (it is Prometheus's own)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "docs" / "operations" / "metrics.md"
# Added by Prometheus from the scrape target (the catalog's "common labels") and by the scrape itself.
TARGET_LABELS = frozenset({"service", "instance", "environment", "job"})
# The catalog lists the reliability gauges "as now": they are per reviewer (services/review/adapters/metrics.py).
AS_NOW = {"microcred_review_reviewer_agreement": {"reviewer"}, "microcred_review_reviewer_kappa": {"reviewer"},
          "microcred_review_flagged_reviewers": set()}
HISTOGRAM_SERIES = ("_bucket", "_count", "_sum")


@dataclass(frozen=True)
class Metric:
    name: str
    type: str
    labels: frozenset[str]


def catalog() -> dict[str, Metric]:
    """Every metric in docs/operations/metrics.md's tables, with its type and labels."""
    metrics: dict[str, Metric] = {}
    columns: list[str] = []
    for line in CATALOG.read_text().splitlines():
        if not line.startswith("|"):
            columns = []
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells and cells[0] == "metric":
            columns = cells
            continue
        if not columns or set(cells[0]) <= {"-"}:
            continue
        row = dict(zip(columns, cells, strict=False))
        labels = set()
        for part in row.get("labels", "").split(","):
            token = re.match(r"\s*`(\w+)`", part)
            if token:
                labels.add(token.group(1))
        for name in re.findall(r"`(microcred_\w+)`", row["metric"]):
            metrics[name] = Metric(name, row["type"], frozenset(labels | AS_NOW.get(name, set())))
    return metrics


def series_names(metrics: dict[str, Metric]) -> dict[str, Metric]:
    """Names as they appear in queries: a histogram also answers to its _bucket, _count and _sum series."""
    names = dict(metrics)
    for metric in metrics.values():
        if metric.type == "histogram":
            names.update({metric.name + suffix: metric for suffix in HISTOGRAM_SERIES})
    return names


def selectors(expr: str) -> list[tuple[str, list[str]]]:
    """(metric, label names matched) for each ``metric{...}`` or bare ``microcred_*`` in the expression."""
    found = []
    for match in re.finditer(r"\b([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?", expr):
        name, matchers = match.group(1), match.group(2) or ""
        if not (name.startswith("microcred_") or name == "up" or name.startswith("slo:") or ":" in name):
            continue
        labels = re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers.strip("{}"))
        found.append((name, labels))
    return found


def grouping_labels(expr: str) -> set[str]:
    return {label.strip() for group in re.findall(r"\b(?:by|on|without|ignoring)\s*\(([^)]*)\)", expr)
            for label in group.split(",") if label.strip()}


def range_selectors(expr: str, functions: tuple[str, ...]) -> list[tuple[str, str]]:
    """(function, range) for each call of one of ``functions`` whose argument ends in a range selector."""
    calls = []
    for match in re.finditer(r"\b(" + "|".join(functions) + r")\s*\(", expr):
        depth, i = 1, match.end()
        while depth and i < len(expr):
            depth += {"(": 1, ")": -1}.get(expr[i], 0)
            i += 1
        argument = expr[match.end():i - 1]
        window = re.search(r"\[([^\]]+)\]\s*$", argument.strip())
        calls.append((match.group(1), window.group(1) if window else ""))
    return calls


def promtool_parse(promtool: str, expressions: dict[str, str], workdir: Path) -> str:
    """promtool's complaints about the expressions (empty when all parse), each checked as a recording rule."""
    rules = [{"record": f"lint:{name}", "expr": expr} for name, expr in expressions.items()]
    path = workdir / "expressions.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "lint", "rules": rules}]}))
    completed = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True,
                               timeout=120, check=False)
    return "" if completed.returncode == 0 else completed.stdout + completed.stderr
