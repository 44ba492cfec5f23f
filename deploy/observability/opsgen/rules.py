"""Prometheus recording and alerting rules: SLO burn rates and the causes an operator must see.

The SLOs follow the SRE Workbook's multi-window, multi-burn-rate alerts as Sloth generates them: an error
ratio recorded over 5m, 30m, 1h, 2h, 6h, 1d and 3d (``slo:sli_error:ratio_rate<window>``, one ``slo`` label
per objective), a page when the budget burns 14.4x over 1h (confirmed over 5m) or 6x over 6h (confirmed
over 30m), a ticket at 3x over 1d (2h) or 1x over 3d (6h). The short window makes the alert stop soon after
the problem stops.

The credit-latency SLO is measured by the canary: the promise is "credited within 15 minutes of the decision",
and the canary's reviewer decides at once, so its round trip is exactly the machine part of the flow.
``microcred_flow_award_to_credit_seconds`` (real traffic) starts at the award's issue, after the decision's own
hop to the award service, and leaves out credits that wait for a district; it is on the dashboards, not the SLO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RUNBOOK_BASE = "https://github.com/microcred/microcred/blob/main/docs/operations/runbooks"
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# (severity, [(long window, short window, burn factor), ...]) per the SRE Workbook, table 5-8.
BURN_ALERTS = (
    ("page", (("1h", "5m", 14.4), ("6h", "30m", 6.0))),
    ("ticket", (("1d", "2h", 3.0), ("3d", "6h", 1.0))),
)
# Probes and scrapes are not API traffic: they would dilute the error ratio.
NOT_API = 'route!~"/health.*|/metrics"'


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    severity: str
    summary: str
    description: str
    runbook: str  # file under docs/operations/runbooks, without .md
    for_: str | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def rule(self) -> dict[str, Any]:
        rule: dict[str, Any] = {"alert": self.name, "expr": self.expr}
        if self.for_:
            rule["for"] = self.for_
        rule["labels"] = {"severity": self.severity, **self.labels}
        rule["annotations"] = {
            "summary": self.summary,
            "description": self.description,
            "runbook_url": f"{RUNBOOK_BASE}/{self.runbook}.md#{self.name.lower()}",
        }
        return rule


@dataclass(frozen=True)
class Slo:
    """An objective: the error ratio over a window as PromQL with ``{w}`` for the range, and the target."""

    slo: str
    objective: float
    error_ratio: str  # PromQL where {w} stands for the range; its result is grouped by ``by``
    by: tuple[str, ...]
    alert_prefix: str
    what: str
    failure: str  # completes "<ratio> ..." in the description
    runbook: str

    @property
    def budget(self) -> float:
        return round(1 - self.objective, 6)

    def recording_rules(self) -> list[dict[str, Any]]:
        return [
            {"record": f"slo:sli_error:ratio_rate{w}", "expr": self.error_ratio.replace("{w}", w),
             "labels": {"slo": self.slo}}
            for w in WINDOWS
        ]

    def alerts(self) -> list[Alert]:
        scope = " ".join(f"{{{{ $labels.{label} }}}}" for label in self.by)
        alerts = []
        for severity, conditions in BURN_ALERTS:
            clauses = []
            for long, short, factor in conditions:
                threshold = f"({factor} * {self.budget})"
                clauses.append(
                    f'(slo:sli_error:ratio_rate{long}{{slo="{self.slo}"}} > {threshold}'
                    f' and slo:sli_error:ratio_rate{short}{{slo="{self.slo}"}} > {threshold})'
                )
            fast = severity == "page"
            alerts.append(Alert(
                name=f"{self.alert_prefix}BurnRate{severity.capitalize()}",
                expr="\n or ".join(clauses),
                severity=severity,
                summary=f"{self.what}: the error budget is burning {'fast' if fast else 'steadily'}",
                description=(
                    f"{scope}: {{{{ $value | humanizePercentage }}}} {self.failure} over the last "
                    f"{'1h or 6h' if fast else '1d or 3d'}; the objective allows {self.budget * 100:g}%. "
                    + ("At this rate the 30-day budget lasts less than 5 days." if fast
                       else "At this rate the 30-day budget runs out before the month does.")
                ),
                runbook=self.runbook,
                labels={"slo": self.slo},
            ))
        return alerts


API_AVAILABILITY = Slo(
    slo="api-availability",
    objective=0.999,
    error_ratio=(
        # prometheus_client makes a status's series on its first request: until a 5xx happens there is none,
        # and the ratio must read 0, not nothing (a recording rule with no result leaves the burn panels empty).
        f'(sum by (environment, service) (rate(microcred_http_requests_total{{status=~"5..",{NOT_API}}}[{{w}}]))\n'
        f" or sum by (environment, service) (rate(microcred_http_requests_total{{{NOT_API}}}[{{w}}])) * 0)\n"
        f"/\n"
        f"sum by (environment, service) (rate(microcred_http_requests_total{{{NOT_API}}}[{{w}}]))"
    ),
    by=("environment", "service"),
    alert_prefix="ApiAvailability",
    what="API availability",
    failure="of API requests were answered with a 5xx",
    runbook="slo-api-availability",
)

# Bad: canaries lost (never credited within the SLA) plus any that completed slower than 900 s.
CREDIT_LATENCY = Slo(
    slo="credit-latency",
    objective=0.99,
    error_ratio=(
        "(\n"
        "  sum by (environment) (rate(microcred_canary_lost_total[{w}]))\n"
        "  + sum by (environment) (rate(microcred_canary_round_trip_seconds_count[{w}]))\n"
        '  - sum by (environment) (rate(microcred_canary_round_trip_seconds_bucket{le=~"900(\\\\.0)?"}[{w}]))\n'
        ")\n"
        "/\n"
        "(\n"
        "  sum by (environment) (rate(microcred_canary_lost_total[{w}]))\n"
        "  + sum by (environment) (rate(microcred_canary_round_trip_seconds_count[{w}]))\n"
        ")"
    ),
    by=("environment",),
    alert_prefix="CreditLatency",
    what="Credit latency",
    failure="of canary submissions were not credited within 15 minutes",
    runbook="slo-credit-latency",
)

SLOS = (API_AVAILABILITY, CREDIT_LATENCY)

PARTITION = "environment, group, topic, partition"

MESSAGING = (
    Alert(
        name="ConsumerLagHigh",
        expr="max by (environment, group, topic) (microcred_consumer_lag_seconds) > 300",
        for_="10m",
        severity="ticket",
        summary="A consumer group is more than 5 minutes behind",
        description=(
            "Group {{ $labels.group }} on {{ $labels.topic }} ({{ $labels.environment }}) has had an unhandled "
            "record older than 5 minutes for 10 minutes; now {{ $value | humanizeDuration }}."
        ),
        runbook="consumer-lag",
    ),
    Alert(
        # Burrow's stall: the end offset moves, the committed offset does not, and there is work waiting.
        name="ConsumerLagStalled",
        expr=(
            f"max by ({PARTITION}) (changes(microcred_consumer_committed_offset[10m])) == 0\n"
            f"and on ({PARTITION})\n"
            f"max by ({PARTITION}) (delta(microcred_consumer_end_offset[10m])) > 0\n"
            f"and on ({PARTITION})\n"
            f"max by ({PARTITION}) (microcred_consumer_lag_messages) > 0\n"
            # A partition seen for less than the window has not had the chance to stall.
            f"and on ({PARTITION})\n"
            f"max by ({PARTITION}) (microcred_consumer_committed_offset offset 10m)"
        ),
        for_="5m",
        severity="page",
        summary="A consumer group stopped committing while records keep arriving",
        description=(
            "Group {{ $labels.group }} has not committed on {{ $labels.topic }} partition "
            "{{ $labels.partition }} ({{ $labels.environment }}) for 15 minutes while its end offset grew: "
            "the consumer is stuck, not slow."
        ),
        runbook="consumer-lag",
    ),
    Alert(
        name="OutboxOldestUnsentOld",
        expr="max by (environment, service) (microcred_outbox_oldest_unsent_age_seconds) > 300",
        for_="5m",
        severity="ticket",
        summary="A service's outbox has a row unpublished for over 5 minutes",
        description=(
            "The oldest unsent outbox row of {{ $labels.service }} ({{ $labels.environment }}) is "
            "{{ $value | humanizeDuration }} old: its events are not reaching Kafka."
        ),
        runbook="outbox",
    ),
    Alert(
        name="DeadLettersAppearing",
        expr=(
            "sum by (environment, service, topic, kind) "
            "(increase(microcred_consumer_dead_lettered_total[15m])) > 0"
        ),
        severity="ticket",
        summary="Records are going to a dead-letter topic",
        description=(
            "{{ $labels.service }} sent {{ $value | printf \"%.0f\" }} record(s) from {{ $labels.topic }} to "
            "{{ $labels.topic }}.dlt ({{ $labels.kind }}) in the last 15 minutes ({{ $labels.environment }}). "
            "Each one is a teacher's step that will not happen until someone acts."
        ),
        runbook="dead-letters",
    ),
)

DOMAIN = (
    Alert(
        name="WebhookDeliveriesDead",
        expr='max by (environment, state) (microcred_webhook_deliveries{status="dead"}) > 0',
        for_="10m",
        severity="ticket",
        summary="A state's webhook deliveries gave up",
        description=(
            "{{ $value | printf \"%.0f\" }} webhook deliveries to {{ $labels.state }} ({{ $labels.environment }}) "
            "are dead: retries are exhausted and the state has not heard of these changes."
        ),
        runbook="webhooks",
    ),
    Alert(
        name="ReviewsOverdueGrowing",
        expr=(
            "delta(microcred:reviews_overdue:max[6h]) > 0\n"
            "and\n"
            "microcred:reviews_overdue:max > 0"
        ),
        for_="1h",
        severity="ticket",
        summary="More submissions are past the 14-business-day decision promise",
        description=(
            "Overdue submissions in {{ $labels.environment }} grew by {{ $value | printf \"%.0f\" }} over 6 hours: "
            "reviewers are not keeping up with the promise made to teachers."
        ),
        runbook="reviews-overdue",
    ),
    Alert(
        # One lost canary may be a blip of a single replica; two within half an hour is the flow failing.
        name="CanaryLost",
        expr="sum by (environment) (increase(microcred_canary_lost_total[30m])) >= 2",
        severity="page",
        summary="Synthetic submissions are not being credited",
        description=(
            "{{ $value | printf \"%.0f\" }} canary submissions in {{ $labels.environment }} were not credited within "
            "their SLA in the last 30 minutes: real teachers' credits are stuck too."
        ),
        runbook="canary",
    ),
)

DOMAIN_RECORDING = (
    # Every replica reports the same database-sourced gauge: one series per environment.
    {"record": "microcred:reviews_overdue:max", "expr": "max by (environment) (microcred_reviews_overdue)"},
)

SCRAPE = (
    Alert(
        name="TargetDown",
        expr="up == 0",
        for_="5m",
        severity="ticket",
        summary="Prometheus cannot scrape a target",
        description=(
            "{{ $labels.job }} at {{ $labels.instance }} ({{ $labels.service }}, {{ $labels.environment }}) "
            "has not answered a scrape for 5 minutes: its metrics, and alerts built on them, are blind."
        ),
        runbook="target-down",
    ),
)


def rule_files() -> dict[str, dict[str, Any]]:
    """Rule files by name, each a Prometheus rule file document with its groups."""
    slo_groups = []
    for slo in SLOS:
        slo_groups.append({"name": f"slo-{slo.slo}-recording", "interval": "30s",
                           "rules": slo.recording_rules()})
        slo_groups.append({"name": f"slo-{slo.slo}-alerts", "rules": [a.rule() for a in slo.alerts()]})
    return {
        "slo.yaml": {"groups": slo_groups},
        "messaging.yaml": {"groups": [{"name": "messaging", "rules": [a.rule() for a in MESSAGING]}]},
        "domain.yaml": {"groups": [
            {"name": "domain-recording", "rules": list(DOMAIN_RECORDING)},
            {"name": "domain", "rules": [a.rule() for a in DOMAIN]},
        ]},
        "scrape.yaml": {"groups": [{"name": "scrape", "rules": [a.rule() for a in SCRAPE]}]},
    }


def all_alerts() -> list[Alert]:
    return [a for slo in SLOS for a in slo.alerts()] + [*MESSAGING, *DOMAIN, *SCRAPE]


def prometheus_rule() -> dict[str, Any]:
    """The same groups as one PrometheusRule for kube-prometheus-stack (its default ruleSelector label)."""
    groups = [group for doc in rule_files().values() for group in doc["groups"]]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "microcred",
            "labels": {"app.kubernetes.io/part-of": "microcred", "release": "kube-prometheus-stack"},
        },
        "spec": {"groups": groups},
    }
