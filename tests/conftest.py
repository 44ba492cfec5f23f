"""The real stack for tests that cross a process boundary.

Where the stack comes from, in order:
1. ``MICROCRED_TEST_INFRA=external`` with ``MICROCRED_TEST_POSTGRES_URL`` (a server URL such as
   ``postgresql://user:pw@host:5432``), ``MICROCRED_TEST_KAFKA`` and ``MICROCRED_TEST_S3_ENDPOINT``
   (+ ``MICROCRED_TEST_S3_ACCESS_KEY``/``_SECRET_KEY``): an existing cluster;
2. a Docker engine that answers: testcontainers (Apache Kafka, PostgreSQL, MinIO);
3. otherwise the embedded stack from PyPI packages (the default, and what CI uses here).
Every test run uses its own ports and data directory, and stops everything it started.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from microcred.devstack.platform import Platform, PlatformPorts
from microcred.devstack.providers import infrastructure_for_tests


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data_dir: Path = tmp_path_factory.mktemp("platform")
    ports = PlatformPorts.free()
    infra = infrastructure_for_tests(data_dir, ports, extra_databases=("runtime_tests",))
    running = Platform(data_dir, ports, infra=infra)
    running.start()
    try:
        yield running
    finally:
        running.stop()
