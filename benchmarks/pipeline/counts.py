"""Counts per completed submission, per service: SQL statements and round trips, transactions, Kafka requests,
HTTP requests served and sent. Counts, unlike CPU timings, do not drift with the host, so a change to the
platform shows here as the statements, requests and round trips it removed (``--counts``).

- SQL: PostgreSQL's ``pg_stat_statements`` (the embedded server ships it; it needs
  ``shared_preload_libraries``, so the server gets :data:`SQL_SETTINGS` only on a ``--counts`` run). Reset
  when the measured phase starts, read when it ends, grouped by database (one per service). Statements
  are the executions of everything but transaction control; round trips count BEGIN and COMMIT too, each
  being one exchange with the server in asyncpg, and the prepares (counted in the services by ``probe/``:
  SQLAlchemy prepares a statement once per connection, and pg_stat_statements sees executions only). One
  statement is executemany: a transaction's outbox rows, which asyncpg pipelines in one exchange, so round trips
  overstate by the events beyond the first of each transaction that writes several. Transactions
  come from ``pg_stat_database``. The benchmark's own backlog query (``samplers.BACKLOG_QUERY``) is left out.
  ``server_ms`` is PostgreSQL's time executing each statement (``total_exec_time``) per submission: its work,
  but also any wait for a lock the statement takes (a ``FOR UPDATE`` queued behind another request, an advisory
  lock), so a large figure on a locking statement is queueing, not CPU.
- Kafka and outgoing HTTP: counted inside each service process by ``probe/`` (see its modules), and in the
  load generator by the same counters, in process.
- HTTP served: each service's own ``microcred_http_requests`` counter, read from ``/metrics`` before and
  after; the load generator's requests per route from its client.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from microcred.devstack.platform import SERVICES, Platform, service_of
from pipeline.probe import bench_counting

SQL_SETTINGS = {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.max": "10000",
                "pg_stat_statements.track_utility": "on"}
PROBE = Path(__file__).resolve().parent / "probe"
TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|START TRANSACTION|SAVEPOINT|RELEASE)\b", re.I)
LOAD_GENERATOR = "load generator"


def service_env(directory: Path) -> dict[str, str]:
    """What a service process needs for its requests to be counted (``probe/sitecustomize.py``)."""
    path = os.pathsep.join(p for p in (str(PROBE), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "BENCH_COUNTS_DIR": str(directory)}


# -- pure parts: rows and counters in, per-submission figures out ----------------------------------------------

def per_submission(count: float, completed: int) -> float:
    return round(count / max(completed, 1), 2)


def sql_per_service(rows: Iterable[Mapping[str, Any]], transactions: Mapping[str, int], completed: int, *,
                    prepares: Mapping[str, int] | None = None, exclude: Iterable[str] = (),
                    top: int = 12) -> dict[str, Any]:
    """``rows`` are pg_stat_statements rows (datname, query, calls, rows, total_exec_time when read) of the measured
    phase; ``transactions``
    the commits and rollbacks per database in it, ``prepares`` each service's statement prepares. Per service
    database: statements, round trips, prepares and transactions per completed submission, and its statements
    by calls per submission, most first."""
    prepares = prepares or {}
    excluded = {" ".join(q.split()) for q in exclude}
    by_service: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        if row["datname"] in SERVICES and " ".join(row["query"].split()) not in excluded:
            by_service.setdefault(row["datname"], []).append(row)
    found = {}
    for service in sorted(set(by_service) | {s for s in (*transactions, *prepares) if s in SERVICES}):
        statements = by_service.get(service, [])
        control = sum(r["calls"] for r in statements if TRANSACTION_CONTROL.match(r["query"]))
        total = sum(r["calls"] for r in statements)
        ranked = sorted(statements, key=lambda r: (-r["calls"], r["query"]))
        found[service] = {
            "statements": per_submission(total - control, completed),
            "round_trips": per_submission(total + prepares.get(service, 0), completed),
            "prepares": per_submission(prepares.get(service, 0), completed),
            "transactions": per_submission(transactions.get(service, 0), completed),
            "rows": per_submission(sum(r["rows"] for r in statements if not TRANSACTION_CONTROL.match(r["query"])),
                                   completed),
            "server_ms": per_submission(sum(r.get("total_exec_time", 0.0) for r in statements), completed),
            "top": [{"calls": per_submission(r["calls"], completed), "rows": per_submission(r["rows"], completed),
                     "server_ms": round(r.get("total_exec_time", 0.0) / max(completed, 1), 3),
                     "query": " ".join(r["query"].split())[:2000]} for r in ranked[:top]],
        }
    return found


_SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def prometheus_counter(text: str, name: str, labels: tuple[str, ...]) -> dict[str, float]:
    """The samples of counter ``name`` (``<name>_total`` in the exposition), keyed by the given labels joined."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or match["name"] != f"{name}_total":
            continue
        values = dict(_LABEL.findall(match["labels"] or ""))
        key = " ".join(values.get(label, "") for label in labels)
        found[key] = found.get(key, 0.0) + float(match["value"])
    return found


