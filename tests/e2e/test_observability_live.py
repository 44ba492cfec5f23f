"""The dashboards and alerts against what a running platform really exports, read through a real Prometheus.

The lint (tests/observability) checks the queries against the catalog; this checks the catalog and the queries
against the wire. A real ``prometheus`` (Debian's package, as promtool) scrapes every service of the session's
platform and the canary (its own process, as deployed) every 2 seconds and evaluates the alert and recording
rules; this module runs a flow (a pass, a revision, an award and its revocation, credits, a verification and one
dead letter) while canaries go round; then:

- every rule group is healthy in Prometheus (a rule that fails to evaluate is reported there, not at load);
- every metric any dashboard panel or rule names has series, and every label a query filters or groups on is a
  label of that metric's series: a misspelled metric or label fails here;
- every panel's and every rule's expression evaluates, and every panel returns data, but for the few whose
  data only an incident writes (``NEEDS_AN_INCIDENT``), each with its reason.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaProducer
from document_reader import TEST_POISON_HEADER
from promql_lint import ROOT, TARGET_LABELS, grouping_labels, selectors
from system_tools import require_tool

from microcred.devstack.client import PlatformClient, wait_for
from microcred.devstack.monitoring import CanaryProcess, LocalPrometheus, canary_env, free_port, local_config
from microcred.devstack.platform import SERVICES, Platform
from microcred.devstack.samples import NOT_YET

pytestmark = pytest.mark.stack

OBSERVABILITY = ROOT / "deploy" / "observability"
ENVIRONMENT = "e2e"
# What Grafana puts in place of its variables; the ranges cover the whole of this short-lived Prometheus.
SUBSTITUTIONS = {"$__rate_interval": "1m", "$__range": "1h", "$environment": ENVIRONMENT,
                 "$service": "catalog|submission|review|award|licensure", "$state": ".+"}

# Panels (dashboard file, title) whose data only an incident writes: a healthy flow leaves them empty. Their
# metrics and labels are still checked above.
NEEDS_AN_INCIDENT = {
    ("kafka.json", "Stalled partitions"): "only a stuck consumer writes it",
    ("overview.json", "Credit latency: burn rate"): "its 1d window needs a day of canaries before it has a value",
    ("service.json", "Handler failures retried"): "only a failing handler or an outage writes it",
    ("review.json", "Exact agreement by reviewer"): "needs a double-scored panel (test_calibration's platform)",
    ("review.json", "Cohen's kappa by reviewer"): "needs a double-scored panel (test_calibration's platform)",
}
# Metrics with no series in this run: the per-reviewer reliability gauges, which exist once a double-scored panel
# has been calibrated (test_calibration's platform).
NOT_SCRAPED_HERE = {"microcred_review_reviewer_agreement", "microcred_review_reviewer_kappa"}


def substitute(expr: str) -> str:
    for variable, value in sorted(SUBSTITUTIONS.items(), key=lambda item: -len(item[0])):
        expr = expr.replace(variable, value)
    return expr


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expression) of every panel target."""
    found = []
    for path in sorted((OBSERVABILITY / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            found += [(path.name, panel["title"], target["expr"]) for target in panel.get("targets", ())]
    return found


def rule_expressions() -> list[tuple[str, str]]:
    """(rule name, expression) of every recording and alerting rule."""
    found = []
    for path in sorted((OBSERVABILITY / "rules").glob("*.yaml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += [(rule.get("alert") or rule["record"], rule["expr"]) for rule in group["rules"]]
    return found


def label_names(prometheus: LocalPrometheus, metric: str) -> set[str]:
    series = prometheus.api("series", **{"match[]": f'{{__name__="{metric}", environment="{ENVIRONMENT}"}}'})
    return {label for item in series for label in item}


def run_a_flow(platform: Platform, client: PlatformClient, world: Any) -> None:
    """A pass and a revision, an award then its revocation, credits, a verification and one dead letter."""
    teacher = world.teacher(state="TN")
    passed = world.earn(teacher, world.publish("Observed Practice"))
    client.call("POST", "award", "/verify", json=passed["credential"])
    client.call("POST", "award", f"/credentials/{passed['award_id']}/revoke", world.admin,
                json={"reason": "observability check"})
    revised = world.publish("Observed Revision")
    reviewer = world.reviewer(revised)
    submission_id = world.submit_evidence(world.teacher(state="TN"), revised)
    review = client.assigned_review(reviewer, submission_id, attempt=1)
    client.score(reviewer, review["review_id"], NOT_YET, feedback="Show what the exit tickets told you.")

    async def poison() -> None:  # a record that can never be handled: licensure dead-letters it
        producer = AIOKafkaProducer(bootstrap_servers=platform.endpoints.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait("award.revoked", b"not an event", key=str(uuid.uuid4()).encode(),
                                         headers=[(TEST_POISON_HEADER, b"observability")])
        finally:
            await producer.stop()

    asyncio.run(poison())


@pytest.fixture(scope="module")
def prometheus(platform: Platform, client: PlatformClient, module_world: Any,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPrometheus]:
    # A counter's series appears at its first increment, and a rate needs a sample before it: one award before
    # Prometheus starts makes the flow's series exist (when this module runs alone), so the flow below counts.
    module_world.earn(module_world.teacher(state="TN"), module_world.publish("Observed Warm-up"))
    data_dir = tmp_path_factory.mktemp("prometheus")
    binary = require_tool("prometheus", "it reads the dashboards and alerts from a running platform "
                                        "(apt-get install prometheus)")
    urls = {service: platform.url(service) for service in SERVICES}
    # A canary every 3 s, and every target scraped every 2 s with the deployed configuration (microcred up's).
    canary = CanaryProcess(canary_env(urls, platform.tokens.directory, free_port(), interval=3, sla=900, poll=0.5),
                           log=data_dir / "canary.log")
    targets = {service: url.split("://", 1)[1] for service, url in urls.items()} | {"canary": canary.address}
    server = LocalPrometheus(binary, local_config(targets, environment=ENVIRONMENT, scrape_interval="2s"),
                             data_dir, free_port())
    try:
        server.wait_ready()
        # Every target scraped before the flow starts, so each counter has a sample from before it moved.
        wait_for(lambda: len(server.query(f'up{{environment="{ENVIRONMENT}"}} == 1')) == len(SERVICES) + 1,
                 "Prometheus to scrape every service and the canary", timeout=90, interval=1.0)
        time.sleep(4)
        run_a_flow(platform, client, module_world)
        # Counters need two scrapes to show a rate, the dead letter a background refresh, the rules a few
        # evaluations: wait until the flow's last effects are in.
        wait_for(lambda: server.query(f'sum(microcred_consumer_dead_lettered_total{{environment="{ENVIRONMENT}"}}) > 0'),
                 "the dead letter to be scraped", timeout=90, interval=1.0)
        wait_for(lambda: server.query(f'sum(microcred_credits_total{{environment="{ENVIRONMENT}", '
                                      f'outcome="reversed"}}) > 0'),
                 "the reversal to be scraped", timeout=90, interval=1.0)
        wait_for(lambda: server.query(f'sum(microcred_canary_round_trip_seconds_count{{environment="{ENVIRONMENT}"}}) > 1'),
                 f"the canary to complete round trips (its log: {canary.log})", timeout=120, interval=1.0)
        time.sleep(20)  # two refreshes of the database gauges (15 s) and a minute-wide rate's second sample
        # The availability SLO's recording rules evaluate every 2 s, but on a busy machine their first results with
        # two samples inside each window can come later than that: the burn-rate panels read them.
        wait_for(lambda: all(server.query(f'slo:sli_error:ratio_rate{window}{{environment="{ENVIRONMENT}", '
                                          f'slo="api-availability"}}') for window in ("5m", "1h", "6h")),
                 "the API availability SLO's recording rules to have results", timeout=90, interval=1.0)
        yield server
    finally:
        server.close()
        canary.close()


def test_every_rule_group_evaluates_without_error(prometheus: LocalPrometheus) -> None:
    groups = prometheus.api("rules")["groups"]
    assert {rule["name"] for group in groups for rule in group["rules"]} == {name for name, _ in rule_expressions()}
    broken = [(rule["name"], rule.get("lastError")) for group in groups for rule in group["rules"]
              if rule.get("health") != "ok"]
    assert broken == []


def test_every_metric_and_label_the_dashboards_and_rules_name_is_on_the_wire(prometheus: LocalPrometheus) -> None:
    expressions = [expr for _, _, expr in dashboard_queries()] + [expr for _, expr in rule_expressions()]
    problems = []
    for expr in expressions:
        expr = substitute(expr)
        used = selectors(expr)
        for metric, labels in used:
            base = metric.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
            if base in NOT_SCRAPED_HERE:
                continue
            names = label_names(prometheus, metric)
            if not names:
                problems.append(f"{metric}: no series")
                continue
            problems += [f"{metric}: no label {label}" for label in labels if label not in names]
        # A label grouped or joined on must be a label of some metric the expression reads.
        available = set(TARGET_LABELS) | {"le"}
        for metric, _ in used:
            available |= label_names(prometheus, metric)
        if all(m.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum") not in NOT_SCRAPED_HERE
               for m, _ in used):
            problems += [f"{expr[:80]}: groups by {label}, no series has it"
                         for label in grouping_labels(expr) - available]
    assert not problems, "\n".join(sorted(set(problems)))


def test_every_panel_returns_data_from_a_running_platform(prometheus: LocalPrometheus) -> None:
    empty = []
    for dashboard, title, expr in dashboard_queries():
        result = prometheus.query(substitute(expr))
        if not result and (dashboard, title) not in NEEDS_AN_INCIDENT:
            empty.append(f"{dashboard} / {title}: {expr[:120]}")
    assert not empty, "\n".join(empty)
    # The exceptions are real panels still: a stale entry would hide a broken one.
    titles = {(dashboard, title) for dashboard, title, _ in dashboard_queries()}
    assert set(NEEDS_AN_INCIDENT) <= titles


def test_the_flow_is_seen_hop_by_hop(prometheus: LocalPrometheus) -> None:
    """The overview's funnel counts this module's flow at every hop, and the dead letter is seen by its reason."""
    funnel = [(title, expr) for dashboard, title, expr in dashboard_queries()
              if dashboard == "overview.json" and title == "Funnel over the selected range"]
    assert funnel
    for _, expr in funnel:
        (sample,) = prometheus.query(substitute(expr))
        assert float(sample["value"][1]) >= 1, expr
    dead = prometheus.query(f'sum by (topic, kind) (microcred_consumer_dead_lettered_total{{environment="{ENVIRONMENT}"}})')
    assert ("award.revoked", "poison") in {(s["metric"]["topic"], s["metric"]["kind"]) for s in dead
                                           if float(s["value"][1]) > 0}
