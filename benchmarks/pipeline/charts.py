"""The PNG charts of a run, of a growth curve over several sizes, of a chunked growth run, of a before/after.

matplotlib is imported inside each function: it is slow to import and only needed once a run is over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.samplers import MACHINE


def draw_run(report: dict[str, Any], raw_hops: dict[str, list[float]], charts: Path, tag: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    charts.mkdir(parents=True, exist_ok=True)
    series = report["series"]
    title = f"N={report['parameters']['submissions']}, rate {report['parameters']['rate_per_s']}"

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 8), sharex=True)
    for name in ("submitted_per_s", "completed_per_s"):
        top.plot(range(len(series[name])), series[name], label=name.replace("_", " "))
    top.set_ylabel("submissions / s")
    top.legend()
    top.set_title(f"Throughput and latency over time ({title})")
    completions = series["completions"]
    if completions:
        bottom.scatter([c[0] for c in completions], [c[1] for c in completions], s=4, alpha=0.5,
                       label="submit -> last credit (each completion)")
        bottom.set_yscale("log")
    bottom.set_ylabel("seconds")
    bottom.set_xlabel("seconds since the first submission")
    bottom.legend()
    figure.tight_layout()
    figure.savefig(charts / f"{tag}-throughput-latency.png", dpi=110)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(11, 5))
    names = [name for name, values in raw_hops.items() if values]
    # A hop can be 0 or below (an event published in the same relay batch as its cause, or before the HTTP
    # answer reached the client); the log axis needs a floor, so those are drawn at 1 ms.
    axis.boxplot([[max(v * 1000, 1.0) for v in raw_hops[n]] for n in names], orientation="horizontal",
                 whis=(1, 99), showfliers=False)
    axis.set_yticks(range(1, len(names) + 1), names)
    axis.set_xscale("log")
    axis.set_xlabel("milliseconds (box: p25-p75, whiskers: p1-p99; 0 or less drawn at 1 ms)")
    axis.set_title(f"Per-hop latency ({title})")
    figure.tight_layout()
    figure.savefig(charts / f"{tag}-hops.png", dpi=110)
    plt.close(figure)

    figure, (cpu, backlog, lag) = plt.subplots(3, 1, figsize=(11, 11), sharex=True)
    for name, points in sorted(series["process"].items()):
        if points and max(p[1] for p in points) >= 5:  # idle helpers only clutter the chart
            cpu.plot([p[0] for p in points], [p[1] for p in points], label=name)
    cpu.set_ylabel("CPU % (100 = one core)")
    cpu.legend(fontsize=7, ncol=3)
    cpu.set_title(f"Resources, outbox backlog and consumer lag ({title})")
    for name, points in sorted(series["outbox_backlog"].items()):
        backlog.plot([p[0] for p in points], [p[1] for p in points], label=name)
    backlog.set_ylabel("outbox backlog (rows)")
    backlog.legend(fontsize=7)
    for name, points in sorted(series["consumer_lag"].items()):
        if points and max(p[1] for p in points) > 0:
            lag.plot([p[0] for p in points], [p[1] for p in points], label=name)
    lag.set_ylabel("consumer lag (records)")
    lag.set_xlabel("seconds since the first submission")
    if series["consumer_lag_error"]:
        lag.text(0.01, 0.5, f"lag unavailable: {series['consumer_lag_error'][:90]}", transform=lag.transAxes)
    elif lag.get_legend_handles_labels()[0]:
        lag.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(charts / f"{tag}-resources.png", dpi=110)
    plt.close(figure)


def draw_growth(reports: list[dict[str, Any]], charts: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["parameters"]["submissions"] for r in reports]
    figure, (rate, latency) = plt.subplots(1, 2, figsize=(12, 4.5))
    rate.plot(sizes, [r["throughput"]["completed_per_s"] or 0 for r in reports], marker="o", label="completed / s")
    rate.plot(sizes, [r["throughput"]["submitted_per_s"] or 0 for r in reports], marker="o", label="submitted / s")
    rate.set_xscale("log")
    rate.set_ylim(bottom=0)  # from zero: a few percent must look like a few percent
    rate.set_xlabel("submissions in the run")
    rate.legend()
    rate.set_title("Throughput as the run grows")
    key = "submit -> credit_last"
    for quantile in ("p50", "p95", "p99"):
        latency.plot(sizes, [(r["latency"]["from_submit_first_pass"][key][quantile] or 0) / 1000 for r in reports],
                     marker="o", label=quantile)
    latency.set_xscale("log")
    latency.set_ylim(bottom=0)
    latency.set_xlabel("submissions in the run")
    latency.set_ylabel("seconds, submit -> last credit (first-pass submissions)")
    latency.legend()
    latency.set_title("Latency as the run grows")
    figure.tight_layout()
    path = charts / "growth.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


# ---------------------------------------------------------------------------------------------------
# Summary


def draw_chunked(report: dict[str, Any], charts: Path, tag: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chunks = report["chunks"]
    at = [c["submissions_in_tables_at_start"] or 0 for c in chunks]
    figure, ((rate, latency), (cost, timeline)) = plt.subplots(2, 2, figsize=(13, 9))
    rate.plot(at, report["growth"]["completed_per_s"], marker="o", label="completed / s, each chunk")
    for size, reference in report["growth"]["compared_with"].items():
        rate.axhline(reference["completed_per_s"], linestyle="--", linewidth=1,
                     color="tab:green" if size == "1000" else "tab:gray", label=f"run of {int(size):,}")
    rate.set_ylim(bottom=0)
    rate.set_xlim(left=0)
    rate.set_xlabel("submissions already in the tables when the chunk starts")
    rate.set_title("Throughput as the tables grow")
    rate.legend()
    for quantile in ("p50", "p95", "p99"):
        latency.plot(at, [(c["latency"]["from_submit_first_pass"]["submit -> credit_last"][quantile] or 0) / 1000
                          for c in chunks], marker="o", label=quantile)
    latency.set_ylim(bottom=0)
    latency.set_xlim(left=0)
    latency.set_xlabel("submissions already in the tables when the chunk starts")
    latency.set_ylabel("seconds, submit -> last credit (first pass)")
    latency.set_title("Latency as the tables grow")
    latency.legend()
    names = sorted({n for c in chunks for n in c["cpu_ms_per_submission"]},
                   key=lambda n: -max(c["cpu_ms_per_submission"].get(n, 0) for c in chunks))
    for name in names[:9]:
        cost.plot(at, [c["cpu_ms_per_submission"].get(name, 0) for c in chunks], marker=".", label=name)
    cost.set_ylim(bottom=0)
    cost.set_xlim(left=0)
    cost.set_xlabel("submissions already in the tables when the chunk starts")
    cost.set_ylabel("CPU ms per completed submission")
    cost.set_title("Cost per submission, by process")
    cost.legend(fontsize=8, ncol=2)
    offset = 0
    for c in chunks:
        series = c["series"]["completed_per_s"]
        timeline.plot(range(offset, offset + len(series)), series, linewidth=0.6, color="tab:blue")
        timeline.axvline(offset, color="tab:gray", linewidth=0.5)
        offset += len(series)
    timeline.set_ylim(bottom=0)
    timeline.set_xlabel("seconds of load, chunks end to end (grey lines: platform restarts)")
    timeline.set_ylabel("completed / s")
    timeline.set_title("Completions per second")
    figure.suptitle(f"{report['counts']['completed']:,} submissions in {report['chunks_done']} chunks"
                    + ("" if report["complete"] else f" (of {report['chunks_total']}; run not finished)"))
    figure.tight_layout()
    charts.mkdir(parents=True, exist_ok=True)
    path = charts / f"growth-{tag}.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def draw_before_after(comparison: dict[str, Any], charts: Path, tag: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    old, new = comparison["before"], comparison["after"]
    figure, (rate, cpu) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1, 3]})
    rate.bar(["before", "after"], [old["completed_per_s"] or 0, new["completed_per_s"] or 0], color=["#999", "#2a7"])
    rate.set_title("Completed submissions / s")
    names = [n for n in new["cpu_ms_per_submission"] if n != MACHINE]
    positions = range(len(names))
    cpu.bar([p - 0.2 for p in positions], [old["cpu_ms_per_submission"].get(n, 0) for n in names], 0.4,
            label=f"before ({old['date'][:10]})", color="#999")
    cpu.bar([p + 0.2 for p in positions], [new["cpu_ms_per_submission"].get(n, 0) for n in names], 0.4,
            label="after", color="#2a7")
    cpu.set_xticks(list(positions), names, rotation=30, ha="right")
    cpu.set_ylabel("CPU ms per submission")
    cpu.set_title("Where a submission's CPU goes")
    cpu.legend()
    figure.tight_layout()
    path = charts / f"before-after-{tag}.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