def delta(before: Mapping[str, float], after: Mapping[str, float]) -> Counter[str]:
    """What grew between two readings of counters; a key absent before counts from 0."""
    return Counter({k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0) > 0})


_SELECT_LIST = re.compile(r"^(SELECT\s+(?:DISTINCT\s+)?)(.{40,}?)(\s+FROM\s)", re.I | re.S)


def brief(query: str, width: int = 120) -> str:
    """A statement short enough for a table row: a long select list becomes "…", the rest cut to ``width``."""
    short = _SELECT_LIST.sub(lambda m: f"{m[1]}{m[2].split(',')[0]}, …{m[3]}", " ".join(query.split()), count=1)
    return short if len(short) <= width else short[:width - 1] + "…"


def per_submission_table(counts: Mapping[str, float], completed: int) -> dict[str, float]:
    return {k: per_submission(v, completed) for k, v in sorted(counts.items(), key=lambda i: (-i[1], i[0]))}


# -- reading a running platform ---------------------------------------------------------------------------------

@dataclass
class Reading:
    transactions: dict[str, int] = field(default_factory=dict)
    sessions: dict[str, int] = field(default_factory=dict)  # connections opened to each database
    served: dict[str, Counter[str]] = field(default_factory=dict)
    probes: dict[str, dict[str, Counter[str]]] = field(default_factory=dict)  # service -> kafka/http/sql -> counts
    load_generator_http: Counter[str] = field(default_factory=Counter)


