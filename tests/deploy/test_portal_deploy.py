"""The portal deployed wherever the services are: the image recipe, docker-compose.yml and every Kubernetes overlay.

Each place's settings are loaded into the portal's own settings class, so a configuration the portal would refuse
at start (production without an https:// provider or address) fails here, not in a pod.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import k8s_checks as checks
import pytest
import yaml
from system_tools import require_tool

from microcred.portal.bootstrap import build_app
from microcred.portal.settings import PortalSettings

ROOT = Path(__file__).resolve().parents[2]
PORTAL = ROOT / "services" / "portal"
PACKAGE = PORTAL / "src" / "microcred" / "portal"
SERVICES = ("catalog", "submission", "review", "award", "licensure")
URL_SETTINGS = {f"MICROCRED_{service.upper()}_URL": service for service in SERVICES}
OVERLAYS = ("local", "production", "managed")
Obj = dict[str, Any]


def settings_from(env: dict[str, str]) -> PortalSettings:
    """The portal's settings from these variables alone (the test process's own MICROCRED_* are kept out)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("MICROCRED_")]:
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        return PortalSettings()


# --- the image -------------------------------------------------------------------------------------------------


def test_the_image_recipe_accepts_the_portal_as_a_service() -> None:
    recipe = (ROOT / "Dockerfile").read_text()
    allowed = re.search(r'case "\$\{SERVICE\}" in[\s\\]+([\w|]+)\)', recipe)
    assert allowed, "the Dockerfile no longer checks its SERVICE build argument"
    assert "portal" in allowed.group(1).split("|")


def test_the_package_the_image_installs_carries_the_templates_and_static_files(tmp_path: Path) -> None:
    # What `pip install ./services/portal` in the Dockerfile installs: the built wheel, not the source tree.
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(PORTAL)],
                           capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("microcred_portal-*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    needed = {f"microcred/portal/{path.relative_to(PACKAGE).as_posix()}"
              for folder in ("entrypoints/templates", "entrypoints/static") for path in (PACKAGE / folder).rglob("*")
              if path.is_file()}
    assert needed, "no templates or static files found in the source"
    assert needed <= packaged, f"the wheel leaves out {sorted(needed - packaged)}"


def test_the_portal_serves_no_metrics_so_nothing_is_told_to_scrape_it(tmp_path: Path) -> None:
    # base/portal.yaml carries no scrape annotations and components/monitoring no PodMonitor for it: true only
    # while the app has no /metrics. Once it has one, this fails, and the annotations and a PodMonitor are due.
    app = build_app(PortalSettings(portal_dev_key_dir=tmp_path))
    assert "/metrics" not in {getattr(route, "path", None) for route in app.routes}
    assert "/health" in {getattr(route, "path", None) for route in app.routes}


