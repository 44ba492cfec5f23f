"""The pipeline benchmark's counts (benchmarks/pipeline/counts.py) and profile summary (profiles.py): the pure
parts that turn pg_stat_statements rows, Prometheus counters and py-spy documents into per-submission figures.
The benchmark itself runs by hand; these catch a wrong division or a statement counted in the wrong column."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from pipeline.counts import brief, delta, prometheus_counter, sql_per_service
from pipeline.profiles import hottest


def row(datname: str, query: str, calls: int, rows: int = 0, exec_ms: float = 0.0) -> dict[str, object]:
    return {"datname": datname, "query": query, "calls": calls, "rows": rows, "total_exec_time": exec_ms}


def test_statements_round_trips_and_transactions_per_completed_submission() -> None:
    rows = [
        row("review", "BEGIN", 40), row("review", "COMMIT", 38), row("review", "ROLLBACK", 2),
        row("review", "SELECT * FROM inbox WHERE id = $1", 20, 20, exec_ms=3.0),
        row("review", "INSERT INTO outbox (id, payload)\n   VALUES ($1, $2)", 60, 60),
        row("review", "SELECT count(*) FROM outbox WHERE published_at IS NULL", 500, 500),  # the benchmark's own
        row("award", "SELECT $1", 10, 10, exec_ms=0.5),
        row("microcred_ceiling", "INSERT INTO t VALUES ($1)", 9999),  # not a service's database
    ]
    found = sql_per_service(rows, {"review": 40, "award": 5, "postgres": 3}, completed=20, prepares={"review": 10},
                            exclude=["SELECT count(*) FROM outbox\n WHERE published_at IS NULL"])
    assert set(found) == {"review", "award"}
    review = found["review"]
    assert review["statements"] == 4.0  # 80 calls, transaction control and the benchmark's query left out
    assert review["round_trips"] == 8.5  # 160 calls (BEGIN, COMMIT and ROLLBACK are exchanges too), 10 prepares
    assert review["prepares"] == 0.5
    assert review["transactions"] == 2.0
    assert review["rows"] == 4.0
    assert review["server_ms"] == 0.15  # PostgreSQL's time executing them, per completed submission
    assert [t["query"] for t in review["top"]][:2] == ["INSERT INTO outbox (id, payload) VALUES ($1, $2)", "BEGIN"]
    assert review["top"][0]["calls"] == 3.0
    assert found["award"] == {"statements": 0.5, "round_trips": 0.5, "prepares": 0.0, "transactions": 0.25, "rows": 0.5,
                              "server_ms": 0.03,
                              "top": [{"calls": 0.5, "rows": 0.5, "server_ms": 0.025, "query": "SELECT $1"}]}


def test_nothing_completed_divides_by_one_rather_than_failing() -> None:
    assert sql_per_service([row("catalog", "SELECT $1", 3)], {}, completed=0)["catalog"]["statements"] == 3.0


EXPOSITION = """# HELP microcred_http_requests_total HTTP requests
# TYPE microcred_http_requests_total counter
microcred_http_requests_total{method="POST",route="/submissions/{submission_id}/submit",status="202"} 7.0
microcred_http_requests_total{method="POST",route="/submissions/{submission_id}/submit",status="409"} 1.0
microcred_http_requests_total{method="GET",route="/metrics",status="200"} 3.0
microcred_http_requests_created{method="GET",route="/metrics",status="200"} 1.7e9
microcred_http_request_seconds_count{method="GET",route="/metrics"} 3.0
"""


def test_prometheus_counter_sums_the_statuses_of_a_route_and_ignores_other_series() -> None:
    counts = prometheus_counter(EXPOSITION, "microcred_http_requests", ("method", "route"))
    assert counts == {"POST /submissions/{submission_id}/submit": 8.0, "GET /metrics": 3.0}


def test_brief_shortens_a_long_select_list_and_keeps_the_rest() -> None:
    query = ("SELECT reviews.review_id, reviews.submission_id, reviews.attempt, reviews.credential_id\n"
             "FROM reviews WHERE reviews.reviewer_id = $1")
    assert brief(query) == "SELECT reviews.review_id, … FROM reviews WHERE reviews.reviewer_id = $1"
    assert brief("COMMIT") == "COMMIT"
    assert brief("UPDATE t SET " + "a = 1, " * 40, width=20) == "UPDATE t SET a = 1,…"


def test_delta_keeps_what_grew_and_counts_new_keys_from_zero() -> None:
    assert delta({"a": 5, "b": 2, "gone": 1}, {"a": 9, "b": 2, "new": 4}) == {"a": 4, "new": 4}


def test_hottest_shares_busy_time_per_function_over_every_thread() -> None:
    document = {
        "shared": {"frames": [{"name": "<module>", "file": "/r/services/award/src/microcred/award/__main__.py", "line": 6},
                              {"name": "handle", "file": "/r/services/award/src/microcred/award/handlers.py", "line": 9},
                              {"name": "handle", "file": "/r/services/award/src/microcred/award/handlers.py", "line": 12},
                              {"name": "dumps", "file": "/usr/lib/python3.11/json/__init__.py", "line": 3}]},
        "profiles": [{"unit": "seconds", "samples": [[0, 1], [0, 2, 3], [0, 2, 3]], "weights": [0.01, 0.01, 0.02]},
                     {"unit": "seconds", "samples": [[0]], "weights": [0.01]}],
    }
    found = hottest(document)
    assert (found["busy"], found["unit"]) == (0.05, "seconds")
    assert found["self"] == [["dumps (json/__init__.py)", 0.6],
                             ["handle (microcred/award/handlers.py)", 0.2], ["<module> (microcred/award/__main__.py)", 0.2]]
    # Both lines of handle count once per sample; the entry frame, in every stack, is left out.
    assert found["ours"] == [["handle (microcred/award/handlers.py)", 0.8]]