class Counting:
    """Started when the measured phase starts, finished once it has drained."""

    def __init__(self, platform: Platform, probe_dir: Path) -> None:
        self.platform = platform
        self.probe_dir = probe_dir
        self.before = Reading()
        bench_counting.install_in_process()

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.platform.endpoints.database_url("postgres", driver="postgresql"))

    async def read(self, http_routes: Mapping[str, list[float]]) -> Reading:
        connection = await self._admin()
        try:
            rows = await connection.fetch("SELECT datname, xact_commit + xact_rollback AS n, sessions "
                                          "FROM pg_stat_database WHERE datname IS NOT NULL")
        finally:
            await connection.close()
        reading = Reading(transactions={r["datname"]: r["n"] for r in rows},
                          sessions={r["datname"]: r["sessions"] for r in rows},
                          load_generator_http=Counter({k: len(v) for k, v in http_routes.items()}))
        reading.probes[LOAD_GENERATOR] = {"kafka": Counter(bench_counting.kafka), "http": Counter(bench_counting.http),
                                          "sql": Counter(bench_counting.sql)}
        pids = {popen.pid: service_of(instance) for instance, popen in self.platform.processes.items()}
        for path in self.probe_dir.glob("*.json"):
            try:
                probe = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            service = pids.get(probe["pid"])
            if service is not None:
                mine = reading.probes.setdefault(service, {"kafka": Counter(), "http": Counter(), "sql": Counter()})
                for kind in mine:
                    mine[kind].update(probe.get(kind, {}))
        async with aiohttp.ClientSession() as http:
            for instance in self.platform.processes:
                async with http.get(self.platform.url(instance) + "/metrics") as response:
                    text = await response.text()
                served = reading.served.setdefault(service_of(instance), Counter())
                served.update(prometheus_counter(text, "microcred_http_requests", ("method", "route")))
        return reading

    async def start(self, http_routes: Mapping[str, list[float]]) -> None:
        # The probes write every second: a reading older than that would count the set-up as load.
        await asyncio.sleep(1.2)
        self.before = await self.read(http_routes)
        connection = await self._admin()
        try:
            await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            await connection.execute("SELECT pg_stat_statements_reset()")
        finally:
            await connection.close()

    async def finish(self, http_routes: Mapping[str, list[float]], completed: int,
                     exclude: Iterable[str]) -> dict[str, Any]:
        await asyncio.sleep(1.2)
        after = await self.read(http_routes)
        connection = await self._admin()
        try:
            rows = await connection.fetch("SELECT d.datname, s.query, s.calls, s.rows, s.total_exec_time FROM pg_stat_statements s "
                                          "JOIN pg_database d ON d.oid = s.dbid")
        finally:
            await connection.close()
        transactions = dict(delta(self.before.transactions, after.transactions))
        sessions = delta(self.before.sessions, after.sessions)
        prepares = {service: sum(delta(self.before.probes.get(service, {}).get("sql", {}),
                                       after.probes.get(service, {}).get("sql", {})).values()) for service in SERVICES}
        sql = sql_per_service([dict(r) for r in rows], {k: int(v) for k, v in transactions.items()}, completed,
                              prepares={k: int(v) for k, v in prepares.items()}, exclude=exclude)
        names = _component_names(self.platform)
        for service, found in sql.items():
            # A connection opened under load is a fork of a PostgreSQL backend, an authentication and an empty
            # statement cache (its prepares): what a pool too small for the concurrency pays again and again.
            found["connections_opened"] = per_submission(sessions.get(service, 0), completed)
        services: dict[str, Any] = {}
        for service in (*SERVICES, LOAD_GENERATOR):
            before = self.before.probes.get(service, {})
            now = after.probes.get(service, {})
            kafka = delta(before.get("kafka", {}), now.get("kafka", {}))
            sent: Counter[str] = Counter()
            for key, n in delta(before.get("http", {}), now.get("http", {})).items():
                method, _, address = key.partition(" ")
                sent[f"{method} {names.get(address, address)}"] += n
            served = delta(self.before.served.get(service, {}), after.served.get(service, {}))
            served.pop("GET /metrics", None)  # the benchmark's own readings
            services[service] = {
                "sql": sql.get(service),
                "kafka_requests": per_submission(sum(kafka.values()), completed),
                "kafka_requests_by_api": per_submission_table(kafka, completed),
                "http_served": per_submission(sum(served.values()), completed),
                "http_served_by_route": per_submission_table(served, completed),
                "http_sent": per_submission(sum(sent.values()), completed),
                "http_sent_by_destination": per_submission_table(sent, completed),
            }
        generator = delta(self.before.load_generator_http, after.load_generator_http)
        services[LOAD_GENERATOR]["http_sent_by_route"] = per_submission_table(generator, completed)
        services[LOAD_GENERATOR]["http_sent"] = per_submission(sum(generator.values()), completed)
        services[LOAD_GENERATOR].pop("http_served", None)
        services[LOAD_GENERATOR].pop("http_served_by_route", None)
        services[LOAD_GENERATOR].pop("sql", None)
        return {"unit": "per completed submission", "completed": completed, "per_service": services}


def _component_names(platform: Platform) -> dict[str, str]:
    """host:port -> what listens there, so outgoing HTTP reads as "s3" or "review" rather than a port."""
    names = {f"127.0.0.1:{port}": instance for instance, port in platform.ports.http.items()}
    endpoint = platform.endpoints.s3_endpoint.split("://", 1)[-1].rstrip("/")
    names[endpoint] = "s3"
    names[endpoint.replace("127.0.0.1", "localhost")] = "s3"
    jwks = platform.tokens.jwks_url.split("://", 1)[-1].split("/", 1)[0]
    names[jwks] = "auth (JWKS)"
    return names
