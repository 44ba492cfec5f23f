"""Every overlay under deploy/k8s/overlays renders and passes every check, with no cluster.

kubectl renders each overlay (in CI a missing kubectl fails the test); kubernetes-validate checks the objects
Kubernetes defines against its schemas (unknown fields too); every custom resource is checked against the CRD
schema of the pinned operator release (deploy/k8s/schemas, run by Node.js); then the policy rules. The second
half breaks a good object on purpose and shows each check catching it.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import k8s_checks as checks
import pytest
import yaml
from node_packages import npm_ci, require_node
from system_tools import require_tool

OVERLAYS = sorted(path.parent.name for path in (checks.K8S / "overlays").glob("*/kustomization.yaml"))
POLICIES = {
    "security": checks.security_problems,
    "probes": checks.probe_problems,
    "resources": checks.resource_problems,
    "images": checks.image_problems,
    "disruption budgets": checks.disruption_budget_problems,
    "network policies": checks.network_policy_problems,
}
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Obj]]:
    kubectl = require_tool("kubectl", "it renders the Kubernetes overlays (apt-get install kubectl)")
    return {overlay: checks.render(kubectl, checks.K8S / "overlays" / overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="module")
def node() -> str:
    require_node("the custom resources are checked against the operators' CRD schemas")
    npm_ci(checks.SCHEMAS)
    return require_tool("node", "it runs the CRD schema validators")


def test_the_three_overlays_are_there() -> None:
    assert set(OVERLAYS) >= {"local", "production", "managed"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_core_objects_are_valid_for_the_pinned_kubernetes_release(rendered: dict[str, list[Obj]], overlay: str) -> None:
    problems, _ = checks.core_schema_problems(rendered[overlay])
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_are_valid_for_the_pinned_operator_releases(
    rendered: dict[str, list[Obj]], node: str, overlay: str
) -> None:
    _, custom = checks.core_schema_problems(rendered[overlay])
    problems = checks.custom_resource_problems(node, custom)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("policy", POLICIES)
def test_overlay_follows_the_policy(rendered: dict[str, list[Obj]], overlay: str, policy: str) -> None:
    problems = POLICIES[policy](rendered[overlay])
    assert not problems, "\n".join(problems)


SERVICES = ("catalog", "submission", "review", "award", "licensure")
# What each overlay is made of (deploy/k8s/README.md): the operators' components where the operators run, the
# settings and scalers everywhere.
COMPONENTS = {
    "local": {"strimzi", "kafka-security", "cloudnative-pg", "minio", "autoscaling", "monitoring", "network-policies",
              "observability"},
    "production": {"strimzi", "state-agencies", "kafka-security", "cloudnative-pg", "autoscaling", "monitoring",
                   "network-policies", "observability"},
    "managed": {"kafka-security", "autoscaling", "monitoring", "network-policies", "observability"},
}


def env_of(objects: list[Obj], service: str, name: str) -> Obj | None:
    deployment = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == service)
    server = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "server")
    return next((e for e in server.get("env", []) if e["name"] == name), None)


def shared_config(objects: list[Obj]) -> dict[str, str]:
    config: dict[str, str] = next(o for o in objects if o["kind"] == "ConfigMap"
                                  and o["metadata"]["name"].startswith("microcred-config"))["data"]
    return config


# What each component leaves in a rendering: one it was wired in for yet rendered nothing of would show here.
SIGNS = {
    "strimzi": lambda objs: any(o["kind"] == "Kafka" and o["metadata"]["name"] == "microcred" for o in objs),
    "state-agencies": lambda objs: any(o["kind"] == "KafkaUser" and o["metadata"]["name"] == "state-tn" for o in objs),
    "kafka-security": lambda objs: all(
        (env_of(objs, s, "MICROCRED_KAFKA_SASL_USERNAME") or {}).get("value") == f"microcred-{s}" for s in SERVICES),
    "cloudnative-pg": lambda objs: all(
        (env_of(objs, s, "MICROCRED_DATABASE_URL") or {}).get("valueFrom", {}).get("secretKeyRef", {}).get("name")
        == f"{s}-db-app" for s in SERVICES),
    "minio": lambda objs: any(o["kind"] == "Deployment" and o["metadata"]["name"] == "minio" for o in objs)
    and any(o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("microcred-submission-config")
            and o["data"]["MICROCRED_S3_ENDPOINT"] == "http://minio:9000" for o in objs),
    "autoscaling": lambda objs: {o["spec"]["scaleTargetRef"]["name"] for o in objs
                                 if o["kind"] in ("ScaledObject", "HorizontalPodAutoscaler")} == set(SERVICES),
    "monitoring": lambda objs: any(o["kind"] == "PrometheusRule" for o in objs),
    "network-policies": lambda objs: any(o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "deny-all"
                                         for o in objs),
    "observability": lambda objs: "MICROCRED_OTEL_EXPORTER_OTLP_ENDPOINT" in shared_config(objs),
}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_wires_its_components_and_renders_each_of_them(rendered: dict[str, list[Obj]], overlay: str) -> None:
    kustomization = yaml.safe_load((checks.K8S / "overlays" / overlay / "kustomization.yaml").read_text())
    assert {Path(c).name for c in kustomization["components"]} == COMPONENTS[overlay]
    for component, sign in SIGNS.items():
        assert sign(rendered[overlay]) == (component in COMPONENTS[overlay]), f"{overlay}: {component}"


def test_managed_overlay_has_no_operator_objects(rendered: dict[str, list[Obj]]) -> None:
    operated = {"kafka.strimzi.io", "postgresql.cnpg.io", "barmancloud.cnpg.io"}
    found = [checks.where(o) for o in rendered["managed"] if o["apiVersion"].split("/")[0] in operated]
    assert not found, f"the managed overlay uses the platform team's Kafka and PostgreSQL, yet renders {found}"


@pytest.mark.parametrize("overlay", ["production", "managed"])
def test_production_overlays_commit_no_secret_and_pin_every_image(rendered: dict[str, list[Obj]], overlay: str) -> None:
    objects = rendered[overlay]
    assert not [o for o in objects if o["kind"] == "Secret"], f"{overlay} commits a Secret"
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("microcred-config"))
    assert config["data"]["MICROCRED_MODE"] == "production"
    assert config["data"]["MICROCRED_AUTH_JWKS_URL"].startswith("https://")
    for place, container, _, _ in checks.containers(objects):
        tag = container["image"].rsplit(":", 1)[-1]
        assert tag not in ("local", "latest") and tag[0].isdigit(), f"{place} image {container['image']} is not a release"


def test_production_lets_the_state_agencies_in_from_outside_over_tls_with_scram_from_their_ranges_only(
    rendered: dict[str, list[Obj]],
) -> None:
    kafka = next(o for o in rendered["production"] if o["kind"] == "Kafka")
    listeners = {listener["name"]: listener for listener in kafka["spec"]["kafka"]["listeners"]}
    outside = [listener for listener in listeners.values() if listener["type"] != "internal"]
    assert [listener["name"] for listener in outside] == ["agencies"]
    for listener in listeners.values():
        assert listener["tls"] is True and listener["authentication"] == {"type": "scram-sha-512"}, listener
    assert outside[0]["configuration"]["loadBalancerSourceRanges"], "the agencies' listener is open to everyone"


def test_every_value_an_operator_must_set_is_marked_and_resolves_nowhere(rendered: dict[str, list[Obj]]) -> None:
    """What an operator must set carries SET-ME under .invalid (RFC 2606), so a forgotten one fails loudly and
    the example's names (example.org) are never what production runs with."""
    for overlay in ("production", "managed"):
        text = str(rendered[overlay])
        assert "example.org" not in text, f"{overlay} still names an example.org placeholder"
        assert "SET-ME.invalid" in text


