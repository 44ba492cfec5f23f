"""Dashboard lint, in the spirit of grafana/dashboard-linter: every panel says what it shows and in what unit,
every query uses the templated data source, parses as PromQL, rates over $__rate_interval and names only
metrics and labels from docs/operations/metrics.md."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from promql_lint import (
    ROOT,
    TARGET_LABELS,
    catalog,
    grouping_labels,
    promtool_parse,
    range_selectors,
    selectors,
    series_names,
)
from system_tools import require_tool

DASHBOARDS = sorted((ROOT / "deploy" / "observability" / "dashboards").glob("*.json"))
RULE_FILES = sorted((ROOT / "deploy" / "observability" / "rules").glob("*.yaml"))
TEMPLATED = {"uid": "${datasource}", "type": "prometheus"}
# What Grafana puts in place of its variables before the query reaches Prometheus.
SUBSTITUTIONS = {"$__rate_interval": "1m", "$__range": "6h", "$environment": "prod", "$service": "review|award",
                 "$state": "OH|TX"}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def queries() -> list[tuple[str, str]]:
    return [(f"{path.stem}: {panel['title']} ({target['refId']})", target["expr"])
            for path in DASHBOARDS for panel in panels(load(path)) for target in panel["targets"]]


def test_the_five_dashboards_are_there() -> None:
    assert [p.stem for p in DASHBOARDS] == ["kafka", "overview", "review", "service", "states"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_templates_its_data_source_and_environment(path: Path) -> None:
    dashboard = load(path)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert "environment" in variables
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == TEMPLATED
    uids = [load(p)["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_has_a_title_a_description_a_unit_and_the_templated_data_source(path: Path) -> None:
    for panel in panels(load(path)):
        assert panel["title"].strip(), panel
        assert len(panel.get("description", "").strip()) > 20, panel["title"]
        assert panel["fieldConfig"]["defaults"].get("unit"), panel["title"]
        assert panel["datasource"] == TEMPLATED, panel["title"]
        assert panel["targets"], panel["title"]
        assert all(t["datasource"] == TEMPLATED for t in panel["targets"]), panel["title"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_variable_a_query_uses_is_defined(path: Path) -> None:
    dashboard = load(path)
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    for panel in panels(dashboard):
        for target in panel["targets"]:
            used = set(re.findall(r"\$(?!__)(\w+)", target["expr"]))
            assert used <= defined, (panel["title"], used - defined)


def test_every_query_filters_by_environment() -> None:
    assert [name for name, expr in queries() if 'environment="$environment"' not in expr] == []


def test_rates_use_rate_interval_and_totals_the_dashboard_range() -> None:
    problems = []
    for name, expr in queries():
        for function, window in range_selectors(expr, ("rate", "irate")):
            if window != "$__rate_interval":
                problems.append(f"{name}: {function} over [{window}]")
        for function, window in range_selectors(expr, ("increase",)):
            if window not in {"$__rate_interval", "$__range"}:
                problems.append(f"{name}: {function} over [{window}]")
    assert not problems


def test_every_query_parses_as_promql(tmp_path: Path) -> None:
    promtool = require_tool("promtool", "dashboard queries are parsed by Prometheus's own parser")
    expressions = {}
    for i, (_, expr) in enumerate(queries()):
        for variable, value in SUBSTITUTIONS.items():
            expr = expr.replace(variable, value)
        expressions[f"q{i}"] = expr
    assert promtool_parse(promtool, expressions, tmp_path) == ""


def test_the_parse_check_catches_a_broken_query(tmp_path: Path) -> None:
    promtool = require_tool("promtool", "dashboard queries are parsed by Prometheus's own parser")
    assert promtool_parse(promtool, {"broken": "sum by (service (rate(x[1m]))"}, tmp_path) != ""


def test_queries_name_only_catalogued_metrics_and_labels() -> None:
    known = series_names(catalog())
    recorded = {rule["record"] for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]
                for rule in group["rules"] if "record" in rule}
    all_labels = TARGET_LABELS | {"le", "slo"} | {label for m in known.values() for label in m.labels}
    problems = []
    for name, expr in queries():
        for metric, labels in selectors(expr):
            if metric == "up" or metric in recorded:
                allowed = all_labels
            elif metric in known:
                allowed = known[metric].labels | TARGET_LABELS | ({"le"} if metric.endswith("_bucket") else set())
            else:
                problems.append(f"{name}: {metric} is not in docs/operations/metrics.md")
                continue
            problems += [f"{name}: {metric} has no label {label}" for label in labels if label not in allowed]
        problems += [f"{name}: grouping by unknown label {label}" for label in grouping_labels(expr) - all_labels]
    assert not problems


def test_the_catalog_check_catches_a_misspelled_metric_and_label() -> None:
    known = series_names(catalog())
    assert "microcred_consumer_lag_seconds" in known and "microcred_consumer_lag_second" not in known
    assert "partition" in known["microcred_consumer_lag_seconds"].labels
    assert "state" not in known["microcred_consumer_lag_seconds"].labels
    assert "le" not in known["microcred_flow_award_to_credit_seconds_bucket"].labels  # added for buckets only
