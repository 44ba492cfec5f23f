"""The five dashboards an on-call engineer works from, each answering one question.

overview: does work flow, and are we inside the SLOs? service: is this service healthy (RED, HTTP and
messages)? kafka: where is work stuck between services (lag, stalls, outboxes)? review: do reviewers keep the
14-business-day promise, and agree? states: does every state get its feed, credits and webhooks?

Query conventions (docs/operations/metrics.md): counters are summed over replicas; gauges read from the
database are the same on every replica, so they take ``max by``; per-partition consumer gauges are summed
(each replica reports only the partitions it holds). Rates use ``$__rate_interval``; totals over the
visible range use ``increase(...[$__range])``.
"""

from __future__ import annotations

from opsgen.grafana import ENVIRONMENT, Dashboard, Panel, Query, Row, Variable

E = 'environment="$environment"'
ES = f'{E}, service=~"$service"'
EST = f'{E}, state=~"$state"'
R = "$__rate_interval"

SERVICE = Variable("service", "Service", 'label_values(up{environment="$environment"}, service)')
STATE = Variable("state", "State", 'label_values(microcred_credits_total{environment="$environment"}, state)')

# The hops of a teacher's submission, each counted where it completes.
HOPS = (
    ("submitted", f"microcred_submissions_submitted_total{{{E}}}"),
    ("assigned", f'microcred_consumer_messages_total{{{E}, group="submission.review.assigned", topic="review.assigned", '
                 f'outcome="handled"}}'),
    ("scored", f'microcred_consumer_messages_total{{{E}, group="award.review.scored", topic="review.scored", outcome="handled"}}'),
    ("awarded", f'microcred_awards_total{{{E}, kind="micro_credential", event="issued"}}'),
    ("credit posted", f'microcred_credits_total{{{E}, outcome="posted"}}'),
)


def quantiles(metric: str, selector: str, by: str, legend: str, qs: tuple[float, ...] = (0.5, 0.99)) -> tuple[Query, ...]:
    group = f"{by}, le" if by else "le"
    return tuple(
        Query(f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket{{{selector}}}[{R}])))",
              f"p{round(q * 100)} {legend}".strip())
        for q in qs
    )


def error_ratio(selector: str, by: str) -> str:
    # Until a 5xx happens its series does not exist: "or all * 0" makes the ratio 0 rather than no data.
    total = f"sum by ({by}) (rate(microcred_http_requests_total{{{selector}}}[{R}]))"
    return (f'(sum by ({by}) (rate(microcred_http_requests_total{{{selector}, status=~"5.."}}[{R}])) or {total} * 0)'
            f"\n/\n{total}")


