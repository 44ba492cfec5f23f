"""What a run prints at its end: the tables of latency and processes, a growth run's chunks, a before/after."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from pipeline import console
from pipeline.counts import brief
from pipeline.report import cpu_ms_per_submission
from pipeline.samplers import MACHINE


def print_summary(report: dict[str, Any]) -> None:
    counts, throughput = report["counts"], report["throughput"]
    console.print(f"[bold]N={counts['submissions']}[/bold]: {counts['completed']} completed, {counts['failed']} failed, "
                  f"{counts['revised']} revised, in {report['timings']['elapsed_s']} s; "
                  f"{throughput['completed_per_s']} completed/s, {throughput['submitted_per_s']} submitted/s, "
                  f"{throughput['broker_records_per_s']} broker records/s")
    table = Table(title="Latency (ms)")
    for column in ("measure", "count", "p50", "p95", "p99", "max"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    rows = {**report["latency"]["per_hop"], **report["latency"]["from_submit_first_pass"],
            "first submit -> last credit (revised)": report["latency"]["from_first_submit_revised_then_credited"]}
    for name, values in rows.items():
        table.add_row(name, *(str(values[k]) for k in ("count", "p50", "p95", "p99", "max")))
    console.print(table)
    table = Table(title="Processes (1 s samples)")
    for column in ("process", "CPU mean %", "CPU max %", "CPU s", "RSS max MB"):
        table.add_column(column, justify="left" if column == "process" else "right")
    for name, values in report["processes"].items():
        if values["cpu_seconds"] >= 0.5:
            table.add_row(name, *(str(values[k]) for k in ("cpu_mean_pct", "cpu_max_pct", "cpu_seconds", "rss_max_mb")))
    console.print(table)
    idle = report.get("idle")
    if idle:
        per_s, per_submission = idle["cpu_ms_per_s"], idle["cpu_ms_per_submission_at_run_rate"]
        console.print(f"idle platform, by the clock ({idle['seconds']:g} s before the load): "
                      f"{per_s['all watched']} CPU-ms/s, {per_submission['all watched']} ms per completed submission at "
                      f"this run's rate; " + ", ".join(f"{name} {value}" for name, value in per_s.items()
                                                        if name != "all watched"))
    ceiling = report.get("ceiling") or {}
    if ceiling:
        console.print(f"ceiling: kafka produce {ceiling['kafka']['produce_per_s']}/s, consume "
                      f"{ceiling['kafka']['consume_per_s']}/s; postgres {ceiling['postgres']['single_row_tx_per_s']} "
                      f"rows/s one per transaction, {ceiling['postgres']['batch_per_s']} rows/s batched; pipeline/"
                      f"kafka produce {ceiling.get('pipeline_over_kafka_produce')}, pipeline/postgres "
                      f"{ceiling.get('pipeline_over_postgres_single_row_tx')}")
    backlog = {k: max((p[1] for p in v), default=0) for k, v in report["series"]["outbox_backlog"].items()}
    lag = {k: max((p[1] for p in v), default=0) for k, v in report["series"]["consumer_lag"].items()}
    console.print(f"max outbox backlog: {backlog}")
    console.print(f"max consumer lag: {dict(sorted(lag.items(), key=lambda i: -i[1])[:6])} "
                  f"{report['series']['consumer_lag_error'] or ''}")


def print_chunked(report: dict[str, Any]) -> None:
    table = Table(title=f"Growth run: {report['chunks_done']} of {report['chunks_total']} chunks")
    for column in ("chunk", "in tables", "completed/s", "p50 ms", "p95 ms", "p99 ms", "machine CPU ms/sub"):
        table.add_column(column, justify="right")
    for c in report["chunks"]:
        e2e = c["latency"]["from_submit_first_pass"]["submit -> credit_last"]
        table.add_row(str(c["index"] + 1), f"{c['submissions_in_tables_at_start'] or 0:,}",
                      str(c["throughput"]["completed_per_s"]), *(str(e2e[q]) for q in ("p50", "p95", "p99")),
                      str(c["cpu_ms_per_submission"].get(MACHINE, "")))
    console.print(table)
    throughput = report["throughput"]
    console.print(f"overall {throughput['completed_per_s']} completed/s; last chunk / first "
                  f"{throughput['last_over_first']}; compared with: {report['growth']['compared_with']}")
    if not report["complete"]:
        console.print("[yellow]the run is not finished: the same command resumes it[/yellow]")


def print_before_after(comparison: dict[str, Any]) -> None:
    old, new = comparison["before"], comparison["after"]
    table = Table(title=f"Before ({comparison['before_file']}) and after")
    for column in ("", "before", "after"):
        table.add_column(column, justify="left" if not column else "right")
    table.add_row("completed / s", str(old["completed_per_s"]), str(new["completed_per_s"]))
    for q in ("p50", "p95", "p99"):
        table.add_row(f"submit -> last credit {q} ms", str(old["submit_to_last_credit_ms"][q]),
                      str(new["submit_to_last_credit_ms"][q]))
    for name, value in new["cpu_ms_per_submission"].items():
        table.add_row(f"CPU ms / submission: {name}", str(old["cpu_ms_per_submission"].get(name, "-")), str(value))
    console.print(table)


def print_counts(counts: dict[str, Any], processes: dict[str, Any], completed: int) -> None:
    """Per completed submission and service: the CPU beside what it was spent on."""
    cpu = cpu_ms_per_submission(processes, completed)
    table = Table(title="Per completed submission (counts.py)")
    for column in ("service", "CPU ms", "SQL statements", "round trips", "prepares", "transactions",
                   "connections opened", "SQL server ms", "Kafka requests", "HTTP served", "HTTP sent"):
        table.add_column(column, justify="left" if column == "service" else "right")
    for service, values in counts["per_service"].items():
        sql = values.get("sql") or {}
        table.add_row(service, str(cpu.get(service, "")), *(str(sql.get(k, "")) for k in
                                                            ("statements", "round_trips", "prepares", "transactions",
                                                             "connections_opened", "server_ms")),
                      str(values["kafka_requests"]), str(values.get("http_served", "")), str(values["http_sent"]))
    console.print(table)
    table = Table(title="Top statements per service, calls per completed submission")
    for column in ("service", "calls", "rows", "server ms", "statement"):
        table.add_column(column, justify="right" if column in ("calls", "rows", "server ms") else "left")
    for service, values in counts["per_service"].items():
        for row in ((values.get("sql") or {}).get("top") or [])[:6]:
            table.add_row(service, str(row["calls"]), str(row["rows"]), str(row.get("server_ms", "")),
                          brief(row["query"]))
    console.print(table)
    for service, values in counts["per_service"].items():
        console.print(f"{service}: Kafka {values['kafka_requests_by_api']}; HTTP sent "
                      f"{values.get('http_sent_by_route') or values['http_sent_by_destination']}")


def print_profiles(profiles: dict[str, Any]) -> None:
    table = Table(title="Profiles (py-spy): shares of busy time, on top of the stack / the platform's own, anywhere in it")
    for column in ("service", "busy", "self", "platform code"):
        table.add_column(column, justify="left")
    if isinstance(profiles.get("error"), str):
        console.print(f"[yellow]no profiles: {profiles['error']}[/yellow]")
        return
    for instance, values in profiles.items():
        if "error" in values:
            table.add_row(instance, "", f"[red]{values['error'][-200:]}[/red]")
            continue
        table.add_row(instance, f"{values['busy']} {values['unit']}",
                      *("; ".join(f"{name} {share:.0%}" for name, share in values[kind][:4]) for kind in ("self", "ours")))
    console.print(table)
