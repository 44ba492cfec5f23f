"""Checks over rendered Kubernetes objects, each a function from objects to the problems it found.

They know no component by name: whatever an overlay renders is held to the same rules, so a component added
later is checked the day it is wired in. Each returns a list of sentences (empty when all is well), which lets
the tests show every check failing on a deliberately broken object.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SCHEMAS = K8S / "schemas"
# The Kubernetes release the core objects are checked against (kubernetes-validate ships its schemas).
KUBERNETES_VERSION = "1.34.0"

Obj = dict[str, Any]
POD_OWNERS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
# Long-running pods answer probes; a Job's pod runs to completion and has none.
SERVING = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}
# Read the shared ConfigMap, bootstrap servers included, but never connect to Kafka (services/canary, services/portal).
BROKERLESS = {"canary", "portal"}


def render(kubectl: str, directory: Path) -> list[Obj]:
    completed = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True,
                               timeout=120, check=False)
    assert completed.returncode == 0, f"kubectl kustomize {directory.relative_to(ROOT)}: {completed.stderr}"
    return [doc for doc in yaml.safe_load_all(completed.stdout) if doc]


def where(obj: Obj) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def pod_template(obj: Obj) -> Obj | None:
    if obj.get("kind") in POD_OWNERS:
        template: Obj = obj["spec"]["template"]
        return template
    if obj.get("kind") == "CronJob":
        template = obj["spec"]["jobTemplate"]["spec"]["template"]
        return template
    if obj.get("kind") == "Pod":
        return obj
    return None


def containers(objects: list[Obj], *, init: bool = True) -> Iterator[tuple[str, Obj, Obj, Obj]]:
    """(where, container, pod spec, owner) for every container of every pod an object describes."""
    for obj in objects:
        template = pod_template(obj)
        if template is None:
            continue
        spec = template["spec"]
        for key in ("containers", "initContainers") if init else ("containers",):
            for container in spec.get(key, []):
                yield f"{where(obj)} {key[:-1]} {container['name']}", container, spec, obj


def effective(container: Obj, pod: Obj, key: str) -> Any:
    """A securityContext field as Kubernetes applies it: the container's value wins over the pod's."""
    own = container.get("securityContext", {})
    return own[key] if key in own else pod.get("securityContext", {}).get(key)


# --- schemas ---------------------------------------------------------------------------------------


def core_schema_problems(objects: list[Obj]) -> tuple[list[str], list[Obj]]:
    """Problems of the objects Kubernetes itself defines, strictly (unknown fields too), and the rest."""
    problems, custom = [], []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            custom.append(obj)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{where(obj)}: {error.message} at /{'/'.join(map(str, error.path))}")
    return problems, custom


def custom_resource_problems(node: str, objects: list[Obj]) -> list[str]:
    """Every custom resource against the pinned operator release's CRD schema (deploy/k8s/schemas)."""
    if not objects:
        return []
    completed = subprocess.run([node, str(SCHEMAS / "validate.mjs")], input=json.dumps(objects), capture_output=True,
                               text=True, timeout=120, check=False, cwd=SCHEMAS)
    assert completed.returncode == 0, completed.stderr
    verdicts = json.loads(completed.stdout)
    return [f"{where(obj)}: {error}" for obj, errors in zip(objects, verdicts, strict=True) for error in errors]


# --- policy ----------------------------------------------------------------------------------------


def security_problems(objects: list[Obj]) -> list[str]:
    problems = []
    for place, container, pod, _ in containers(objects):
        own = container.get("securityContext", {})
        checks = {
            "may run as root": effective(container, pod, "runAsNonRoot") is True
            and effective(container, pod, "runAsUser") != 0,
            "has a writable root filesystem": own.get("readOnlyRootFilesystem") is True,
            "allows privilege escalation": own.get("allowPrivilegeEscalation") is False,
            "is privileged": own.get("privileged", False) is False,
            "keeps Linux capabilities": "ALL" in own.get("capabilities", {}).get("drop", [])
            and not own.get("capabilities", {}).get("add"),
        }
        problems += [f"{place} {what}" for what, ok in checks.items() if not ok]
    return problems


def probe_problems(objects: list[Obj]) -> list[str]:
    return [
        f"{place} has no {probe}"
        for place, container, _, owner in containers(objects, init=False)
        if owner["kind"] in SERVING
        for probe in ("livenessProbe", "readinessProbe")
        if probe not in container
    ]


def resource_problems(objects: list[Obj]) -> list[str]:
    return [
        f"{place} has no {resource} {bound[:-1]}"
        for place, container, _, _ in containers(objects)
        for bound in ("requests", "limits")
        for resource in ("cpu", "memory")
        if resource not in container.get("resources", {}).get(bound, {})
    ]