def overview() -> Dashboard:
    flow = Row("Flow: submitted → assigned → scored → awarded → credit posted", (
        Panel("Funnel over the selected range",
              "How many submissions passed each hop in the time range. Scored counts every decision (passed "
              "and revise); credit posted counts one per license credited, so a teacher licensed in two states "
              "counts twice. A hop far below the one before it is where work is stuck.",
              "short", tuple(Query(f"sum(increase({m}[$__range]))", hop, instant=True) for hop, m in HOPS),
              kind="bargauge", width=8),
        Panel("Throughput per hop",
              "Per-second rate of each hop. In a healthy flow the lines move together, offset by review time.",
              "ops", tuple(Query(f"sum(rate({m}[{R}]))", hop) for hop, m in HOPS), width=16),
        Panel("Award to credit (real traffic)",
              "Time from an award's issue to the credit it posted, for credits settled when the award arrived: the "
              "automated hops after the decision (seconds are normal; minutes mean lag). The human part, submit to "
              "decision, is on the review dashboard. From microcred_flow_award_to_credit_seconds.",
              "s", quantiles("microcred_flow_award_to_credit_seconds", E, "", "")),
        Panel("Canary round trip",
              "Synthetic submission from submit to credit with an instant decision: the machine part of the "
              "flow, which the credit-latency SLO bounds at 15 minutes.",
              "s", quantiles("microcred_canary_round_trip_seconds", E, "", ""), width=8),
        Panel("Canaries lost over the selected range",
              "Canary submissions not credited within their SLA. Two within 30 minutes page (CanaryLost).",
              "short", (Query(f"sum(increase(microcred_canary_lost_total{{{E}}}[$__range]))", "lost", instant=True),),
              kind="stat", width=4, thresholds=((1, "orange"), (2, "red"))),
    ))
    errors = Row("Errors", (
        Panel("HTTP 5xx ratio by service",
              "Share of API requests answered with a 5xx. The API availability SLO allows 0.1%.",
              "percentunit", (Query(error_ratio(E, "service"), "{{service}}"),), width=8,
              thresholds=((0.001, "red"),)),
        Panel("Dead-lettered records by topic",
              "Records a consumer gave up on and sent to <topic>.dlt, by reason class. Anything above zero needs a "
              "human: see the dead-letters runbook.",
              "ops", (Query(f"sum by (service, topic, kind) (rate(microcred_consumer_dead_lettered_total{{{E}}}[{R}]))",
                            "{{service}} {{topic}} {{kind}}"),), width=8),
        Panel("Outbox relay failures",
              "Relay batches that failed to publish, by service. Sustained failures leave events in the outbox.",
              "ops", (Query(f"sum by (service) (rate(microcred_outbox_publish_failures_total{{{E}}}[{R}]))",
                            "{{service}}"),), width=8),
    ))
    slo = Row("SLO burn (1 = spending the 30-day budget exactly)", (
        Panel("API availability: burn rate",
              "Error ratio divided by the 0.1% budget, per service, over 1h and 6h. Page above 14.4 (1h) or 6 (6h); "
              "ticket above 3 (1d) or 1 (3d).",
              "none", (Query(f'max by (service) (slo:sli_error:ratio_rate1h{{{E}, slo="api-availability"}}) / 0.001',
                             "1h {{service}}"),
                       Query(f'max by (service) (slo:sli_error:ratio_rate6h{{{E}, slo="api-availability"}}) / 0.001',
                             "6h {{service}}")),
              thresholds=((6, "orange"), (14.4, "red"))),
        Panel("Credit latency: burn rate",
              "Share of canary submissions not credited within 15 minutes divided by the 1% budget, over 1h, 6h "
              "and 1d.",
              "none", tuple(Query(f'max(slo:sli_error:ratio_rate{w}{{{E}, slo="credit-latency"}}) / 0.01', w)
                            for w in ("1h", "6h", "1d")),
              thresholds=((6, "orange"), (14.4, "red"))),
    ))
    return Dashboard("microcred-overview", "Microcred / Overview",
                     "Does work flow from submission to credit, and are the SLOs holding?", (flow, errors, slo),
                     tags=("overview",))


