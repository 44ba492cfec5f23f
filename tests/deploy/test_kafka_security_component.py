"""components/kafka-security, rendered with kustomize over the base through a throwaway overlay.

It must give every Deployment that runs a Kafka client (the five services, in their migrate and server
containers) the Strimzi cluster's TLS listener, SCRAM-SHA-512 as its own KafkaUser with the password from
that user's Secret, and the cluster CA as a read-only file; and what it gives must be what production mode
accepts. The canary has no Kafka client and gets nothing.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from system_tools import require_tool

from microcred.runtime.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SERVICES = ("catalog", "submission", "review", "award", "licensure")
CA_FILE = "/etc/microcred/kafka-ca/ca.crt"

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[Obj]:
    kubectl = require_tool("kubectl", "it renders the Kubernetes overlays (apt-get install kubectl)")
    overlay = tmp_path_factory.mktemp("kafka-security-overlay")
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(K8S / "base", overlay)],
        "components": [os.path.relpath(K8S / "components" / "kafka-security", overlay)],
    }))
    out = subprocess.run([kubectl, "kustomize", "--load-restrictor=LoadRestrictionsNone", str(overlay)],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def deployments(objects: list[Obj]) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}


def shared_config(objects: list[Obj]) -> dict[str, str]:
    (config,) = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("microcred-config")]
    return dict(config["data"])


def pod_containers(deployment: Obj) -> list[Obj]:
    spec = deployment["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def test_the_shared_config_names_the_strimzi_tls_listener_scram_and_the_mounted_ca(rendered: list[Obj]) -> None:
    config = shared_config(rendered)
    assert {k: v for k, v in config.items() if k.startswith("MICROCRED_KAFKA_")} == {
        "MICROCRED_KAFKA_BOOTSTRAP_SERVERS": "microcred-kafka-bootstrap:9093",
        "MICROCRED_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "MICROCRED_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "MICROCRED_KAFKA_SSL_CAFILE": CA_FILE,
    }


def test_every_service_container_logs_in_as_its_own_kafka_user_with_the_ca_mounted_read_only(
    rendered: list[Obj]
) -> None:
    found = deployments(rendered)
    assert set(SERVICES) <= found.keys()
    for service in SERVICES:
        deployment = found[service]
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert volumes["kafka-cluster-ca"]["secret"]["secretName"] == "microcred-cluster-ca-cert"
        assert volumes["kafka-cluster-ca"]["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
        containers = pod_containers(deployment)
        assert [c["name"] for c in containers] == ["migrate", "server"], service
        for container in containers:
            where = f"{service}/{container['name']}"
            env = {e["name"]: e for e in container.get("env", [])}
            assert env["MICROCRED_KAFKA_SASL_USERNAME"].get("value") == f"microcred-{service}", where
            assert env["MICROCRED_KAFKA_SASL_PASSWORD"].get("valueFrom") == {
                "secretKeyRef": {"name": f"microcred-{service}", "key": "password"}}, where
            mounts = {m["name"]: m for m in container.get("volumeMounts", [])}
            assert mounts["kafka-cluster-ca"]["readOnly"] is True, where
            assert mounts["kafka-cluster-ca"]["mountPath"] == os.path.dirname(CA_FILE), where
            assert any(s.get("configMapRef", {}).get("name", "").startswith("microcred-config")
                       for s in container["envFrom"]), f"{where} does not read the shared config"


def test_the_canary_gets_no_kafka_principal_because_it_has_no_kafka_client(rendered: list[Obj]) -> None:
    canary = deployments(rendered)["canary"]
    assert not any(e["name"].startswith("MICROCRED_KAFKA_") for c in pod_containers(canary) for e in c.get("env", []))
    assert "kafka-cluster-ca" not in {v["name"] for v in canary["spec"]["template"]["spec"]["volumes"]}


def test_what_the_component_gives_a_service_is_what_production_mode_accepts(
    rendered: list[Obj], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pod's environment as the kubelet would build it: the shared config, then the container's env, each Secret
    # reference replaced by a value of the shape its key holds (a database URL is a URL), and the CA at a path that
    # exists here.
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text("a mounted CA")
    server = next(c for c in pod_containers(deployments(rendered)["review"]) if c["name"] == "server")
    secret_values = {"database-url": "postgresql://review:from-the-secret@review-db-rw:5432/review",
                     "password": "from-the-secret"}
    environment = shared_config(rendered) | {
        e["name"]: e["value"] if "value" in e else secret_values[e["valueFrom"]["secretKeyRef"]["key"]]
        for e in server.get("env", [])}
    environment["MICROCRED_KAFKA_SSL_CAFILE"] = str(ca_file)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = ServiceSettings()
    assert (settings.mode, settings.kafka_security_protocol, settings.kafka_sasl_username) == (
        "production", "SASL_SSL", "microcred-review")
    # And without the component the base alone would be refused: its broker is PLAINTEXT.
    monkeypatch.setenv("MICROCRED_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    for name in ("MICROCRED_KAFKA_SASL_USERNAME", "MICROCRED_KAFKA_SASL_PASSWORD", "MICROCRED_KAFKA_SSL_CAFILE"):
        monkeypatch.delenv(name)
    with pytest.raises(ValueError, match="PLAINTEXT"):
        ServiceSettings()
