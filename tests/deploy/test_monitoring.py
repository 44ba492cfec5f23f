"""The monitoring component: a PodMonitor per workload, the rules and dashboards exactly as opsgen writes them."""

from __future__ import annotations

import sys
from typing import Any

import k8s_checks as checks
import pytest
import yaml
from system_tools import require_tool

MONITORING = checks.K8S / "components" / "monitoring"
OBSERVABILITY = checks.ROOT / "deploy" / "observability"
sys.path.insert(0, str(OBSERVABILITY))

from opsgen.__main__ import outputs  # noqa: E402

Obj = dict[str, Any]


def overlays_with_monitoring() -> list[str]:
    return sorted(
        path.parent.name for path in (checks.K8S / "overlays").glob("*/kustomization.yaml")
        if "../../components/monitoring" in yaml.safe_load(path.read_text()).get("components", [])
    )


def test_every_dashboard_and_the_rule_in_the_component_are_what_opsgen_writes() -> None:
    generated = outputs()
    component = sorted(p.name for p in (MONITORING / "dashboards").glob("*.json"))
    assert component == sorted(p.name for p in (OBSERVABILITY / "dashboards").glob("*.json"))
    for name in component:
        text = (MONITORING / "dashboards" / name).read_text()
        assert text == (OBSERVABILITY / "dashboards" / name).read_text() == generated[MONITORING / "dashboards" / name]
    assert (MONITORING / "prometheusrule.yaml").read_text() == generated[MONITORING / "prometheusrule.yaml"]


def test_every_overlay_but_none_forgets_the_monitoring_component() -> None:
    assert overlays_with_monitoring() == ["local", "managed", "production"]


@pytest.fixture(scope="module", params=overlays_with_monitoring())
def rendered(request: pytest.FixtureRequest) -> list[Obj]:
    kubectl = require_tool("kubectl", "it renders the Kubernetes overlays (apt-get install kubectl)")
    return checks.render(kubectl, checks.K8S / "overlays" / request.param)


def test_each_dashboard_is_a_configmap_for_grafanas_sidecar(rendered: list[Obj]) -> None:
    maps = {o["metadata"]["name"]: o for o in rendered if o["kind"] == "ConfigMap"
            and o["metadata"].get("labels", {}).get("grafana_dashboard") == "1"}
    for path in (MONITORING / "dashboards").glob("*.json"):
        configmap = maps.get(f"microcred-dashboard-{path.stem}")
        assert configmap, f"no dashboard ConfigMap for {path.name}"
        assert configmap["data"] == {path.name: path.read_text()}


def test_each_workload_is_scraped_on_its_metrics_port_with_the_labels_the_dashboards_use(rendered: list[Obj]) -> None:
    monitors = [o for o in rendered if o["kind"] == "PodMonitor"]
    # Every workload that serves metrics says so on its pods; another's (MinIO from components/minio) serves none
    # the dashboards read, and is held to nothing here.
    deployments = [o for o in rendered if o["kind"] == "Deployment"
                   and o["spec"]["template"]["metadata"].get("annotations", {}).get("prometheus.io/scrape") == "true"]
    assert {d["metadata"]["name"] for d in deployments} >= {"catalog", "submission", "review", "award", "licensure",
                                                             "canary"}
    for deployment in deployments:
        template = deployment["spec"]["template"]
        labels = template["metadata"]["labels"]
        mine = [m for m in monitors if checks.selects(m["spec"]["selector"], labels)]
        assert len(mine) == 1, f"{checks.where(deployment)} is scraped by {len(mine)} PodMonitors"
        endpoint = mine[0]["spec"]["podMetricsEndpoints"][0]
        ports = {p["name"]: p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
        annotations = template["metadata"].get("annotations", {})
        assert endpoint["path"] == annotations["prometheus.io/path"] == "/metrics"
        assert str(ports[endpoint["port"]]) == annotations["prometheus.io/port"]
        targets = {r["targetLabel"]: r["sourceLabels"] for r in endpoint["relabelings"]}
        assert targets["service"] == ["__meta_kubernetes_pod_label_app"] and labels["app"] == deployment["metadata"]["name"]
        assert targets["environment"] == ["__meta_kubernetes_pod_label_microcred_io_environment"]
        assert labels.get("microcred.io/environment"), f"{checks.where(deployment)} pods carry no environment label"


def test_the_rules_are_deployed_where_kube_prometheus_stack_looks(rendered: list[Obj]) -> None:
    rules = [o for o in rendered if o["kind"] == "PrometheusRule"]
    assert [r["metadata"]["name"] for r in rules] == ["microcred"]
    assert rules[0]["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert all(m["metadata"]["labels"]["release"] == "kube-prometheus-stack"
               for m in rendered if m["kind"] == "PodMonitor")