def service() -> Dashboard:
    http = Row("HTTP (rate, errors, duration by route)", (
        Panel("Requests by route", "Requests answered per second, by service, method and route template.",
              "reqps", (Query(f"sum by (service, method, route) (rate(microcred_http_requests_total{{{ES}}}[{R}]))",
                              "{{service}} {{method}} {{route}}"),), width=8, stack=True),
        Panel("5xx ratio by route", "Share of each route's requests answered with a 5xx.",
              "percentunit", (Query(error_ratio(ES, "service, route"), "{{service}} {{route}}"),), width=8),
        Panel("Request time p99 by route", "99th percentile of request time, per route template.",
              "s", quantiles("microcred_http_request_seconds", ES, "service, route", "{{service}} {{route}}",
                             (0.99,)), width=8),
    ))
    messages = Row("Messages (handled, failed, dead-lettered, handler time)", (
        Panel("Messages finished by outcome",
              "Records each consumer group finished with: handled, duplicate (a redelivery the inbox absorbed) or "
              "dead_lettered.",
              "ops", (Query(f"sum by (group, topic, outcome) (rate(microcred_consumer_messages_total{{{ES}}}[{R}]))",
                            "{{group}} {{topic}} {{outcome}}"),), width=8),
        Panel("Handler failures retried",
              "Handler attempts that failed and were retried, and attempts waited out because a dependency was "
              "down.",
              "ops", (Query(f"sum by (topic) (rate(microcred_consumer_retries_total{{{ES}}}[{R}]))", "retry {{topic}}"),
                      Query(f"sum by (topic, dependency) (rate(microcred_consumer_outage_retries_total{{{ES}}}[{R}]))",
                            "outage {{topic}} {{dependency}}")), width=8),
        Panel("Dead-lettered by topic and reason",
              "Records sent to <topic>.dlt: poison (cannot be read) or handler-error (retries exhausted).",
              "ops", (Query(f"sum by (topic, kind) (rate(microcred_consumer_dead_lettered_total{{{ES}}}[{R}]))",
                            "{{topic}} {{kind}}"),), width=8),
        Panel("Handler time p50/p99", "Time in the handler per group and topic, retries included.",
              "s", quantiles("microcred_consumer_handler_seconds", ES, "group, topic", "{{group}} {{topic}}"),
              width=12),
        Panel("Scrape targets up", "Replicas of the selected services Prometheus can scrape.",
              "short", (Query(f"sum by (service) (up{{{ES}}})", "{{service}}"),), width=12),
    ))
    award = Row("Award specifics", (
        Panel("Signing time p50/p99", "Time to sign a document, by what it is: a credential or a status list.",
              "s", quantiles("microcred_award_signing_seconds", ES, "document", "{{document}}"), width=12),
        Panel("Verifications by outcome", "Answers of /verify per second, by outcome.",
              "reqps", (Query(f"sum by (outcome) (rate(microcred_award_verifications_total{{{ES}}}[{R}]))",
                              "{{outcome}}"),), width=12),
    ))
    return Dashboard("microcred-service", "Microcred / Service RED",
                     "Is this service healthy? Rate, errors and duration of its HTTP routes and its consumers.",
                     (http, messages, award), variables=(ENVIRONMENT, SERVICE), tags=("service",))


