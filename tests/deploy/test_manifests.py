"""What the deployment files promise, checked on the files themselves.

No cluster and no Docker engine are needed: the Kubernetes manifests in deploy/k8s/base and
docker-compose.yml are read as YAML. Where kubectl is installed, the local overlay is also rendered
with kustomize and checked; without it those tests are skipped (in CI they fail). Every overlay is held to
the schemas and the policy rules in test_overlays.py.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from system_tools import require_tool

from microcred.events.topics import TopicSpec, platform_topics, state_feed

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
COMPOSE_FILE = ROOT / "docker-compose.yml"
EVENT_SCHEMAS = ROOT / "libs" / "events" / "src" / "microcred" / "events" / "schemas"

SERVICES = ("catalog", "submission", "review", "award", "licensure")
TOPICS = (
    "catalog.credential-published",
    "catalog.credential-retired",
    "catalog.stack-changed",
    "catalog.pathway-changed",
    "submission.submitted",
    "submission.withdrawn",
    "review.assigned",
    "review.released",
    "review.scored",
    "review.revise-requested",
    "award.awarded",
    "award.collection-awarded",
    "award.revoked",
    "award.suspended",
    "award.reinstated",
    "licensure.credit-posted",
    "licensure.credit-reversed",
    "licensure.recognition-granted",
    "licensure.recognition-reversed",
)
STATE_RECORD = "licensure.state-record"
SHIPPED_RULE_STATES = sorted(p.stem for p in (ROOT / "services/licensure/src/microcred/licensure/rule_sets").glob("*.json"))
# Workloads that serve no /metrics (test_portal_deploy.py holds the portal to it: a /metrics route would need the
# annotations and a PodMonitor).
UNSCRAPED = {"portal"}
POD_OWNERS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
SECRET_LIKE = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|PRIVATE_KEY|DATABASE_URL|ENCRYPTION_KEY|SALT", re.IGNORECASE)
# In compose, access keys are user names (kept in a Secret in the cluster all the same).
SECRET_VALUE = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE_KEY", re.IGNORECASE)

Obj = dict[str, Any]


def load_documents(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def manifest_files() -> list[Path]:
    return sorted(p for p in BASE.glob("*.yaml") if p.name != "kustomization.yaml")


@pytest.fixture(scope="module")
def base_objects() -> list[Obj]:
    objects = [obj for path in manifest_files() for obj in load_documents(path)]
    assert objects, f"no manifests found in {BASE}"
    return objects


@pytest.fixture(scope="module")
def compose() -> Obj:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def pod_specs(objects: list[Obj]) -> Iterator[tuple[str, Obj]]:
    for obj in objects:
        if obj["kind"] in POD_OWNERS:
            yield f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"]
        elif obj["kind"] == "CronJob":
            yield (
                f"CronJob/{obj['metadata']['name']}",
                obj["spec"]["jobTemplate"]["spec"]["template"]["spec"],
            )


def containers(objects: list[Obj], *, init: bool = True) -> Iterator[tuple[str, Obj, Obj]]:
    """(where, container, pod spec) for every container; init containers too unless told not to."""
    for owner, spec in pod_specs(objects):
        kinds = ("containers", "initContainers") if init else ("containers",)
        for kind in kinds:
            for container in spec.get(kind, []):
                yield f"{owner} {kind[:-1]} {container['name']}", container, spec


def by_kind(objects: list[Obj], kind: str) -> dict[str, Obj]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def effective(container: Obj, pod: Obj, key: str) -> Any:
    """A securityContext field as Kubernetes applies it: the container's value wins over the pod's."""
    own = container.get("securityContext", {})
    return own[key] if key in own else pod.get("securityContext", {}).get(key)


def cpu_millicores(quantity: str | int | float) -> float:
    text = str(quantity)
    return float(text[:-1]) if text.endswith("m") else float(text) * 1000


MEMORY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9}


def memory_bytes(quantity: str | int) -> float:
    text = str(quantity)
    for suffix, factor in MEMORY_UNITS.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


# --- Kubernetes base -------------------------------------------------------------------------


def test_every_service_has_its_own_file_with_service_account_deployment_and_service() -> None:
    for service in SERVICES:
        path = BASE / f"{service}.yaml"
        assert path.exists(), f"missing {path}"
        kinds = {(obj["kind"], obj["metadata"]["name"]) for obj in load_documents(path)}
        for kind in ("ServiceAccount", "Deployment", "Service"):
            assert (kind, service) in kinds, f"{path.name} has no {kind} named {service}"


def test_base_kustomization_lists_every_manifest_file() -> None:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    listed = set(kustomization.get("resources", []))
    present = {path.name for path in manifest_files()}
    assert present - listed == set(), f"manifests not in kustomization.yaml: {present - listed}"
    assert listed - present == set(), f"kustomization.yaml lists missing files: {listed - present}"


def test_every_server_container_is_ready_on_health_and_alive_on_livez(
    base_objects: list[Obj],
) -> None:
    # Init containers cannot have probes; they are held to the other rules below. Liveness must not
    # depend on the database or broker (/livez), or one outage restarts every pod at once.
    checked = 0
    for where, container, _ in containers(base_objects, init=False):
        for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/health")):
            assert probe in container, f"{where} has no {probe}"
            http = container[probe].get("httpGet", {})
            assert http.get("path") == path, f"{where} {probe} does not check {path}"
            ports = {p.get("name") for p in container.get("ports", [])} | {
                p["containerPort"] for p in container.get("ports", [])
            }
            assert http.get("port") in ports, f"{where} {probe} targets a port the container does not expose"
        checked += 1
    assert checked >= len(SERVICES)


def test_every_container_declares_cpu_and_memory_requests_and_limits(base_objects: list[Obj]) -> None:
    for where, container, _ in containers(base_objects):
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                assert resource in resources.get(bound, {}), f"{where} has no {resource} {bound[:-1]}"
        requests, limits = resources["requests"], resources["limits"]
        assert cpu_millicores(requests["cpu"]) <= cpu_millicores(limits["cpu"]), f"{where} cpu request > limit"
        assert memory_bytes(requests["memory"]) <= memory_bytes(limits["memory"]), f"{where} memory request > limit"


def test_every_container_runs_as_non_root_on_a_read_only_root_filesystem(base_objects: list[Obj]) -> None:
    for where, container, pod in containers(base_objects):
        assert effective(container, pod, "runAsNonRoot") is True, f"{where} may run as root"
        assert effective(container, pod, "runAsUser") != 0, f"{where} runs as uid 0"
        own = container.get("securityContext", {})
        assert own.get("readOnlyRootFilesystem") is True, f"{where} has a writable root filesystem"
        assert own.get("allowPrivilegeEscalation") is False, f"{where} allows privilege escalation"
        assert own.get("privileged", False) is False, f"{where} is privileged"
        assert "ALL" in own.get("capabilities", {}).get("drop", []), f"{where} keeps Linux capabilities"
        assert not own.get("capabilities", {}).get("add"), f"{where} adds Linux capabilities"
        seccomp = effective(container, pod, "seccompProfile") or {}
        assert seccomp.get("type") == "RuntimeDefault", f"{where} has no RuntimeDefault seccomp profile"


def test_no_container_image_uses_latest_or_an_implicit_tag(base_objects: list[Obj]) -> None:
    for where, container, _ in containers(base_objects):
        image = container["image"]
        if "@sha256:" in image:
            continue
        name_and_tag = image.rsplit("/", 1)[-1]
        assert ":" in name_and_tag, f"{where} image {image} has no tag (means :latest)"
        assert not name_and_tag.endswith(":latest"), f"{where} image {image} uses :latest"


def test_migrations_run_in_an_init_container_with_the_server_image(base_objects: list[Obj]) -> None:
    deployments = by_kind(base_objects, "Deployment")
    for service in SERVICES:
        spec = deployments[service]["spec"]["template"]["spec"]
        inits = spec.get("initContainers", [])
        migrate = [c for c in inits if c.get("args") == ["migrate"] or c.get("command", [])[-1:] == ["migrate"]]
        assert migrate, f"{service} does not run `migrate` in an init container"
        server_images = {c["image"] for c in spec["containers"]}
        assert migrate[0]["image"] in server_images, f"{service} migrates with a different image than it serves"
        assert migrate[0].get("env") == spec["containers"][0].get("env"), (
            f"{service} migrate container does not see the same database settings as the server"
        )


def test_pods_are_annotated_for_prometheus_to_scrape_metrics(base_objects: list[Obj]) -> None:
    for service, deployment in by_kind(base_objects, "Deployment").items():
        if service in UNSCRAPED:
            continue
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
        assert annotations.get("prometheus.io/scrape") == "true", f"{service} is not scraped"
        assert annotations.get("prometheus.io/path") == "/metrics", f"{service} scrape path is not /metrics"
        ports = {
            str(p["containerPort"])
            for c in deployment["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
        }
        assert annotations.get("prometheus.io/port") in ports, f"{service} scrape port is not a container port"


def test_secret_values_are_referenced_from_secrets_never_written_into_manifests(
    base_objects: list[Obj],
) -> None:
    assert not by_kind(base_objects, "Secret"), "the base must not ship Secret objects"
    for where, container, _ in containers(base_objects):
        for env in container.get("env", []):
            if SECRET_LIKE.search(env["name"]):
                assert "value" not in env, f"{where} sets {env['name']} inline"
                assert "secretKeyRef" in env.get("valueFrom", {}), f"{where} {env['name']} is not from a Secret"
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    assert "secretGenerator" not in kustomization
    for generator in kustomization.get("configMapGenerator", []):
        for literal in generator.get("literals", []):
            key = literal.split("=", 1)[0]
            assert not SECRET_LIKE.search(key), f"ConfigMap {generator['name']} carries secret-like {key}"


def test_every_deployment_reads_config_from_a_configmap_and_its_own_secret(base_objects: list[Obj]) -> None:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    generated = {g["name"] for g in kustomization.get("configMapGenerator", [])}
    configmaps = generated | set(by_kind(base_objects, "ConfigMap"))
    for service, deployment in by_kind(base_objects, "Deployment").items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            refs = {src["configMapRef"]["name"] for src in container.get("envFrom", []) if "configMapRef" in src}
            assert refs, f"{service} takes no configuration from a ConfigMap"
            assert refs <= configmaps, f"{service} refers to unknown ConfigMaps {refs - configmaps}"
            secrets = {
                env["valueFrom"]["secretKeyRef"]["name"]
                for env in container.get("env", [])
                if "secretKeyRef" in env.get("valueFrom", {})
            }
            # Or mounted as files (the canary's tokens: re-read on every use, so rotation needs no restart).
            mounted = {m["name"] for m in container.get("volumeMounts", [])}
            secrets |= {
                volume["secret"]["secretName"]
                for volume in deployment["spec"]["template"]["spec"].get("volumes", [])
                if "secret" in volume and volume["name"] in mounted
            }
            # microcred-<service> is the service's Kafka principal's Secret, which Strimzi's User Operator owns and
            # rewrites: the service's own is named apart. The canary has no principal; its Secret holds its tokens.
            # The portal holds no secret: a public OIDC client (PKCE), calling the services with each person's token.
            own = {"canary": {"microcred-canary"}, "portal": set()}.get(service, {f"microcred-{service}-secrets"})
            assert secrets == own, f"{service} reads Secrets {secrets}"


def test_services_route_to_the_named_http_port_of_their_own_pods(base_objects: list[Obj]) -> None:
    deployments = by_kind(base_objects, "Deployment")
    for name, service in by_kind(base_objects, "Service").items():
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        selector = service["spec"]["selector"]
        assert selector.items() <= pod_labels.items(), f"Service {name} selects no pod of its Deployment"
        assert [p.get("targetPort") for p in service["spec"]["ports"]] == ["http"]


# --- docker-compose.yml ----------------------------------------------------------------------


def one_shots(services: dict[str, Obj]) -> set[str]:
    """Services that run to completion: never restarted and awaited by something that needs them done."""
    awaited = {
        dependency
        for service in services.values()
        if isinstance(service.get("depends_on"), dict)
        for dependency, how in service["depends_on"].items()
        if how.get("condition") == "service_completed_successfully"
    }
    return {name for name, s in services.items() if str(s.get("restart", "no")) == "no" and name in awaited}


def test_every_compose_service_has_a_healthcheck_or_is_a_one_shot(compose: Obj) -> None:
    services = compose["services"]
    finished = one_shots(services)
    for name, service in services.items():
        if name in finished:
            continue
        healthcheck = service.get("healthcheck")
        assert healthcheck, f"{name} is long-running but has no healthcheck"
        assert not healthcheck.get("disable"), f"{name} disables its healthcheck"
        assert healthcheck.get("test"), f"{name} healthcheck has no test"


def test_compose_dependencies_wait_for_health_or_completion(compose: Obj) -> None:
    services = compose["services"]
    finished = one_shots(services)
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name} depends_on has no conditions"
        for dependency, how in depends_on.items():
            expected = "service_completed_successfully" if dependency in finished else "service_healthy"
            assert how.get("condition") == expected, f"{name} -> {dependency} should wait for {expected}"


def topic_entries(compose: Obj) -> tuple[list[TopicSpec], Obj]:
    """The topics compose creates, each ``name:partitions:retention.ms``, and the service that creates them."""
    for service in compose["services"].values():
        text = yaml.safe_dump(service.get("command", "")) + yaml.safe_dump(service.get("entrypoint", ""))
        if "kafka-topics.sh" in text and "--create" in text:
            entries = [entry.split(":") for entry in service.get("environment", {}).get("TOPICS", "").split()]
            return [TopicSpec(name, int(partitions), int(retention)) for name, partitions, retention in entries], service
    pytest.fail("no compose service creates Kafka topics")


def topic_creation(compose: Obj) -> tuple[list[str], Obj]:
    specs, service = topic_entries(compose)
    return [spec.name for spec in specs], service


def test_compose_creates_every_topic_and_its_dead_letter_companion_sized_as_libs_events_says(compose: Obj) -> None:
    specs, service = topic_entries(compose)
    topics = [spec.name for spec in specs]
    expected = set(TOPICS) | {f"{topic}.dlt" for topic in TOPICS}
    assert expected - set(topics) == set(), f"topics not created: {sorted(expected - set(topics))}"
    assert len(topics) == len(set(topics)), "a topic is listed twice"
    sized = {spec.name: spec for spec in platform_topics()} | {
        state_feed(state).name: state_feed(state) for state in SHIPPED_RULE_STATES}
    assert {spec.name: spec for spec in specs} == sized, "compose's topics differ from microcred.events.topics"
    assert str(service.get("restart")) == "no"


def test_compose_topics_cover_every_published_event_contract(compose: Obj) -> None:
    assert EVENT_SCHEMAS.is_dir(), f"schema snapshots missing at {EVENT_SCHEMAS}"
    published = {path.name.rsplit(".v", 1)[0] for path in EVENT_SCHEMAS.glob("*.json")}
    topics, _ = topic_creation(compose)
    # A state's feed is a topic per state (licensure.state.<XX>), read by the agency, not by a service.
    missing = {t for t in published - {STATE_RECORD} if t not in topics or f"{t}.dlt" not in topics}
    assert not missing, f"event topics with no compose topic or dead-letter topic: {sorted(missing)}"
    feeds = {f"licensure.state.{state}" for state in SHIPPED_RULE_STATES}
    assert feeds <= set(topics), f"state feed topics not created: {sorted(feeds - set(topics))}"


def test_each_service_migrates_its_own_database_before_serving(compose: Obj) -> None:
    services = compose["services"]
    for name in SERVICES:
        server, migrate = services[name], services[f"{name}-migrate"]
        assert migrate.get("command") == ["migrate"], f"{name}-migrate does not run migrate"
        assert migrate["image"] == server["image"], f"{name}-migrate uses another image"
        assert server["depends_on"][f"{name}-migrate"]["condition"] == "service_completed_successfully"
        assert server["depends_on"]["kafka-topics"]["condition"] == "service_completed_successfully"
        for container in (server, migrate):
            url = container["environment"]["MICROCRED_DATABASE_URL"]
            assert url.startswith("postgresql+asyncpg://"), url
            assert url.rsplit("/", 1)[-1] == name, f"{name} does not use its own database: {url}"


def test_postgres_init_script_creates_one_database_per_service(compose: Obj) -> None:
    mounts = [v for v in compose["services"]["postgres"].get("volumes", []) if "docker-entrypoint-initdb.d" in v]
    assert mounts, "postgres mounts no init script"
    script = ROOT / mounts[0].split(":", 1)[0]
    match = re.search(r"for \w+ in ([\w ]+); do", script.read_text())
    assert match, f"{script} has no loop over service databases"
    assert set(match.group(1).split()) == set(SERVICES)


def test_submission_gets_the_evidence_bucket_and_a_browser_facing_endpoint(compose: Obj) -> None:
    env = compose["services"]["submission"]["environment"]
    for key in (
        "MICROCRED_S3_ENDPOINT",
        "MICROCRED_S3_ACCESS_KEY",
        "MICROCRED_S3_SECRET_KEY",
        "MICROCRED_S3_BUCKET",
        "MICROCRED_S3_PUBLIC_ENDPOINT",
    ):
        assert env.get(key), f"submission has no {key}"
    assert env["MICROCRED_S3_BUCKET"] == "evidence"
    bucket_job = compose["services"]["minio-bucket"]
    assert "mb" in yaml.safe_dump(bucket_job["command"]) and bucket_job["environment"]["S3_BUCKET"] == "evidence"


def test_compose_application_containers_are_hardened_like_the_cluster(compose: Obj) -> None:
    for name, service in compose["services"].items():
        if "build" not in service:
            continue
        assert str(service.get("user", "")).split(":")[0] == "10001", f"{name} does not run as uid 10001"
        assert service.get("read_only") is True, f"{name} has a writable root filesystem"
        assert "ALL" in service.get("cap_drop", []), f"{name} keeps Linux capabilities"


def test_no_compose_image_uses_latest_or_an_implicit_tag(compose: Obj) -> None:
    for name, service in compose["services"].items():
        image = service.get("image")
        assert image, f"{name} has no image name"
        name_and_tag = image.rsplit("/", 1)[-1]
        assert ":" in name_and_tag and not name_and_tag.endswith(":latest"), f"{name} image {image}"


def test_compose_secrets_are_obvious_local_placeholders(compose: Obj) -> None:
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_VALUE.search(key):
                assert str(value).startswith("change-me"), f"{name} {key} is not a change-me placeholder"
            if key == "MICROCRED_DATABASE_URL":
                assert ":change-me@" in value, f"{name} database password is not a change-me placeholder"


# --- rendered overlay (needs kubectl) --------------------------------------------------------


@pytest.fixture(scope="module")
def local_overlay() -> list[Obj]:
    kubectl = require_tool("kubectl", "it renders the Kubernetes overlays (apt-get install kubectl)")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / "local")],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def test_local_overlay_denies_all_traffic_and_allows_each_service_explicitly(local_overlay: list[Obj]) -> None:
    policies = by_kind(local_overlay, "NetworkPolicy")
    deny = policies.get("deny-all")
    assert deny and deny["spec"]["podSelector"] == {}, "no default-deny policy"
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "allow-dns" in policies
    for service in SERVICES:
        policy = next(
            (p for p in policies.values() if p["spec"]["podSelector"].get("matchLabels", {}).get("app") == service),
            None,
        )
        assert policy, f"no NetworkPolicy allows traffic for {service}"
        ingress_ports = {port["port"] for rule in policy["spec"].get("ingress", []) for port in rule.get("ports", [])}
        egress_ports = {port["port"] for rule in policy["spec"].get("egress", []) for port in rule.get("ports", [])}
        assert 8000 in ingress_ports, f"{service} accepts no traffic on 8000"
        # Strimzi's TLS listener of the cluster the local overlay runs (bootstrap microcred-kafka-bootstrap:9093).
        assert {9093, 5432} <= egress_ports, f"{service} cannot reach Kafka and PostgreSQL"


def test_local_overlay_configures_tracing_and_resolves_every_config_reference(local_overlay: list[Obj]) -> None:
    configmaps = by_kind(local_overlay, "ConfigMap")
    shared = [cm for name, cm in configmaps.items() if name.startswith("microcred-config")]
    assert len(shared) == 1
    assert shared[0]["data"].get("MICROCRED_OTEL_EXPORTER_OTLP_ENDPOINT", "").startswith("http")
    for where, container, _ in containers(local_overlay):
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                assert source["configMapRef"]["name"] in configmaps, f"{where} refers to a missing ConfigMap"
        # Ours are built on the host and loaded into the cluster; others' (MinIO) are pinned releases.
        if container["image"].startswith("microcred/"):
            assert container["image"].endswith(":local"), f"{where} does not use the locally built image"


# --- compose: observability and a stack that needs no variable set by hand ----------------------

OBSERVABILITY = ROOT / "deploy" / "observability"
LOCAL_JWKS_DIR = "/var/lib/microcred/jwks"
# "$${...}" is an escaped dollar (a shell variable in a command), not an interpolation.
INTERPOLATION = re.compile(r"(?<!\$)\$\{(?P<name>\w+)(?P<op>:?[-?+])?(?P<default>[^}]*)\}")


def with_defaults(value: Any) -> Any:
    """A compose value as it renders with no variable set: ``${X:-default}`` becomes ``default``."""
    if not isinstance(value, str):
        return value
    return INTERPOLATION.sub(lambda m: m["default"] if m["op"] in (":-", "-") else "", value)


def server_names(compose: Obj) -> list[str]:
    return [name for name in SERVICES if compose["services"][name].get("command") == ["serve"]]


def mounts(service: Obj) -> dict[str, tuple[str, str]]:
    """Container path -> (source, mode) of a service's short-syntax volumes."""
    found = {}
    for volume in service.get("volumes", []):
        source, target, *mode = volume.split(":")
        found[target] = (source, mode[0] if mode else "rw")
    return found


