"""The engines' components rendered with the base (tests/deploy/engines): CloudNativePG clusters the services
read their URLs from, KEDA scaling that never asks for more replicas than partitions can keep busy, and a
disruption budget and spread for every Deployment. kubectl renders offline; no cluster is needed.
"""

from __future__ import annotations

import importlib
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from system_tools import require_tool

from microcred.events.topics import topic_spec
from microcred.runtime.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
RENDERED = Path(__file__).resolve().parent / "engines"
SERVICES = ("catalog", "submission", "review", "award", "licensure")
BARMAN = "barman-cloud.cloudnative-pg.io"

Obj = dict[str, Any]


def partitions(topic: str) -> int:
    """A topic's partition count, from libs/events' topic registry (microcred.events.topics)."""
    return topic_spec(topic).partitions


@pytest.fixture(scope="module")
def rendered() -> list[Obj]:
    kubectl = require_tool("kubectl", "the engines' components are rendered with kubectl kustomize")
    out = subprocess.run([kubectl, "kustomize", str(RENDERED)], check=True, capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module")
def subscriptions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[tuple[str, str]]]:
    """(consumer group, topic) of every subscriber each service registers, read from the built apps."""
    found = {}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MICROCRED_AUTH_JWKS_URL", "https://idp.example/jwks")
        for service in SERVICES:
            app = importlib.import_module(f"microcred.{service}.bootstrap").build_app()
            found[service] = {(s.group_id, s.contract.topic) for s in app.state.runtime.broker.subscriptions}
    return found


def named(objects: list[Obj], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def workers_per_topic(objects: list[Obj]) -> int:
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("microcred-config"))
    default = ServiceSettings.model_fields["consumer_workers_per_topic"].default
    return int(config["data"].get("MICROCRED_CONSUMER_WORKERS_PER_TOPIC", default))


def test_each_consumer_service_scales_on_the_lag_of_exactly_the_groups_it_reads_with(
    rendered: list[Obj], subscriptions: dict[str, set[tuple[str, str]]]
) -> None:
    scaled = named(rendered, "ScaledObject")
    assert set(scaled) == {s for s, subs in subscriptions.items() if subs}
    for service, obj in scaled.items():
        assert obj["spec"]["scaleTargetRef"]["name"] == service
        kafka = [t for t in obj["spec"]["triggers"] if t["type"] == "kafka"]
        assert {(t["metadata"]["consumerGroup"], t["metadata"]["topic"]) for t in kafka} == subscriptions[service]
        for trigger in kafka:
            meta = trigger["metadata"]
            # The service's own bootstrap servers (its ConfigMap, which an overlay may point at another Kafka).
            assert meta["bootstrapServersFromEnv"] == "MICROCRED_KAFKA_BOOTSTRAP_SERVERS"
            assert obj["spec"]["scaleTargetRef"]["envSourceContainerName"] == "server"
            assert (meta["sasl"], meta["tls"]) == ("scram_sha512", "enable")
            # KEDA then holds each topic's trigger to that topic's partitions.
            assert meta.get("allowIdleConsumers", "false") == "false"
            assert int(meta["lagThreshold"]) > 0
            assert trigger["authenticationRef"]["name"] == f"{service}-kafka"
        assert any(t["type"] == "cpu" for t in obj["spec"]["triggers"]), f"{service} has no CPU trigger"


def test_no_autoscaler_asks_for_more_replicas_than_the_partitions_can_keep_busy(
    rendered: list[Obj], subscriptions: dict[str, set[tuple[str, str]]]
) -> None:
    # A replica runs workers_per_topic consumers in each group; past (partitions / workers) replicas of the
    # busiest topic it reads, a new replica holds no partition at all.
    workers = workers_per_topic(rendered)
    for service, obj in named(rendered, "ScaledObject").items():
        spec = obj["spec"]
        busiest = max(partitions(topic) for _, topic in subscriptions[service])
        assert 2 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        assert spec["maxReplicaCount"] * workers <= busiest, (
            f"{service}: {spec['maxReplicaCount']} replicas x {workers} consumers per topic, but its busiest "
            f"topic has {busiest} partitions")