# --- the checks catch what they are for ------------------------------------------------------------


@pytest.fixture(scope="module")
def good(rendered: dict[str, list[Obj]]) -> list[Obj]:
    return rendered["local"]


def broken(objects: list[Obj], kind: str, name: str | None = None) -> tuple[list[Obj], Obj]:
    """A deep copy of the objects and, inside it, the first object of that kind (and name) to break."""
    copied = copy.deepcopy(objects)
    target = next(o for o in copied if o["kind"] == kind and (name is None or o["metadata"]["name"] == name))
    return copied, target


def server(deployment: Obj) -> Obj:
    container: Obj = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def test_core_schema_check_catches_a_wrong_type_and_an_unknown_field(good: list[Obj]) -> None:
    _, deployment = broken(good, "Deployment", "review")
    deployment["spec"]["replicas"] = "two"
    _, service = broken(good, "Service", "review")
    service["spec"]["portz"] = []
    problems, _ = checks.core_schema_problems([deployment, service])
    assert len(problems) == 2, problems


def test_an_unknown_kind_is_a_custom_resource_and_an_unpinned_one_fails(node: str) -> None:
    unknown = {"apiVersion": "example.invalid/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    problems, custom = checks.core_schema_problems([unknown])
    assert not problems and custom == [unknown]
    assert checks.custom_resource_problems(node, custom) == [
        "Widget/w: example.invalid/v1/Widget: no pinned CRD schema for this apiVersion and kind"
    ]


CUSTOM_RESOURCES = [
    ({"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaTopic", "metadata": {"name": "t"},
      "spec": {"partitions": 3, "replicas": 3}}, ("spec", "partitions"), "three"),
    ({"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaUser", "metadata": {"name": "u"},
      "spec": {"authentication": {"type": "scram-sha-512"}}}, ("spec", "authentication", "type"), "kerberos"),
    ({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "c"},
      "spec": {"instances": 3, "storage": {"size": "1Gi"}}}, ("spec", "instances"), "3"),
    ({"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "s"},
      "spec": {"scaleTargetRef": {"name": "review"}, "triggers": [{"type": "kafka", "metadata": {}}]}},
     ("spec", "maxReplicaCount"), "many"),
    ({"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor", "metadata": {"name": "p"},
      "spec": {"selector": {}, "podMetricsEndpoints": [{"port": "http", "interval": "15s"}]}},
     ("spec", "podMetricsEndpoints"), "http"),
]