def test_compose_needs_no_variable_set_by_hand() -> None:
    text = COMPOSE_FILE.read_text()
    required = [m[0] for m in INTERPOLATION.finditer(text) if m["op"] not in (":-", "-")]
    assert not required, f"compose variables without a default: {required}"


def test_compose_renders_with_no_variable_set(tmp_path: Path) -> None:
    docker_compose = require_tool("docker-compose", "it renders docker-compose.yml (apt-get install docker-compose)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MICROCRED_", "COMPOSE_"))}
    rendered = subprocess.run([docker_compose, "-f", str(COMPOSE_FILE), "config"], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=120, check=False)
    assert rendered.returncode == 0, rendered.stderr
    assert "is not set" not in rendered.stderr, rendered.stderr
    services = yaml.safe_load(rendered.stdout)["services"]
    for name in SERVICES:
        env_ = services[name]["environment"]
        assert env_["MICROCRED_AUTH_JWKS_URL"] == f"file://{LOCAL_JWKS_DIR}/jwks.json"
        assert env_["MICROCRED_OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"


def test_every_service_verifies_tokens_against_the_stacks_own_issuer(compose: Obj) -> None:
    services = compose["services"]
    issuer = services["dev-issuer"]
    issuer_mounts = mounts(issuer)
    assert str(issuer.get("restart")) == "no", "the issuer is a one-shot"
    command = " ".join(issuer["entrypoint"] + issuer["command"])
    assert "microcred.runtime.dev_issuer" in command and f"--jwks-dir {LOCAL_JWKS_DIR}" in command
    key_dir = command.split("--key-dir ", 1)[1].split()[0]
    assert issuer_mounts[LOCAL_JWKS_DIR][0] == "dev-jwks"
    assert issuer_mounts[key_dir][0] == "dev-issuer-key"
    for name in server_names(compose):
        service = services[name]
        assert with_defaults(service["environment"]["MICROCRED_AUTH_JWKS_URL"]) == f"file://{LOCAL_JWKS_DIR}/jwks.json"
        assert mounts(service).get(LOCAL_JWKS_DIR) == ("dev-jwks", "ro"), f"{name} does not read the issuer's JWKS"
        assert key_dir not in mounts(service), f"{name} can read the issuer's private key"
        assert service["depends_on"]["dev-issuer"]["condition"] == "service_completed_successfully"
    assert len(server_names(compose)) == len(SERVICES)


def test_production_mode_refuses_the_compose_stacks_local_issuer(compose: Obj) -> None:
    from microcred.runtime.settings import ServiceSettings

    local_jwks = with_defaults(compose["services"]["catalog"]["environment"]["MICROCRED_AUTH_JWKS_URL"])
    ServiceSettings(mode="local", auth_jwks_url=local_jwks)
    with pytest.raises(ValueError, match="auth_jwks_url"):
        ServiceSettings(mode="production", auth_jwks_url=local_jwks,
                        database_url="postgresql+asyncpg://catalog:real@db/catalog")


def test_every_service_sends_spans_to_the_collector_which_forwards_them_to_tempo(compose: Obj) -> None:
    services = compose["services"]
    for name in server_names(compose):
        endpoint = with_defaults(services[name]["environment"].get("MICROCRED_OTEL_EXPORTER_OTLP_ENDPOINT"))
        assert endpoint == "http://otel-collector:4318", f"{name} exports spans to {endpoint!r}"
    config_source, _ = mounts(services["otel-collector"])["/etc/otelcol-contrib/config.yaml"]
    config = yaml.safe_load((ROOT / config_source).read_text())
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    exporters = config["service"]["pipelines"]["traces"]["exporters"]
    assert [config["exporters"][e]["endpoint"] for e in exporters] == ["tempo:4317"]
    tempo = yaml.safe_load((ROOT / mounts(services["tempo"])["/etc/tempo/tempo.yaml"][0]).read_text())
    assert tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].endswith(":4317")