def image_problems(objects: list[Obj]) -> list[str]:
    """Every image any object names (containers, and custom resources such as CloudNativePG's imageName)."""

    def images(node: Any, path: str) -> Iterator[tuple[str, Any]]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("image", "imageName") and isinstance(value, str):
                    yield f"{path}.{key}", value
                else:
                    yield from images(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                yield from images(item, f"{path}[{index}]")

    problems = []
    for obj in objects:
        for path, image in images(obj, where(obj)):
            if "@sha256:" in image:
                continue
            name = image.rsplit("/", 1)[-1]
            if ":" not in name:
                problems.append(f"{path} {image} has no tag (means :latest)")
            elif name.endswith(":latest"):
                problems.append(f"{path} {image} uses :latest")
    return problems


def selects(selector: Obj | None, labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) applied to a pod's labels."""
    if selector is None:
        return False
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        present = key in labels
        ok = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]
        if not ok:
            return False
    return True


def replicas_floor(obj: Obj, objects: list[Obj]) -> int:
    """The fewest replicas a workload runs: its own count, or the least its autoscaler allows."""
    floor = int(obj["spec"].get("replicas", 1))
    for scaler in objects:
        target = scaler.get("spec", {}).get("scaleTargetRef", {})
        if scaler["kind"] in ("ScaledObject", "HorizontalPodAutoscaler") and target.get("name") == obj["metadata"]["name"]:
            floor = max(floor, int(scaler["spec"].get("minReplicaCount", scaler["spec"].get("minReplicas", 1))), 2)
    return floor


def disruption_budget_problems(objects: list[Obj]) -> list[str]:
    """Every workload that runs or scales to more than one replica has a PodDisruptionBudget, and none blocks
    every eviction. A single replica needs none: its budget could only forbid draining its node (minAvailable 1)
    or allow what no budget allows anyway (maxUnavailable 1), which is what the base gives the canary, so that a
    drain never waits on it. Every budget must select a workload."""
    budgets = [obj for obj in objects if obj["kind"] == "PodDisruptionBudget"]
    problems = []
    for budget in budgets:
        spec = budget["spec"]
        if spec.get("maxUnavailable") in (0, "0", "0%") or spec.get("minAvailable") == "100%":
            problems.append(f"{where(budget)} forbids every voluntary eviction")
    workloads = [obj for obj in objects if obj["kind"] in ("Deployment", "StatefulSet")]
    for workload in workloads:
        labels = workload["spec"]["template"]["metadata"].get("labels", {})
        covering = [b for b in budgets if selects(b["spec"].get("selector"), labels)]
        if replicas_floor(workload, objects) > 1 and not covering:
            problems.append(f"{where(workload)} runs more than one replica with no PodDisruptionBudget")
        for budget in covering:
            minimum = budget["spec"].get("minAvailable")
            if isinstance(minimum, int) and minimum >= replicas_floor(workload, objects):
                problems.append(f"{where(budget)} keeps all {minimum} replicas of {where(workload)}: no node can drain")
    for budget in budgets:
        if not any(selects(budget["spec"].get("selector"), w["spec"]["template"]["metadata"].get("labels", {}))
                   for w in workloads):
            problems.append(f"{where(budget)} selects no workload")
    return problems


def _allows(rules: list[Obj], port: int, protocol: str = "TCP") -> bool:
    for rule in rules:
        ports = rule.get("ports")
        if not ports:
            return True
        if any(p.get("port") in (port, str(port)) and p.get("protocol", "TCP") == protocol for p in ports):
            return True
    return False


def _reaches(rules: list[Obj], port: int, labels: dict[str, str]) -> bool:
    """Whether egress rules let a pod out to pods with these labels (in its namespace) on this port."""
    for rule in rules:
        if not _allows([rule], port):
            continue
        peers = rule.get("to")
        if not peers or any("podSelector" in peer and selects(peer["podSelector"], labels) for peer in peers):
            return True
    return False


def database_clusters(objects: list[Obj], container: Obj) -> set[str]:
    """The CloudNativePG clusters a container reads its database URL from (their <cluster>-app Secret), of those
    the objects define."""
    clusters = {obj["metadata"]["name"] for obj in objects if obj["kind"] == "Cluster"}
    refs = [env.get("valueFrom", {}).get("secretKeyRef", {}) for env in container.get("env", [])
            if env["name"] == "MICROCRED_DATABASE_URL"]
    return {ref["name"].removesuffix("-app") for ref in refs if ref.get("name", "").removesuffix("-app") in clusters}