@pytest.mark.parametrize(("resource", "path", "value"), CUSTOM_RESOURCES, ids=lambda v: v["kind"] if isinstance(v, dict) else "")
def test_crd_schema_check_passes_a_valid_resource_and_catches_a_broken_one(
    node: str, resource: Obj, path: tuple[str, ...], value: Any
) -> None:
    assert checks.custom_resource_problems(node, [resource]) == []
    bad = copy.deepcopy(resource)
    parent = bad
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    problems = checks.custom_resource_problems(node, [bad])
    assert problems and "/" + "/".join(path) in problems[0], problems


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("runAsNonRoot", False, "may run as root"),
        ("readOnlyRootFilesystem", False, "writable root filesystem"),
        ("allowPrivilegeEscalation", True, "privilege escalation"),
        ("privileged", True, "is privileged"),
        ("capabilities", {"drop": ["NET_RAW"]}, "keeps Linux capabilities"),
    ],
)
def test_security_check_catches_each_weakened_setting(good: list[Obj], field: str, value: Any, problem: str) -> None:
    objects, deployment = broken(good, "Deployment", "catalog")
    server(deployment)["securityContext"][field] = value
    assert [p for p in checks.security_problems(objects) if problem in p]


def test_probe_and_resource_checks_catch_what_is_missing(good: list[Obj]) -> None:
    objects, deployment = broken(good, "Deployment", "award")
    del server(deployment)["readinessProbe"]
    del deployment["spec"]["template"]["spec"]["initContainers"][0]["resources"]["limits"]["memory"]
    assert checks.probe_problems(objects) == ["Deployment/award container server has no readinessProbe"]
    assert checks.resource_problems(objects) == ["Deployment/award initContainer migrate has no memory limit"]