def prometheus_config(compose: Obj) -> tuple[Path, Obj]:
    source, _ = mounts(compose["services"]["prometheus"])["/etc/prometheus/prometheus.yml"]
    path = ROOT / source
    return path, yaml.safe_load(path.read_text())


def test_prometheus_scrapes_every_service_with_the_labels_the_dashboards_use(compose: Obj) -> None:
    _, config = prometheus_config(compose)
    scraped: dict[str, Obj] = {}
    for job in config["scrape_configs"]:
        for group in job.get("static_configs", []):
            for target in group["targets"]:
                scraped[target] = group.get("labels", {}) | {"metrics_path": job.get("metrics_path", "/metrics")}
    for name in server_names(compose):
        target = f"{name}:8000"
        assert target in scraped, f"Prometheus does not scrape {name}"
        assert scraped[target]["service"] == name and scraped[target]["environment"]
        assert scraped[target]["metrics_path"] == "/metrics"
        assert "8000" in str(compose["services"][name]["healthcheck"]["test"]), "the scraped port is the served one"


def test_prometheus_loads_the_alert_rules_and_grafana_the_dashboards_from_the_repository(compose: Obj) -> None:
    services = compose["services"]
    _, config = prometheus_config(compose)
    rules_source, _ = mounts(services["prometheus"])["/etc/prometheus/rules"]
    assert Path(rules_source) == Path("./deploy/observability/rules")
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yaml"]

    grafana = services["grafana"]
    grafana_mounts = mounts(grafana)
    dashboards_source, _ = grafana_mounts["/var/lib/grafana/dashboards"]
    assert Path(dashboards_source) == Path("./deploy/observability/dashboards")
    provisioning = ROOT / grafana_mounts["/etc/grafana/provisioning"][0]
    providers = yaml.safe_load((provisioning / "dashboards" / "dashboards.yaml").read_text())["providers"]
    assert [p["options"]["path"] for p in providers] == ["/var/lib/grafana/dashboards"]
    assert all(p["allowUiUpdates"] is False for p in providers), "the UI could save over dashboards-as-code"
    datasources = yaml.safe_load((provisioning / "datasources" / "datasources.yaml").read_text())["datasources"]
    by_type = {d["type"]: d for d in datasources}
    assert by_type["prometheus"]["url"] == "http://prometheus:9090" and by_type["prometheus"]["isDefault"]
    assert by_type["tempo"]["url"] == "http://tempo:3200"
    env = grafana["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true" and env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


def test_promtool_accepts_the_prometheus_config_with_the_repositorys_rules(compose: Obj, tmp_path: Path) -> None:
    promtool = require_tool("promtool", "it checks the Prometheus configuration (apt-get install prometheus)")
    _, config = prometheus_config(compose)
    # The same configuration, reading the rules where the repository keeps them, so their files are checked too.
    config["rule_files"] = [str(OBSERVABILITY / "rules" / "*.yaml")]
    checked = tmp_path / "prometheus.yml"
    checked.write_text(yaml.safe_dump(config))
    result = subprocess.run([promtool, "check", "config", str(checked)], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