# --- docker-compose.yml -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> Obj:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def with_defaults(value: Any) -> str:
    """``${X:-default}`` as compose renders it with no variable set."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))


def test_compose_runs_the_portal_from_its_own_image_over_the_services_internal_addresses(compose: Obj) -> None:
    services = compose["services"]
    portal = services["portal"]
    assert portal["build"]["args"]["SERVICE"] == "portal" and portal["image"] == "microcred/portal:local"
    assert portal["command"] == ["serve"]
    env = {name: with_defaults(value) for name, value in portal["environment"].items()}
    for name, service in URL_SETTINGS.items():
        assert env[name] == f"http://{service}:8000", f"the portal reaches {service} at {env[name]}"
        assert portal["depends_on"][service]["condition"] == "service_healthy"
    assert "8000" in str(portal["healthcheck"]["test"])


def test_compose_portal_signs_people_in_with_its_development_provider_and_the_stacks_issuer_key(compose: Obj) -> None:
    services = compose["services"]
    portal, issuer = services["portal"], services["dev-issuer"]
    env = {name: with_defaults(value) for name, value in portal["environment"].items()}
    settings = settings_from(env | {"MICROCRED_HTTP_PORT": "8000"})
    assert settings.mode == "local" and settings.local_provider, "compose's portal must host the development provider"
    # The key the development provider signs with is the one dev-issuer made, whose JWKS the services verify with.
    key_dir = " ".join(issuer["entrypoint"]).split("--key-dir ", 1)[1].split()[0]
    issuer_volume = next(v.split(":")[0] for v in issuer["volumes"] if v.split(":")[1] == key_dir)
    portal_mounts = {v.split(":")[1]: v.split(":")[0] for v in portal["volumes"]}
    assert portal_mounts.get(str(settings.portal_dev_key_dir)) == issuer_volume
    assert settings.auth_issuer == with_defaults(services["catalog"]["environment"]["MICROCRED_AUTH_ISSUER"])
    assert settings.auth_audience == with_defaults(services["catalog"]["environment"]["MICROCRED_AUTH_AUDIENCE"])
    assert portal["depends_on"]["dev-issuer"]["condition"] == "service_completed_successfully"
    # The portal fetches its own provider's discovery at its public address from inside the container: the host
    # port browsers use must be the port the container serves on.
    public = settings.portal_public_url
    published = [p for p in portal["ports"] if p.endswith(":8000")]
    assert published and public == f"http://localhost:{published[0].split(':')[-2]}"


def test_production_mode_refuses_the_compose_portals_settings(compose: Obj) -> None:
    env = {name: with_defaults(value) for name, value in compose["services"]["portal"]["environment"].items()}
    with pytest.raises(ValueError, match="MICROCRED_OIDC_ISSUER_URL"):
        settings_from(env | {"MICROCRED_MODE": "production"})


# --- Kubernetes -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Obj]]:
    kubectl = require_tool("kubectl", "it renders the Kubernetes overlays (apt-get install kubectl)")
    return {overlay: checks.render(kubectl, checks.K8S / "overlays" / overlay) for overlay in OVERLAYS}


def portal_of(objects: list[Obj]) -> Obj:
    return next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "portal")


def pod_env(objects: list[Obj], deployment: Obj) -> dict[str, str]:
    """The server container's environment as the kubelet builds it: envFrom in order (later wins), then env."""
    configmaps = {o["metadata"]["name"]: o.get("data", {}) for o in objects if o["kind"] == "ConfigMap"}
    server = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "server")
    env: dict[str, str] = {}
    for source in server.get("envFrom", []):
        env |= configmaps[source["configMapRef"]["name"]]
    return env | {e["name"]: e["value"] for e in server.get("env", []) if "value" in e}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_runs_one_portal_whose_settings_it_would_start_with(
    rendered: dict[str, list[Obj]], overlay: str,
) -> None:
    objects = rendered[overlay]
    portal = portal_of(objects)
    # One replica while sessions live in the process (base/portal.yaml says why), and no autoscaler adds more.
    assert portal["spec"]["replicas"] == 1
    scaled = {o["spec"]["scaleTargetRef"]["name"] for o in objects
              if o["kind"] in ("ScaledObject", "HorizontalPodAutoscaler")}
    assert "portal" not in scaled
    env = pod_env(objects, portal)
    settings = settings_from(env)
    for name, service in URL_SETTINGS.items():
        assert env[name] == f"http://{service}:8000"
    assert settings.http_host == "0.0.0.0" and settings.http_port == 8000
    if overlay == "local":
        assert settings.mode == "local" and settings.local_provider
        assert settings.portal_public_url == "http://localhost:8000", "the port-forward the README's step names"
    else:
        assert settings.mode == "production" and not settings.local_provider and settings.secure_cookies
        for url in (settings.oidc_issuer_url, settings.portal_public_url):
            assert url.startswith("https://") and url.endswith("SET-ME.invalid"), f"{overlay}: {url}"
        assert settings.auth_issuer == env["MICROCRED_AUTH_ISSUER"]