def kafka() -> Dashboard:
    partition = "group, topic, partition"
    lag = Row("Consumer lag", (
        Panel("Lag in messages by group and topic",
              "Records not yet handled, summed over partitions (each replica reports the partitions it holds).",
              "short", (Query(f"sum by (group, topic) (microcred_consumer_lag_messages{{{ES}}})", "{{group}} {{topic}}"),)),
        Panel("Lag in seconds by group and topic",
              "Age of the oldest record not yet handled: how late this group's work is. Ticket above 5 minutes.",
              "s", (Query(f"max by (group, topic) (microcred_consumer_lag_seconds{{{ES}}})", "{{group}} {{topic}}"),),
              thresholds=((300, "orange"), (900, "red"))),
        Panel("Stalled partitions",
              "Partitions whose committed offset has not moved for 10 minutes while the end offset grew and work "
              "waits: the consumer is stuck, not slow (Burrow's stall).",
              "short", (Query(f"count by (group, topic) (\n"
                              f"  max by ({partition}) (changes(microcred_consumer_committed_offset{{{ES}}}[10m])) == 0\n"
                              f"  and on ({partition}) max by ({partition}) (delta(microcred_consumer_end_offset{{{ES}}}[10m])) > 0\n"
                              f"  and on ({partition}) max by ({partition}) (microcred_consumer_lag_messages{{{ES}}}) > 0\n"
                              f")", "{{group}} {{topic}}"),), thresholds=((1, "red"),)),
        Panel("Produced vs committed per second",
              "Growth of the end offset (records arriving) against growth of the committed offset (records done). "
              "Offsets only grow, so their rate is records per second.",
              "ops", (Query(f"sum by (group, topic) (rate(microcred_consumer_end_offset{{{ES}}}[{R}]))",
                            "end {{group}} {{topic}}"),
                      Query(f"sum by (group, topic) (rate(microcred_consumer_committed_offset{{{ES}}}[{R}]))",
                            "committed {{group}} {{topic}}"))),
        Panel("Worst partitions by lag in seconds", "The ten partitions with the oldest unhandled record.",
              "s", (Query(f"topk(10, max by ({partition}) (microcred_consumer_lag_seconds{{{ES}}}))",
                          "{{group}} {{topic}}/{{partition}}"),), width=24),
    ))
    outbox = Row("Outbox (events written, not yet on Kafka)", (
        Panel("Unsent rows", "Outbox rows not yet published, per service (from the database: max over replicas).",
              "short", (Query(f"max by (service) (microcred_outbox_unsent{{{ES}}})", "{{service}}"),), width=8),
        Panel("Oldest unsent row age", "Age of the oldest unpublished row; 0 when the outbox is empty.",
              "s", (Query(f"max by (service) (microcred_outbox_oldest_unsent_age_seconds{{{ES}}})", "{{service}}"),),
              width=8, thresholds=((300, "red"),)),
        Panel("Relay published and failed", "Rows published per second and relay batches that failed.",
              "ops", (Query(f"sum by (service) (rate(microcred_outbox_published_total{{{ES}}}[{R}]))",
                            "published {{service}}"),
                      Query(f"sum by (service) (rate(microcred_outbox_publish_failures_total{{{ES}}}[{R}]))",
                            "failed {{service}}")), width=8),
    ))
    return Dashboard("microcred-kafka", "Microcred / Kafka and outbox",
                     "Where is work stuck between services? Consumer lag, stalls and outbox backlogs.",
                     (lag, outbox), variables=(ENVIRONMENT, SERVICE), tags=("kafka",))


def review() -> Dashboard:
    queue = Row("Queue and the 14-business-day promise", (
        Panel("Overdue now", "Submissions past the 14-business-day decision promise without a decision.",
              "short", (Query(f"max(microcred_reviews_overdue{{{E}}})", "overdue"),), kind="stat", width=6,
              thresholds=((1, "red"),)),
        Panel("Waiting for a reviewer now", "Submissions no reviewer has been assigned to yet.",
              "short", (Query(f"max(microcred_reviews_waiting_for_reviewer{{{E}}})", "waiting"),), kind="stat",
              width=6),
        Panel("Flagged reviewers", "Reviewers below the kappa or agreement threshold, flagged for recalibration.",
              "short", (Query(f"max(microcred_review_flagged_reviewers{{{E}}})", "flagged"),), kind="stat", width=6,
              thresholds=((1, "orange"),)),
        Panel("Open reviews now", "Reviews assigned and not yet scored.",
              "short", (Query(f"max(microcred_reviews_open{{{E}}})", "open"),), kind="stat", width=6),
        Panel("Review queue", "Open reviews, submissions waiting for a reviewer, and overdue submissions over time.",
              "short", (Query(f"max(microcred_reviews_open{{{E}}})", "open"),
                        Query(f"max(microcred_reviews_waiting_for_reviewer{{{E}}})", "waiting for reviewer"),
                        Query(f"max(microcred_reviews_overdue{{{E}}})", "overdue"))),
        Panel("Submissions by status", "Every submission by its current status (from the database).",
              "short", (Query(f"max by (status) (microcred_submissions{{{E}}})", "{{status}}"),), stack=True),
    ))
    decisions = Row("Decisions", (
        Panel("Submit to decision p50/p90/p99",
              "Time from submit to the review's decision, by outcome. The promise is 14 business days.",
              "s", quantiles("microcred_review_decision_seconds", E, "outcome", "{{outcome}}", (0.5, 0.9, 0.99))),
        Panel("Decisions per second by outcome", "Decisions reached: passed or revision_requested.",
              "ops", (Query(f"sum by (outcome) (rate(microcred_review_decision_seconds_count{{{E}}}[{R}]))",
                            "{{outcome}}"),)),
    ))
    reliability = Row("Reviewer reliability (double-scored work)", (
        Panel("Exact agreement by reviewer", "Share of double-scored criteria where the reviewer agreed exactly.",
              "percentunit", (Query(f"max by (reviewer) (microcred_review_reviewer_agreement{{{E}}})", "{{reviewer}}"),),
              minimum=None),
        Panel("Cohen's kappa by reviewer",
              "Quadratic-weighted kappa of each reviewer against the other reviewer: 1 is perfect, 0 is chance.",
              "none", (Query(f"max by (reviewer) (microcred_review_reviewer_kappa{{{E}}})", "{{reviewer}}"),),
              minimum=None),
    ))
    return Dashboard("microcred-review", "Microcred / Review operations",
                     "Do reviewers keep the 14-business-day promise, and do they agree?",
                     (queue, decisions, reliability), tags=("review",))


