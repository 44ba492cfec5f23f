"""The runtime registers exactly the metrics of the catalog's Runtime table (docs/operations/metrics.md):
the names as exposed, the types and the label names. Dashboards and alerts are written against that table,
so a metric renamed here without it (or there without here) fails this test, not a dashboard in production."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from microcred.runtime.messaging_tables import define_messaging_tables
from microcred.runtime.service import ServiceRuntime
from microcred.runtime.settings import ServiceSettings

CATALOG = Path(__file__).resolve().parents[3] / "docs" / "operations" / "metrics.md"
#: Registered by the runtime but not for dashboards: diagnostics of the runtime itself.
NOT_IN_CATALOG = {"microcred_consumer_commit_failures_total", "microcred_http_undocumented_responses_total"}


def catalog_runtime_rows() -> dict[str, tuple[str, frozenset[str]]]:
    text = CATALOG.read_text()
    section = text.split("## Runtime", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, frozenset[str]]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`microcred_"):
            continue
        labels = frozenset(re.findall(r"`([a-z_]+)`(?:\s*=|,|$)", cells[2]) + re.findall(r"^`([a-z_]+)`$", cells[2]))
        rows[cells[0].strip("`")] = (cells[1], labels)
    return rows


def registered(registry: CollectorRegistry) -> dict[str, tuple[str, frozenset[str]]]:
    found: dict[str, tuple[str, frozenset[str]]] = {}
    for collector in set(registry._collector_to_names):  # a test may read the label names
        labels = frozenset(getattr(collector, "_labelnames", ()))
        for family in collector.describe():
            if family.name.startswith("microcred_"):
                name = f"{family.name}_total" if family.type == "counter" else family.name
                found[name] = (family.type, labels)
    return found


def test_the_runtime_registers_the_catalogs_runtime_metrics_with_their_types_and_labels() -> None:
    runtime = ServiceRuntime(ServiceSettings(service_name="catalog-test", auth_jwks_url="file:///nonexistent/jwks.json"),
                             tables=define_messaging_tables(sa.MetaData()), produces=())
    runtime.create_app(title="catalog test")
    found = registered(runtime.registry)
    expected = catalog_runtime_rows()
    assert len(expected) >= 15, "the catalog's Runtime table was not read"
    assert {name: found.get(name) for name in expected} == expected
    assert set(found) - set(expected) <= NOT_IN_CATALOG, "a runtime metric the catalog does not list"
