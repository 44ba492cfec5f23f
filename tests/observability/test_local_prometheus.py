"""``microcred up``'s Prometheus runs the compose configuration with local targets: same job, labels and rules."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from system_tools import require_tool

from microcred.devstack.monitoring import COMPOSE_CONFIG, RULES, local_config
from microcred.devstack.platform import SERVICES

LOCAL_TARGETS = {service: f"127.0.0.1:{15410 + i}" for i, service in enumerate(SERVICES)}


def _static_groups(config: dict) -> list[dict]:
    return [group for job in config["scrape_configs"] for group in job["static_configs"]]


def test_every_compose_target_is_moved_to_its_local_address_with_its_labels() -> None:
    compose = yaml.safe_load(COMPOSE_CONFIG.read_text())
    config = local_config(LOCAL_TARGETS | {"canary": "127.0.0.1:15415"})
    assert [job["job_name"] for job in config["scrape_configs"]] == [job["job_name"] for job in compose["scrape_configs"]]
    moved = {group["labels"]["service"]: (group["targets"], group["labels"]) for group in _static_groups(config)}
    for group in _static_groups(compose):
        service = group["labels"]["service"]
        targets, labels = moved[service]
        assert targets == [(LOCAL_TARGETS | {"canary": "127.0.0.1:15415"})[service]]
        assert labels == group["labels"]  # environment "local", as compose labels it
    assert config["global"]["scrape_interval"] == compose["global"]["scrape_interval"]


def test_a_watcher_that_does_not_run_is_left_out_rather_than_reported_down() -> None:
    config = local_config(LOCAL_TARGETS, environment="e2e", scrape_interval="2s")
    assert {group["labels"]["service"] for group in _static_groups(config)} == set(SERVICES)
    assert {group["labels"]["environment"] for group in _static_groups(config)} == {"e2e"}
    assert config["global"]["scrape_timeout"] == "2s"


def test_the_rules_are_this_checkouts_and_promtool_accepts_the_configuration(tmp_path: Path) -> None:
    config = local_config(LOCAL_TARGETS)
    assert config["rule_files"] == [str(path) for path in sorted(RULES.glob("*.yaml"))]
    assert config["rule_files"], "no rule files found"
    promtool = require_tool("promtool", "it checks the local Prometheus configuration (apt-get install prometheus)")
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
