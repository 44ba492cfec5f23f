"""What watches a local platform: the canary as its own process, and a Prometheus with the deployed configuration.

``microcred up`` starts both when asked (Prometheus by default whenever a ``prometheus`` binary is on the PATH,
the canary with ``--canary``); the live observability test starts the same two against its platform. The
Prometheus configuration is the compose stack's own file (``deploy/observability/prometheus/prometheus.yml``)
with its targets moved to local addresses and its rule files to the repository's, so what a developer sees
locally is what compose and the cluster run: the same job, labels and rules.
"""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import httpx
import yaml

from microcred.devstack.client import wait_for
from microcred.devstack.infra import spawn_child

# The repository this package is installed from (``make install`` installs it editable): the observability
# files are read from there, never copied into the package, so there is one source.
REPO_ROOT = Path(__file__).resolve().parents[5]
OBSERVABILITY = REPO_ROOT / "deploy" / "observability"
COMPOSE_CONFIG = OBSERVABILITY / "prometheus" / "prometheus.yml"
RULES = OBSERVABILITY / "rules"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def canary_env(urls: dict[str, str], key_dir: Path, port: int, *, interval: float, sla: float,
               poll: float | None = None) -> dict[str, str]:
    """The canary's settings against the services at ``urls``, minting its tokens with the development issuer
    whose key is in ``key_dir`` (``microcred up`` keeps it in <data-dir>/auth)."""
    env = os.environ | {f"MICROCRED_{service.upper()}_URL": url for service, url in urls.items()}
    env |= {
        "MICROCRED_MODE": "local",
        "MICROCRED_HTTP_PORT": str(port),
        "MICROCRED_CANARY_AUTH": "dev_issuer",
        "MICROCRED_CANARY_DEV_KEY_DIR": str(key_dir),
        "MICROCRED_CANARY_INTERVAL_SECONDS": str(interval),
        "MICROCRED_CANARY_SLA_SECONDS": str(sla),
        "MICROCRED_LOG_JSON": "false",
    }
    if poll is not None:
        env["MICROCRED_CANARY_POLL_SECONDS"] = str(poll)
    return env


class CanaryProcess:
    """``python -m microcred.canary`` against a platform, as the Deployment runs it."""

    def __init__(self, env: dict[str, str], log: Path | None = None) -> None:
        self.port = int(env["MICROCRED_HTTP_PORT"])
        self.log = log
        output: IO[bytes] | None = log.open("wb") if log else None
        # Dies with its launcher (PR_SET_PDEATHSIG), as the services do: no canary outlives `microcred up`.
        self.process = spawn_child([sys.executable, "-m", "microcred.canary"], env=env,
                                   stdout=output, stderr=subprocess.STDOUT if output else None)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        stop_process(self.process)


def local_config(targets: dict[str, str], *, environment: str = "local", scrape_interval: str | None = None,
                 rules: Path = RULES) -> dict[str, Any]:
    """The compose stack's Prometheus configuration with ``targets`` (service -> host:port) in place of the
    compose hosts, and this checkout's rule files.

    Jobs, labels and intervals come from the compose file; a compose target whose service is not in
    ``targets`` (the canary when it does not run) is left out rather than scraped and reported down.
    """
    config = copy.deepcopy(yaml.safe_load(COMPOSE_CONFIG.read_text()))
    config["rule_files"] = [str(path) for path in sorted(rules.glob("*.yaml"))]
    config["global"]["external_labels"] = {**config["global"].get("external_labels", {}), "environment": environment}
    if scrape_interval:
        # The scrape timeout may not exceed the interval; a busy machine can take over a second to answer.
        config["global"] |= {"scrape_interval": scrape_interval, "scrape_timeout": scrape_interval,
                             "evaluation_interval": scrape_interval}
    for job in config["scrape_configs"]:
        static = []
        for group in job.get("static_configs", ()):
            service = group["labels"]["service"]
            if service in targets:
                static.append({"targets": [targets[service]], "labels": {**group["labels"], "environment": environment}})
        job["static_configs"] = static
    return config


class LocalPrometheus:
    """A ``prometheus`` binary scraping local targets with :func:`local_config`, its data under ``data_dir``."""

    def __init__(self, binary: str, config: dict[str, Any], data_dir: Path, port: int) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.config_file = data_dir / "prometheus.yml"
        self.config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log = data_dir / "prometheus.log"
        self.process = spawn_child(
            [binary, f"--config.file={self.config_file}", f"--storage.tsdb.path={data_dir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=self.log.open("wb"),
        )
        self.http = httpx.Client(base_url=self.url, timeout=10.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30.0) -> None:
        wait_for(self._ready, "Prometheus to be ready", timeout=timeout)

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"prometheus exited ({self.process.returncode}): {self.log.read_text()[-2000:]}")
        try:
            return self.http.get("/-/ready").status_code == 200
        except httpx.TransportError:
            return False

    def api(self, path: str, **params: Any) -> Any:
        body = self.http.get(f"/api/v1/{path}", params=params).json()
        if body["status"] != "success":
            raise RuntimeError(f"{path} {params}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.api("query", query=expr)["result"]  # type: ignore[no-any-return]

    def close(self) -> None:
        self.http.close()
        stop_process(self.process)