@pytest.mark.parametrize("image", ["microcred/review", "microcred/review:latest", "registry:5000/microcred/review"])
def test_image_check_catches_latest_and_untagged_images(good: list[Obj], image: str) -> None:
    objects, deployment = broken(good, "Deployment", "review")
    server(deployment)["image"] = image
    assert len(checks.image_problems(objects)) == 1
    server(deployment)["image"] = "microcred/review@sha256:" + "0" * 64
    assert checks.image_problems(objects) == []


def test_disruption_budget_check_wants_one_once_a_workload_scales_and_refuses_one_that_blocks_drains(
    good: list[Obj],
) -> None:
    assert checks.disruption_budget_problems(good) == []
    # The base gives every Deployment a budget: take review's and catalog's away, and their autoscalers, to see the
    # check ask for a budget once a workload runs more than one replica, and only then.
    objects = [copy.deepcopy(o) for o in good
               if not (o["kind"] == "PodDisruptionBudget" and o["metadata"]["name"] in ("review", "catalog"))
               and o["kind"] not in ("ScaledObject", "HorizontalPodAutoscaler")]
    review = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "review")
    review["spec"]["replicas"] = 1
    assert checks.disruption_budget_problems(objects) == []
    review["spec"]["replicas"] = 2
    assert checks.disruption_budget_problems(objects) == [
        "Deployment/review runs more than one replica with no PodDisruptionBudget"
    ]
    budget = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "review"},
              "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "review"}}}}
    assert checks.disruption_budget_problems([*objects, budget]) == [
        "PodDisruptionBudget/review keeps all 2 replicas of Deployment/review: no node can drain"
    ]
    budget["spec"] = {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "review"}}}
    assert checks.disruption_budget_problems([*objects, budget]) == []
    # An autoscaled workload counts as scaling, whatever minimum its autoscaler names.
    scaled = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "catalog"},
              "spec": {"scaleTargetRef": {"name": "catalog"}, "minReplicaCount": 1}}
    assert checks.disruption_budget_problems([*objects, budget, scaled]) == [
        "Deployment/catalog runs more than one replica with no PodDisruptionBudget"
    ]


def test_network_policy_check_catches_a_missing_deny_a_missing_allowance_and_a_closed_kafka_port(
    good: list[Obj],
) -> None:
    without_deny = [o for o in good if not (o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "deny-all")]
    assert checks.network_policy_problems(without_deny)[0].startswith("no default-deny NetworkPolicy")
    without_dns = [o for o in good if not (o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "allow-dns")]
    assert checks.network_policy_problems(without_dns) == ["no NetworkPolicy lets every pod reach DNS (53/UDP)"]
    without_review = [o for o in good if not (o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "review")]
    problems = checks.network_policy_problems(without_review)
    assert "Deployment/review serves 8000 but no policy lets traffic in" in problems
    assert "Deployment/review server is told to reach Kafka on 9093, but no policy lets it out" in problems
    without_database = [o for o in good if not (o["kind"] == "NetworkPolicy"
                                                and o["metadata"]["name"] == "award-to-award-db")]
    assert checks.network_policy_problems(without_database) == [
        f"Deployment/award {container} reads its database from the cluster award-db, but no policy lets it out to its "
        "instances on 5432" for container in ("server", "migrate")]
    objects = copy.deepcopy(good)
    config = next(o for o in objects if o["metadata"]["name"].startswith("microcred-config"))
    config["data"]["MICROCRED_KAFKA_BOOTSTRAP_SERVERS"] = "microcred-kafka-bootstrap:9094"
    assert any("Kafka on 9094" in p for p in checks.network_policy_problems(objects))