def kafka_ports(objects: list[Obj], container: Obj) -> set[int]:
    """The broker ports a container is told to reach (MICROCRED_KAFKA_BOOTSTRAP_SERVERS from its ConfigMaps)."""
    configmaps = {obj["metadata"]["name"]: obj.get("data", {}) for obj in objects if obj["kind"] == "ConfigMap"}
    servers = ""
    for source in container.get("envFrom", []):
        name = source.get("configMapRef", {}).get("name")
        servers = configmaps.get(name, {}).get("MICROCRED_KAFKA_BOOTSTRAP_SERVERS", servers)
    for env in container.get("env", []):
        if env["name"] == "MICROCRED_KAFKA_BOOTSTRAP_SERVERS" and "value" in env:
            servers = env["value"]
    return {int(server.rsplit(":", 1)[1]) for server in servers.split(",") if ":" in server}


def network_policy_problems(objects: list[Obj]) -> list[str]:
    """A default-deny policy for every pod, DNS for every pod, and for each workload ingress on the ports it
    serves, egress to the Kafka bootstrap it is configured with and to the instances of the CloudNativePG cluster
    it reads its database URL from."""
    policies = [obj for obj in objects if obj["kind"] == "NetworkPolicy"]
    problems = []
    deny = [
        p for p in policies
        if p["spec"].get("podSelector") == {} and {"Ingress", "Egress"} <= set(p["spec"].get("policyTypes", []))
        and not p["spec"].get("ingress") and not p["spec"].get("egress")
    ]
    if not deny:
        problems.append("no default-deny NetworkPolicy (every pod, Ingress and Egress, no rule)")
    everyone = [p for p in policies if p["spec"].get("podSelector") == {}]
    if not any(_allows(p["spec"].get("egress", []), 53, "UDP") for p in everyone):
        problems.append("no NetworkPolicy lets every pod reach DNS (53/UDP)")
    for obj in objects:
        if obj["kind"] not in SERVING | {"Job"}:
            continue
        labels = obj["spec"]["template"]["metadata"].get("labels", {})
        mine = [p for p in policies if selects(p["spec"].get("podSelector"), labels)]
        ingress = [rule for p in mine for rule in p["spec"].get("ingress", [])]
        egress = [rule for p in mine for rule in p["spec"].get("egress", [])]
        spec = obj["spec"]["template"]["spec"]
        for container in spec.get("containers", []):
            for port in container.get("ports", []):
                if not _allows(ingress, port["containerPort"], port.get("protocol", "TCP")):
                    problems.append(f"{where(obj)} serves {port['containerPort']} but no policy lets traffic in")
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            if labels.get("app") in BROKERLESS:
                continue
            for port in kafka_ports(objects, container):
                if not _allows(egress, port):
                    problems.append(f"{where(obj)} {container['name']} is told to reach Kafka on {port}, "
                                    "but no policy lets it out")
            # CloudNativePG labels a cluster's instances cnpg.io/cluster=<cluster>.
            for cluster in database_clusters(objects, container):
                if not _reaches(egress, 5432, {"cnpg.io/cluster": cluster, "cnpg.io/podRole": "instance"}):
                    problems.append(f"{where(obj)} {container['name']} reads its database from the cluster {cluster}, "
                                    "but no policy lets it out to its instances on 5432")
    problems += strimzi_egress_problems(objects, policies)
    return problems


# Ports Strimzi's pods open between themselves: KRaft controllers, replication and the operators' admin listener,
# the Kafka agent's broker state (the cluster operator reads it), and the clients' TLS listener.
STRIMZI_PORTS = (9090, 9091, 8443, 9093)


def strimzi_egress_problems(objects: list[Obj], policies: list[Obj]) -> list[str]:
    """Strimzi writes NetworkPolicies for its pods' ingress only. Under the default deny, the pods of each Kafka
    cluster (labelled strimzi.io/cluster) must reach each other and the Kubernetes API, and the cluster operator
    (strimzi.io/kind=cluster-operator, installed in the namespace) the API and the brokers' control ports."""
    problems = []
    for kafka in (obj for obj in objects if obj["kind"] == "Kafka"):
        pods = {"strimzi.io/cluster": kafka["metadata"]["name"]}
        for who, labels, needs in (("the brokers of " + kafka["metadata"]["name"], pods, STRIMZI_PORTS),
                                   ("the Strimzi cluster operator", {"strimzi.io/kind": "cluster-operator"},
                                    STRIMZI_PORTS[:3])):
            egress = [rule for p in policies if selects(p["spec"].get("podSelector"), labels)
                      for rule in p["spec"].get("egress", [])]
            problems += [f"{who} cannot reach the brokers on {port}" for port in needs
                         if not _reaches(egress, port, pods)]
            if not any(_allows([rule], 6443) and any("ipBlock" in peer for peer in rule.get("to", []))
                       for rule in egress):
                problems.append(f"{who} cannot reach the Kubernetes API")
    return problems
