"""The whole platform on one machine: the embedded stack plus the five services as processes.

``Platform.start()`` brings up PostgreSQL, S3 and the Kafka-protocol broker (see ``infra``), creates
databases, buckets and every topic of the published language, runs each service's migrations, starts
each service as its own ``python -m microcred.<service> serve`` process and waits until every
``/health`` answers 200. Services are driven only as processes and over HTTP, never imported.

Port layout for a base port B: the infrastructure uses B..B+9 (see ``Ports``); services listen on
B+10 (catalog), B+11 (submission), B+12 (review), B+13 (award), B+14 (licensure), and a second replica
of each, when asked for, on B+15..B+19 in the same order. The portal (``portal=True``) takes B+17, the next
port of the block after the canary's (B+15) and Prometheus's (B+16); a second review replica would need it too,
so the two are not offered together.

Replicas (``Platform(..., replicas={"review": 2})`` or ``replicas=2`` for every service) are processes of
the same service against the same database and consumer groups, as a Deployment's pods are: each has its
own HTTP port, process and log (``review-2`` names the second), and they share the first one's public
URL, as pods share their Service's. With N replicas each gets ``partitions // N`` consumers per topic
(at least one) unless ``service_env`` says otherwise: more consumers in a group than partitions sit idle.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol, Self

import httpx

from microcred.devstack.infra import (
    EmbeddedStack,
    Endpoints,
    Ports,
    StackError,
    TopicSpec,
    port_is_free,
    spawn_child,
)
from microcred.events.topics import event_topics, platform_topics, topic_spec
from microcred.runtime.auth import DevTokenIssuer
from microcred.runtime.offsets import LogEnds, committed_offsets, lag

log = logging.getLogger(__name__)

SERVICES = ("catalog", "submission", "review", "award", "licensure")
EVIDENCE_BUCKET = "evidence"
# The fewest partitions a topic the services read has. With N replicas each runs this // N consumers per topic,
# so no consumer of any group sits idle and every replica holds partitions of every topic it reads.
FEWEST_PARTITIONS = min(topic_spec(topic).partitions for topic in event_topics())
# The HTTP ports of a service's replicas sit in the 20-port block ``Ports`` reserves (B+10..B+19).
MAX_REPLICAS = 2
PORTAL = "portal"
PORTAL_OFFSET = 17


def instance_name(service: str, replica: int) -> str:
    """``review`` for a service's first replica, ``review-2`` for its second: names its process, port and log."""
    return service if replica == 1 else f"{service}-{replica}"


def service_of(instance: str) -> str:
    return instance.split("-", 1)[0]


class Infrastructure(Protocol):
    """PostgreSQL + Kafka + S3, provisioned with the platform's databases, topics and buckets."""

    def start(self) -> Endpoints: ...

    def stop(self) -> None: ...


def embedded_infrastructure(
    data_dir: Path, ports: Ports, log_dir: Path, extra_databases: tuple[str, ...] = (),
    broker_log: Literal["s3", "memory"] = "s3", postgres_settings: Mapping[str, str] | None = None,
) -> EmbeddedStack:
    return EmbeddedStack(
        data_dir / "stack",
        ports,
        databases=SERVICES + extra_databases,
        buckets=(EVIDENCE_BUCKET,),
        topics=[TopicSpec(t.name, t.partitions) for t in platform_topics()],
        log_dir=log_dir,
        broker_log=broker_log,
        postgres_settings=postgres_settings,
    )


@dataclass(frozen=True)
class PlatformPorts:
    infra: Ports
    http: dict[str, int]

    @property
    def portal(self) -> int:
        return self.infra.postgres + PORTAL_OFFSET

    @classmethod
    def from_base(cls, base: int) -> PlatformPorts:
        return cls(infra=Ports.from_base(base), http={
            instance_name(s, replica): base + 10 + len(SERVICES) * (replica - 1) + i
            for replica in range(1, MAX_REPLICAS + 1) for i, s in enumerate(SERVICES)
        })

    @classmethod
    def free(cls) -> PlatformPorts:
        infra = Ports.free()
        return cls.from_base(infra.postgres)

    def all_free(self) -> bool:
        """Every port of the layout is free right now (check-then-use, as :meth:`Ports.free`)."""
        return self.infra.all_free() and all(port_is_free(port) for port in self.http.values())