def test_network_policy_check_wants_strimzis_pods_let_out_under_the_default_deny(good: list[Obj]) -> None:
    """Strimzi writes ingress policies only: without ours, the default deny would cut the brokers off from each
    other and the operators off from the Kubernetes API."""
    without_brokers = [o for o in good if not (o["kind"] == "NetworkPolicy"
                                               and o["metadata"]["name"] == "microcred-kafka-egress")]
    problems = checks.network_policy_problems(without_brokers)
    assert "the brokers of microcred cannot reach the brokers on 9091" in problems
    assert "the brokers of microcred cannot reach the Kubernetes API" in problems
    without_operator = [o for o in good if not (o["kind"] == "NetworkPolicy"
                                                and o["metadata"]["name"] == "strimzi-cluster-operator")]
    assert checks.network_policy_problems(without_operator) == [
        "the Strimzi cluster operator cannot reach the brokers on 9090",
        "the Strimzi cluster operator cannot reach the brokers on 9091",
        "the Strimzi cluster operator cannot reach the brokers on 8443",
        "the Strimzi cluster operator cannot reach the Kubernetes API",
    ]


# --- a kind no registry describes: its metadata in validate.mjs, the fields we rely on here ---------

BARMAN = "barman-cloud.cloudnative-pg.io"
# The plugin's own pattern for ObjectStore.spec.retentionPolicy (and CloudNativePG's for the in-tree one).
RETENTION = re.compile(r"[1-9][0-9]*[dwm]")
BUCKET_URL = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.*")


def object_store_problems(node: str, objects: list[Obj]) -> list[str]:
    """What the clusters rely on in each Barman Cloud ObjectStore, which no registry package has a schema for
    (deploy/k8s/schemas/barman-cloud/SOURCES.md): where the backups go, how the instances log in, how long
    backups are kept, and that every cluster's archiver names a store that exists."""
    stores = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ObjectStore"}
    problems = []
    for name, store in stores.items():
        place, spec = f"ObjectStore/{name}", store["spec"]
        configuration = spec.get("configuration", {})
        if not BUCKET_URL.fullmatch(str(configuration.get("destinationPath", ""))):
            problems.append(f"{place}: destinationPath {configuration.get('destinationPath')!r} is no s3://<bucket>/")
        endpoint = urlsplit(str(configuration.get("endpointURL", "https://s3.amazonaws.com")))
        if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
            problems.append(f"{place}: endpointURL {configuration.get('endpointURL')!r} is no http(s) URL")
        if "serverName" in configuration:
            problems.append(f"{place}: serverName belongs in each Cluster's plugin parameters")
        credentials = configuration.get("s3Credentials", {})
        if credentials.get("inheritFromIAMRole") is not True:
            refs = [credentials.get(key) or {} for key in ("accessKeyId", "secretAccessKey")]
            if not all(ref.get("name") and ref.get("key") for ref in refs) or refs[0]["name"] != refs[1]["name"]:
                problems.append(f"{place}: the S3 keys are not both {{name, key}} of one Secret: {credentials}")
        if not RETENTION.fullmatch(str(spec.get("retentionPolicy", ""))):
            problems.append(f"{place}: retentionPolicy {spec.get('retentionPolicy')!r} is not <n>d, <n>w or <n>m")
        # spec.configuration is barman-cloud's BarmanObjectStoreConfiguration, the type of a Cluster's in-tree
        # spec.backup.barmanObjectStore too: the pinned CloudNativePG schema checks it there.
        proxy = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": name},
                 "spec": {"instances": 1, "storage": {"size": "1Gi"}, "backup": {"barmanObjectStore": configuration}}}
        problems += [f"{place}: {problem.split(': ', 1)[1].replace('/spec/backup/barmanObjectStore', '/spec/configuration')}"
                     for problem in checks.custom_resource_problems(node, [proxy])]
    for cluster in (o for o in objects if o["kind"] == "Cluster"):
        for plugin in cluster["spec"].get("plugins", []):
            wanted = plugin.get("parameters", {}).get("barmanObjectName")
            if plugin.get("name") == BARMAN and wanted not in stores:
                problems.append(f"{checks.where(cluster)} archives to ObjectStore {wanted!r}, which is not there")
    return problems