def states() -> Dashboard:
    feed = Row("Feed and credits", (
        Panel("Feed records by state and type", "Records written to each state's feed per second.",
              "ops", (Query(f"sum by (state, record_type) (rate(microcred_state_feed_records_total{{{EST}}}[{R}]))",
                            "{{state}} {{record_type}}"),)),
        Panel("Credits over the range by outcome",
              "Credit decisions in the time range per state: posted, pending_approval, rejected, reversed.",
              "short", (Query(f"sum by (state, outcome) (increase(microcred_credits_total{{{EST}}}[$__range]))",
                              "{{state}} {{outcome}}", instant=True),), kind="bargauge"),
        Panel("Credit decisions per second", "Credit decisions per state and outcome over time.",
              "ops", (Query(f"sum by (state, outcome) (rate(microcred_credits_total{{{EST}}}[{R}]))",
                            "{{state}} {{outcome}}"),)),
        Panel("Pending district approvals", "Credits waiting for a district's approval, per state.",
              "short", (Query(f"max by (state) (microcred_credits_pending_approval{{{EST}}})", "{{state}}"),)),
        Panel("Award to credit p50/p99 by state",
              "Time from an award's issue to the credit posted in each state, for credits settled when the award "
              "arrived (district approvals and licenses registered later are left out: they measure those waits).",
              "s", quantiles("microcred_flow_award_to_credit_seconds", EST, "state", "{{state}}"), width=24),
    ))
    webhooks = Row("Webhook health", (
        Panel("Deliveries not yet delivered", "Webhook deliveries per state by status: pending, failed (retrying), "
              "dead (retries exhausted: the state has not heard).",
              "short", (Query(f"max by (state, status) (microcred_webhook_deliveries{{{EST}}})", "{{state}} {{status}}"),)),
        Panel("Delivery attempt failure ratio", "Share of delivery attempts that failed, per state.",
              "percentunit",
              (Query(f'(sum by (state) (rate(microcred_webhook_attempts_total{{{EST}, result="failed"}}[{R}]))'
                     f" or sum by (state) (rate(microcred_webhook_attempts_total{{{EST}}}[{R}])) * 0)\n/\n"
                     f"sum by (state) (rate(microcred_webhook_attempts_total{{{EST}}}[{R}]))", "{{state}}"),)),
        Panel("Dead deliveries now", "Deliveries that gave up, per state. Above zero, a state is missing changes.",
              "short", (Query(f'max by (state) (microcred_webhook_deliveries{{{EST}, status="dead"}})', "{{state}}"),),
              kind="stat", width=24, thresholds=((1, "red"),)),
    ))
    return Dashboard("microcred-states", "Microcred / States",
                     "Does every state receive its feed, credits and webhooks?", (feed, webhooks),
                     variables=(ENVIRONMENT, STATE), tags=("states",))


def dashboards() -> dict[str, Dashboard]:
    return {d.uid.removeprefix("microcred-"): d for d in (overview(), service(), kafka(), review(), states())}