class Platform:
    def __init__(
        self,
        data_dir: Path,
        ports: PlatformPorts,
        *,
        infra: Infrastructure | None = None,
        service_env: dict[str, str] | None = None,
        replicas: int | Mapping[str, int] = 1,
        portal: bool = False,
    ) -> None:
        counts = dict.fromkeys(SERVICES, replicas) if isinstance(replicas, int) else {**dict.fromkeys(SERVICES, 1),
                                                                                     **replicas}
        if set(counts) - set(SERVICES) or not all(1 <= n <= MAX_REPLICAS for n in counts.values()):
            raise ValueError(f"replicas: 1 to {MAX_REPLICAS} of each of {', '.join(SERVICES)}, not {replicas}")
        self.replicas: dict[str, int] = counts
        if portal and ports.portal in {ports.http[instance_name(s, r)] for s in SERVICES for r in range(2, counts[s] + 1)}:
            raise ValueError(f"the portal's port {ports.portal} is a second replica's; run one or the other")
        self.portal = portal
        #: Every service process, first replicas first: ``catalog``, ..., ``catalog-2``, ...
        self.instances = tuple(instance_name(s, r) for r in range(1, MAX_REPLICAS + 1) for s in SERVICES
                               if r <= counts[s])
        self.data_dir = data_dir
        self.ports = ports
        self.log_dir = data_dir / "logs"
        self.stack: Infrastructure = infra or embedded_infrastructure(data_dir, ports.infra, self.log_dir)
        self.tokens = DevTokenIssuer(data_dir / "auth")
        self.service_env = service_env or {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._endpoints: Endpoints | None = None

    @property
    def endpoints(self) -> Endpoints:
        assert self._endpoints is not None, "start() first"
        return self._endpoints

    def url(self, instance: str) -> str:
        """A service's first replica (its public URL) or, named as ``review-2``, another replica's own; or the portal."""
        if instance == PORTAL:
            return f"http://127.0.0.1:{self.ports.portal}"
        return f"http://127.0.0.1:{self.ports.http[instance]}"

    def urls(self, service: str) -> list[str]:
        """Every replica of ``service``, for a client that spreads its requests over them."""
        return [self.url(instance_name(service, r)) for r in range(1, self.replicas[service] + 1)]

    def portal_env(self) -> dict[str, str]:
        """The portal in local mode: the five services' addresses, and the development OIDC provider it hosts,
        signing with the development issuer's key and offering the people in its people.json (runtime.dev_oidc)."""
        env = {
            "MICROCRED_MODE": "local",
            "MICROCRED_HTTP_HOST": "127.0.0.1",
            "MICROCRED_HTTP_PORT": str(self.ports.portal),
            "MICROCRED_PORTAL_PUBLIC_URL": self.url(PORTAL),
            "MICROCRED_PORTAL_DEV_KEY_DIR": str(self.tokens.directory),
            "MICROCRED_AUTH_ISSUER": self.tokens.issuer,
            "MICROCRED_AUTH_AUDIENCE": self.tokens.audience,
            "MICROCRED_LOG_JSON": "true",
            # Where browsers PUT evidence (the submission service signs its URLs for it): the pages' connect-src.
            "MICROCRED_S3_PUBLIC_ENDPOINT": self.endpoints.s3_endpoint,
            **{f"MICROCRED_{service.upper()}_URL": self.url(service) for service in SERVICES},
        }
        return {**os.environ, **env}

    def env_for(self, instance: str) -> dict[str, str]:
        if instance == PORTAL:
            return self.portal_env()
        e = self.endpoints
        service = service_of(instance)
        replicas = self.replicas[service]
        env = {
            "MICROCRED_MODE": "local",
            "MICROCRED_DATABASE_URL": e.database_url(service),
            "MICROCRED_KAFKA_BOOTSTRAP_SERVERS": e.kafka_bootstrap,
            "MICROCRED_HTTP_HOST": "127.0.0.1",
            "MICROCRED_HTTP_PORT": str(self.ports.http[instance]),
            # Replicas stand behind one address, as pods behind their Service: links and credential URLs a
            # replica writes must not name its own port.
            "MICROCRED_PUBLIC_BASE_URL": self.url(service),
            "MICROCRED_AUTH_JWKS_URL": self.tokens.jwks_url,
            "MICROCRED_AUTH_ISSUER": self.tokens.issuer,
            "MICROCRED_AUTH_AUDIENCE": self.tokens.audience,
            "MICROCRED_S3_ENDPOINT": e.s3_endpoint,
            "MICROCRED_S3_PUBLIC_ENDPOINT": e.s3_endpoint,
            "MICROCRED_S3_ACCESS_KEY": e.s3_access_key,
            "MICROCRED_S3_SECRET_KEY": e.s3_secret_key,
            "MICROCRED_S3_BUCKET": EVIDENCE_BUCKET,
            "MICROCRED_LOG_JSON": "true",
        }
        if replicas > 1:
            env["MICROCRED_CONSUMER_WORKERS_PER_TOPIC"] = str(max(1, FEWEST_PARTITIONS // replicas))
        return {**os.environ, **env, **self.service_env}

    def start(self, timeout: float = 120.0) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._endpoints = self.stack.start()
        try:
            for service in SERVICES:
                self._migrate(service)
            for instance in self.instances:
                self.start_service(instance)
            if self.portal:
                self.start_service(PORTAL)
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise

    def _migrate(self, service: str) -> None:
        result = subprocess.run(
            [sys.executable, "-m", f"microcred.{service}", "migrate"],
            env=self.env_for(service), capture_output=True, timeout=120, check=False,
        )
        if result.returncode != 0:
            raise StackError(
                f"migrations of {service} failed:\n{result.stdout.decode()[-2000:]}{result.stderr.decode()[-4000:]}",
                component=service,
            )

    def start_service(self, instance: str) -> None:
        """Start a service's process: its first replica by the service's name, another as ``review-2``."""
        log_file = (self.log_dir / f"{instance}.log").open("ab")
        # Dies with the launcher (PR_SET_PDEATHSIG), so no service outlives `make up` or a test run; and
        # only with it, not with the thread that asked (a test restarting a service from a worker thread).
        self.processes[instance] = spawn_child(
            [sys.executable, "-m", f"microcred.{service_of(instance)}", "serve"],
            env=self.env_for(instance), stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log_file.close()

    def stop_service(self, service: str, *, kill: bool = False) -> None:
        process = self.processes.pop(service, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def wait_healthy(self, timeout: float = 120.0, services: tuple[str, ...] | None = None) -> None:
        """Wait until ``services`` (instances, as :meth:`start_service` names them; default all) answer /health."""
        deadline = time.monotonic() + timeout
        pending = set((*self.instances, *([PORTAL] if self.portal else [])) if services is None else services)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for service in sorted(pending):
                    process = self.processes.get(service)
                    if process is not None and process.poll() is not None:
                        raise StackError(
                            f"{service} exited with {process.returncode}; its log:\n{self.log_tail(service)}",
                            component=service,
                        )
                    try:
                        if client.get(f"{self.url(service)}/health").status_code == 200:
                            pending.discard(service)
                    except httpx.HTTPError:
                        pass
                if pending and time.monotonic() > deadline:
                    raise StackError(f"not healthy after {timeout:.0f}s: {', '.join(sorted(pending))}")
                if pending:
                    time.sleep(0.3)

    def kill_service(self, service: str) -> None:
        """SIGKILL a service's process, as a crash of its container would: nothing is flushed or committed."""
        self.stop_service(service, kill=True)

    def restart_service(self, service: str, timeout: float = 120.0) -> None:
        """Start a stopped or killed service again as :meth:`start` starts it, and wait until it is healthy."""
        self.start_service(service)
        self.wait_healthy(timeout, services=(service,))

    def consumer_groups(self) -> list[str]:
        """``<service>.<topic>``, the consumer group of every subscriber of every service, read from each
        service's AsyncAPI document: the broker (Tansu) does not answer ListGroups."""
        groups: set[str] = set()
        with httpx.Client(timeout=5.0) as client:
            for service in SERVICES:
                document = client.get(f"{self.url(service)}/asyncapi.json").raise_for_status().json()
                groups.update(
                    group
                    for operation in document["operations"].values() if operation["action"] == "receive"
                    for group in operation["bindings"]["kafka"]["groupId"]["enum"]
                )
        return sorted(groups)

    def consumer_lag(self) -> dict[str, int]:
        """Records each consumer group has yet to handle, counted to the partitions' real ends (see
        ``runtime.offsets``: Tansu's ListOffsets falls behind). A group that committed nothing yet counts
        from offset 0, where it would start."""
        groups = self.consumer_groups()
        bootstrap = self.endpoints.kafka_bootstrap

        async def read() -> dict[str, int]:
            async with LogEnds(bootstrap) as log_ends:
                partitions = await log_ends.partitions({group.split(".", 1)[1] for group in groups})
                ends = await log_ends.read(partitions)
            found = {}
            for group in groups:
                topic = group.split(".", 1)[1]
                mine = {tp: end for tp, end in ends.items() if tp.topic == topic}
                found[group] = sum(lag(mine, await committed_offsets(bootstrap, group, mine)).values())
            return found

        return asyncio.run(read())

    def log_tail(self, service: str, lines: int = 60) -> str:
        path = self.log_dir / f"{service}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        for service in list(self.processes):
            self.stop_service(service)
        self.stack.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