def test_the_scalers_log_in_as_the_service_with_the_cluster_ca(rendered: list[Obj]) -> None:
    for service, auth in named(rendered, "TriggerAuthentication").items():
        service = service.removesuffix("-kafka")
        refs = {r["parameter"]: (r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]}
        assert refs == {"password": (f"microcred-{service}", "password"),
                        "ca": ("microcred-cluster-ca-cert", "ca.crt")}
        assert [(e["parameter"], e["containerName"]) for e in auth["spec"]["env"]] == [("username", "server")]


def test_catalog_which_reads_no_topic_scales_on_cpu_alone(rendered: list[Obj]) -> None:
    hpa = named(rendered, "HorizontalPodAutoscaler")["catalog"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "catalog" and hpa["minReplicas"] >= 2
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]


def test_an_autoscaled_deployment_names_no_replica_count_for_an_apply_to_reset(rendered: list[Obj]) -> None:
    for name, deployment in named(rendered, "Deployment").items():
        if name in SERVICES:
            assert "replicas" not in deployment["spec"], name


def test_every_deployment_has_a_disruption_budget_and_spreads_over_nodes_and_zones(rendered: list[Obj]) -> None:
    budgets = named(rendered, "PodDisruptionBudget")
    for name, deployment in named(rendered, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets.values()
                    if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert covering, f"no PodDisruptionBudget selects Deployment/{name}"
        # maxUnavailable never blocks a drain outright, whatever count the autoscaler chose.
        assert all("maxUnavailable" in b["spec"] for b in covering)
        keys = {c["topologyKey"] for c in deployment["spec"]["template"]["spec"].get("topologySpreadConstraints", [])}
        assert "kubernetes.io/hostname" in keys, f"Deployment/{name} does not spread over nodes"
        if name in SERVICES:
            assert "topology.kubernetes.io/zone" in keys, f"Deployment/{name} does not spread over zones"


def test_every_service_reads_its_database_url_from_its_own_clusters_app_secret(rendered: list[Obj]) -> None:
    deployments = named(rendered, "Deployment")
    for service in SERVICES:
        pod = deployments[service]["spec"]["template"]["spec"]
        for container in pod["containers"] + pod.get("initContainers", []):
            env = {e["name"]: e for e in container.get("env", [])}
            assert env["MICROCRED_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
                "name": f"{service}-db-app", "key": "uri"}, f"{service} {container['name']}"


def test_every_service_has_its_own_cluster_of_three_archiving_and_backed_up_nightly(rendered: list[Obj]) -> None:
    clusters = named(rendered, "Cluster")
    backups = {b["spec"]["cluster"]["name"]: b for b in named(rendered, "ScheduledBackup").values()}
    monitors = {m["spec"]["selector"]["matchLabels"]["cnpg.io/cluster"] for m in named(rendered, "PodMonitor").values()}
    stores = named(rendered, "ObjectStore")
    assert set(clusters) == {f"{s}-db" for s in SERVICES}
    for service in SERVICES:
        spec = clusters[f"{service}-db"]["spec"]
        assert spec["instances"] == 3
        assert spec["bootstrap"]["initdb"]["database"] == service
        # The PodMonitor is a separate object (it carries the label kube-prometheus-stack selects by).
        assert "enablePodMonitor" not in spec.get("monitoring", {})
        archiver = [p for p in spec["plugins"] if p.get("isWALArchiver")]
        assert [p["name"] for p in archiver] == [BARMAN]
        assert archiver[0]["parameters"]["barmanObjectName"] in stores
        backup = backups[f"{service}-db"]["spec"]
        assert backup["method"] == "plugin" and backup["pluginConfiguration"]["name"] == BARMAN
        assert len(backup["schedule"].split()) == 6, "CloudNativePG schedules carry a seconds field"
        assert f"{service}-db" in monitors


def test_object_store_credentials_are_referenced_never_committed(rendered: list[Obj]) -> None:
    assert not [o for o in rendered if o["kind"] == "Secret"]
    for store in named(rendered, "ObjectStore").values():
        credentials = store["spec"]["configuration"]["s3Credentials"]
        assert {credentials[k]["name"] for k in ("accessKeyId", "secretAccessKey")} == {"microcred-pg-backups"}
