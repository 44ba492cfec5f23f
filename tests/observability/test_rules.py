"""The alert rules: valid for Prometheus, unit-tested alert by alert, each with a runbook that exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from opsgen.__main__ import outputs
from opsgen.rules import RUNBOOK_BASE, prometheus_rule, rule_files
from promql_lint import ROOT, TARGET_LABELS, catalog, grouping_labels, selectors, series_names
from system_tools import require_tool

OBSERVABILITY = ROOT / "deploy" / "observability"
RULE_FILES = sorted((OBSERVABILITY / "rules").glob("*.yaml"))
UNIT_TESTS = sorted((Path(__file__).parent / "rules").glob("*.test.yaml"))
RUNBOOKS = ROOT / "docs" / "operations" / "runbooks"


def promtool() -> str:
    return require_tool("promtool", "the alert rules are checked and unit-tested with Debian's prometheus package")


def committed_rules() -> list[dict[str, Any]]:
    return [rule for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"]]


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in committed_rules() if "alert" in rule]


def test_committed_dashboards_and_rules_are_what_the_generator_writes() -> None:
    stale = [str(path.relative_to(ROOT)) for path, text in outputs().items()
             if not path.exists() or path.read_text() != text]
    assert not stale, f"regenerate with `make observability`: {stale}"


def test_the_prometheus_rule_for_kubernetes_carries_exactly_the_rule_files_groups() -> None:
    custom_resource = yaml.safe_load((ROOT / "deploy/k8s/components/monitoring/prometheusrule.yaml").read_text())
    groups = [group for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]]
    assert custom_resource["kind"] == "PrometheusRule"
    def by_name(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(items, key=lambda group: group["name"])

    assert by_name(custom_resource["spec"]["groups"]) == by_name(groups) == by_name(prometheus_rule()["spec"]["groups"])
    assert sorted(p.name for p in RULE_FILES) == sorted(rule_files())


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_rule_file_passes_promtool_check(path: Path) -> None:
    completed = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True,
                               timeout=120, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.parametrize("path", UNIT_TESTS, ids=lambda p: p.name)
def test_alert_unit_tests_pass_in_promtool(path: Path) -> None:
    completed = subprocess.run([promtool(), "test", "rules", path.name], cwd=path.parent, capture_output=True,
                               text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_every_alert_is_unit_tested_both_firing_and_staying_quiet() -> None:
    fires: set[str] = set()
    quiet: set[str] = set()
    for path in UNIT_TESTS:
        document = yaml.safe_load(path.read_text())
        for case in document["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names - fires == set(), "alerts never shown to fire"
    assert names - quiet == set(), "alerts never shown to stay quiet"
    assert (fires | quiet) - names == set(), "unit tests of alerts that do not exist"


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: r["alert"])
def test_alert_is_named_labelled_and_annotated_for_the_person_on_call(rule: dict[str, Any]) -> None:
    assert re.fullmatch(r"(?:[A-Z][a-z0-9]+)+", rule["alert"])
    assert rule["labels"]["severity"] in {"page", "ticket"}
    annotations = rule["annotations"]
    assert annotations["summary"] and "{{" not in annotations["summary"]
    assert "{{ $labels." in annotations["description"] or "{{ $value" in annotations["description"]
    assert annotations["runbook_url"].startswith(RUNBOOK_BASE + "/")


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: r["alert"])
def test_alert_runbook_exists_and_has_a_section_for_the_alert(rule: dict[str, Any]) -> None:
    page, _, anchor = rule["annotations"]["runbook_url"].removeprefix(RUNBOOK_BASE + "/").partition("#")
    runbook = RUNBOOKS / page
    assert runbook.is_file(), f"{rule['alert']}: {runbook} is missing"
    text = runbook.read_text()
    assert f"## {rule['alert']}\n" in text and anchor == rule["alert"].lower()
    for heading in ("What it means", "What to check", "What to do"):
        assert heading in text.split(f"## {rule['alert']}\n", 1)[1].split("\n## ", 1)[0], heading


def test_rules_name_only_catalogued_metrics_and_labels() -> None:
    known = series_names(catalog())
    recorded = {rule["record"] for rule in committed_rules() if "record" in rule}
    all_labels = TARGET_LABELS | {"le", "slo"} | {label for m in known.values() for label in m.labels}
    problems = []
    for rule in committed_rules():
        expr = rule["expr"]
        for name, labels in selectors(expr):
            if name == "up" or name in recorded:
                allowed = all_labels
            elif name in known:
                allowed = known[name].labels | TARGET_LABELS | ({"le"} if name.endswith("_bucket") else set())
            else:
                problems.append(f"{rule.get('alert') or rule.get('record')}: {name} is not in the catalog")
                continue
            problems += [f"{name}: unknown label {label}" for label in labels if label not in allowed]
        problems += [f"grouping by unknown label {label}" for label in grouping_labels(expr) - all_labels]
    assert not problems