def test_the_local_portal_gets_the_development_key_in_a_directory_it_can_write(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["local"]
    portal = portal_of(objects)
    spec = portal["spec"]["template"]["spec"]
    key_dir = pod_env(objects, portal)["MICROCRED_PORTAL_DEV_KEY_DIR"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    server = next(c for c in spec["containers"] if c["name"] == "server")
    mounted = {m["mountPath"]: m for m in server["volumeMounts"]}
    # The issuer writes its JWKS beside the key when it loads it: a writable emptyDir, not the read-only Secret.
    assert "emptyDir" in volumes[mounted[key_dir]["name"]] and not mounted[key_dir].get("readOnly")
    (copier,) = spec["initContainers"]
    targets = {m["mountPath"]: m["name"] for m in copier["volumeMounts"]}
    assert targets[key_dir] == mounted[key_dir]["name"]
    sources = [path for path, name in targets.items() if "secret" in volumes[name]]
    assert [volumes[targets[s]]["secret"]["secretName"] for s in sources] == ["microcred-portal-dev-issuer"]
    assert " ".join(copier["command"]).endswith(f"cp {sources[0]}/* {key_dir}/")
    assert copier["image"] == server["image"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_portal_reaches_the_five_services_the_identity_provider_and_the_object_store_and_nothing_else(
    rendered: dict[str, list[Obj]], overlay: str,
) -> None:
    objects = rendered[overlay]
    labels = portal_of(objects)["spec"]["template"]["metadata"]["labels"]
    mine = [p for p in objects if p["kind"] == "NetworkPolicy" and p["spec"]["podSelector"] != {}
            and checks.selects(p["spec"]["podSelector"], labels)]
    assert [p["metadata"]["name"] for p in mine] == ["portal"]
    ingress = {port["port"] for rule in mine[0]["spec"]["ingress"] for port in rule.get("ports", [])}
    assert ingress == {8000}
    egress = mine[0]["spec"]["egress"]
    for service in SERVICES:
        reaching = [rule for rule in egress for peer in rule.get("to", []) if "podSelector" in peer
                    and checks.selects(peer["podSelector"], {"app": service})]
        assert reaching and {p["port"] for p in reaching[0]["ports"]} == {8000}, f"the portal cannot reach {service}"
    assert {p["port"] for rule in egress for p in rule["ports"]} == {8000, 443, 9000}, "the portal may reach more"
    # 9000 only to the MinIO option's pods (the reviewer's page reads small text evidence and captions itself).
    assert all(peer.get("podSelector", {}).get("matchLabels") == {"app.kubernetes.io/name": "minio"}
               for rule in egress if any(p["port"] == 9000 for p in rule["ports"]) for peer in rule["to"])
    # Nor is it handed a Kafka principal or the brokers' CA: it has no Kafka client.
    spec = portal_of(objects)["spec"]["template"]["spec"]
    assert not any(e["name"].startswith("MICROCRED_KAFKA_") for c in spec["containers"] for e in c.get("env", []))
    assert not [v for v in spec["volumes"] if "kafka" in v["name"]]


def test_compose_portal_lets_browsers_upload_where_submission_signs_its_urls(compose: Obj) -> None:
    portal = {k: with_defaults(v) for k, v in compose["services"]["portal"]["environment"].items()}
    submission = {k: with_defaults(v) for k, v in compose["services"]["submission"]["environment"].items()}
    assert portal["MICROCRED_S3_PUBLIC_ENDPOINT"] == submission["MICROCRED_S3_PUBLIC_ENDPOINT"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlays_portal_lets_browsers_upload_where_submission_signs_its_urls(
    rendered: dict[str, list[Obj]], overlay: str,
) -> None:
    """The application page PUTs evidence to the object store at the address submission signs its URLs for; the
    portal's content security policy names that origin, so the two settings must agree wherever both run."""
    objects = rendered[overlay]
    submission = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "submission")
    portal = settings_from(pod_env(objects, portal_of(objects)))
    assert portal.s3_public_endpoint == pod_env(objects, submission)["MICROCRED_S3_PUBLIC_ENDPOINT"]
