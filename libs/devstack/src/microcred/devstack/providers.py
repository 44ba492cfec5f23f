"""Where a test run's infrastructure comes from: an existing cluster, testcontainers, or embedded.

The embedded stack provisions itself; the other two are provisioned here the same way (databases,
the evidence bucket, every topic of the published language), so tests see one shape whatever ran it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from microcred.devstack.infra import Endpoints, TopicSpec
from microcred.devstack.platform import (
    EVIDENCE_BUCKET,
    SERVICES,
    Infrastructure,
    PlatformPorts,
    embedded_infrastructure,
)
from microcred.events.topics import platform_topics

log = logging.getLogger(__name__)


async def _provision_async(endpoints: Endpoints, databases: tuple[str, ...], topics: list[TopicSpec]) -> None:
    import asyncpg
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    connection = await asyncpg.connect(
        host=endpoints.postgres_host, port=endpoints.postgres_port, user=endpoints.postgres_user,
        password=endpoints.postgres_password, database="postgres",
    )
    try:
        existing = {r["datname"] for r in await connection.fetch("SELECT datname FROM pg_database")}
        for name in databases:
            if name not in existing:
                await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.kafka_bootstrap)
    await admin.start()
    try:
        present = set(await admin.list_topics())
        missing = [NewTopic(t.name, t.partitions, 1) for t in topics if t.name not in present]
        if missing:
            await admin.create_topics(missing)
    finally:
        await admin.close()


def provision(endpoints: Endpoints, databases: tuple[str, ...]) -> None:
    from minio import Minio

    topics = [TopicSpec(t.name, t.partitions) for t in platform_topics()]
    asyncio.run(_provision_async(endpoints, databases, topics))
    url = urlparse(endpoints.s3_endpoint)
    client = Minio(url.netloc, endpoints.s3_access_key, endpoints.s3_secret_key, secure=url.scheme == "https")
    if not client.bucket_exists(EVIDENCE_BUCKET):
        client.make_bucket(EVIDENCE_BUCKET)


@dataclass
class ExternalInfrastructure:
    """An existing cluster named by environment variables; left running afterwards."""

    endpoints: Endpoints
    databases: tuple[str, ...]

    def start(self) -> Endpoints:
        provision(self.endpoints, self.databases)
        return self.endpoints

    def stop(self) -> None:
        """Nothing to stop: the cluster belongs to whoever named it."""


@dataclass
class ContainerInfrastructure:
    """Apache Kafka, PostgreSQL and MinIO in containers, when a Docker engine answers."""

    databases: tuple[str, ...]
    _containers: list[Any] = field(default_factory=list)

    def start(self) -> Endpoints:
        from testcontainers.kafka import KafkaContainer
        from testcontainers.minio import MinioContainer
        from testcontainers.postgres import PostgresContainer

        postgres = PostgresContainer("postgres:16-alpine", username="microcred", password="microcred-test")  # noqa: S106 - throwaway container
        kafka = KafkaContainer("confluentinc/cp-kafka:7.6.1").with_kraft()
        minio = MinioContainer("minio/minio:RELEASE.2024-05-10T01-41-38Z")
        for container in (postgres, kafka, minio):
            container.start()
            self._containers.append(container)
        minio_config = minio.get_config()
        endpoints = Endpoints(
            postgres_host=postgres.get_container_host_ip(),
            postgres_port=int(postgres.get_exposed_port(5432)),
            postgres_user="microcred",
            postgres_password="microcred-test",  # noqa: S106 - throwaway container
            kafka_bootstrap=kafka.get_bootstrap_server(),
            s3_endpoint=f"http://{minio_config['endpoint']}",
            s3_access_key=minio_config["access_key"],
            s3_secret_key=minio_config["secret_key"],
        )
        provision(endpoints, self.databases)
        return endpoints

    def stop(self) -> None:
        while self._containers:
            self._containers.pop().stop()


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def _external_from_env(databases: tuple[str, ...]) -> ExternalInfrastructure:
    url = urlparse(os.environ["MICROCRED_TEST_POSTGRES_URL"])
    return ExternalInfrastructure(
        Endpoints(
            postgres_host=url.hostname or "127.0.0.1",
            postgres_port=url.port or 5432,
            postgres_user=url.username or "postgres",
            postgres_password=url.password or "",
            kafka_bootstrap=os.environ["MICROCRED_TEST_KAFKA"],
            s3_endpoint=os.environ["MICROCRED_TEST_S3_ENDPOINT"],
            s3_access_key=os.environ.get("MICROCRED_TEST_S3_ACCESS_KEY", "minioadmin"),
            s3_secret_key=os.environ.get("MICROCRED_TEST_S3_SECRET_KEY", "minioadmin"),
        ),
        databases,
    )


def infrastructure_for_tests(
    data_dir: Path, ports: PlatformPorts, extra_databases: tuple[str, ...] = ()
) -> Infrastructure:
    databases = SERVICES + extra_databases
    choice = os.environ.get("MICROCRED_TEST_INFRA", "auto")
    if choice == "external":
        log.warning("tests use the existing cluster named by MICROCRED_TEST_* variables")
        return _external_from_env(databases)
    if choice == "containers" or (choice == "auto" and _docker_answers()):
        log.warning("tests use testcontainers (a Docker engine answered)")
        return ContainerInfrastructure(databases)
    return embedded_infrastructure(data_dir, ports.infra, data_dir / "logs", extra_databases)