@pytest.mark.parametrize("overlay", ["local", "production"])
def test_the_backup_object_store_holds_what_the_clusters_rely_on(
    rendered: dict[str, list[Obj]], node: str, overlay: str
) -> None:
    assert [o for o in rendered[overlay] if o["kind"] == "ObjectStore"], f"{overlay} has no ObjectStore"
    assert object_store_problems(node, rendered[overlay]) == []


def store(objects: list[Obj]) -> Obj:
    found: Obj = next(o for o in objects if o["kind"] == "ObjectStore")
    return found


@pytest.mark.parametrize(("what", "mutate"), [
    ("a bucket name without s3://", lambda o: store(o)["spec"]["configuration"].update(
        destinationPath="microcred-pg-backups")),
    ("an endpoint that is no URL", lambda o: store(o)["spec"]["configuration"].update(endpointURL="minio:9000")),
    ("the secret key from another Secret", lambda o: store(o)["spec"]["configuration"]["s3Credentials"].update(
        secretAccessKey={"name": "elsewhere", "key": "ACCESS_SECRET_KEY"})),
    ("an access key without its key", lambda o: store(o)["spec"]["configuration"]["s3Credentials"]["accessKeyId"].pop(
        "key")),
    ("a retention in words", lambda o: store(o)["spec"].update(retentionPolicy="30 days")),
    ("a compression barman does not have", lambda o: store(o)["spec"]["configuration"]["wal"].update(
        compression="rar")),
    ("a server name in the store", lambda o: store(o)["spec"]["configuration"].update(serverName="catalog-db")),
    ("a cluster archiving to a store that is not there", lambda o: next(
        c for c in o if c["kind"] == "Cluster")["spec"]["plugins"][0]["parameters"].update(barmanObjectName="gone")),
])
def test_the_object_store_check_catches_each_field_the_clusters_rely_on(
    good: list[Obj], node: str, what: str, mutate: Any
) -> None:
    objects = copy.deepcopy(good)
    mutate(objects)
    assert object_store_problems(node, objects), what


def test_a_kind_no_registry_describes_is_checked_for_its_metadata_only(node: str) -> None:
    unpinned = {"apiVersion": "barmancloud.cnpg.io/v1", "kind": "ObjectStore", "metadata": {"name": "backups"},
                "spec": {"anything": "goes here"}}
    assert checks.custom_resource_problems(node, [unpinned]) == []
    bad = copy.deepcopy(unpinned)
    bad["metadata"] = {"name": "Backups_1", "labels": {"tier": 1}}
    del bad["spec"]
    assert checks.custom_resource_problems(node, [bad]) == [
        'ObjectStore/Backups_1: /metadata/name must be a DNS-1123 subdomain: "Backups_1"',
        "ObjectStore/Backups_1: /metadata/labels/tier must be string",
        "ObjectStore/Backups_1: /spec must be an object",
    ]


# --- the pinned CRD schemas are what SOURCES.md says ------------------------------------------------


def test_crd_schema_sources_are_what_the_pinned_packages_hold(node: str) -> None:
    spec = importlib.util.spec_from_file_location("crd_sources", checks.SCHEMAS / "sources.py")
    assert spec and spec.loader
    sources = importlib.util.module_from_spec(spec)
    sys.modules["crd_sources"] = sources
    spec.loader.exec_module(sources)
    stale = [str(Path(path).relative_to(checks.ROOT)) for path, text in sources.outputs().items()
             if not path.exists() or path.read_text() != text]
    assert not stale, f"regenerate with `make crd-schemas`: {stale}"
