"""The command line: one run per size (with a growth curve over several), or a chunked growth run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from replicas import parse_replicas

import pipeline
from microcred.devstack.samples import tiny_video
from pipeline import console
from pipeline.charts import draw_before_after, draw_growth
from pipeline.driver import one_size
from pipeline.growth import chunked
from pipeline.options import Options, tag_of
from pipeline.report import before_after
from pipeline.summary import print_before_after, print_chunked, print_counts, print_profiles, print_summary

BENCHMARKS = Path(__file__).resolve().parents[1]
RESULTS = BENCHMARKS / "results"


def main(argv: list[str] | None = None) -> int:
    summary = pipeline.__doc__.split("\n\n")[0] if pipeline.__doc__ else None
    parser = argparse.ArgumentParser(prog="pipeline", description=summary)
    parser.add_argument("-n", "--submissions", type=int, default=1000, help="submissions to drive (default 1000)")
    parser.add_argument("--sizes", type=str, default="", help="several sizes, one platform each: 200,1000")
    parser.add_argument("--rate", type=float, default=0.0, help="target submissions/s; 0 = as fast as possible")
    parser.add_argument("--concurrency", type=int, default=32, help="teachers preparing a submission at once")
    parser.add_argument("--credentials", type=int, default=4, help="credentials (TN caps at 5 per teacher)")
    parser.add_argument("--reviewers", type=int, default=8)
    parser.add_argument("--fail-share", type=float, default=0.1, help="share scored below passing first")
    parser.add_argument("--poll", type=float, default=0.25, help="reviewer and district polling interval, s")
    parser.add_argument("--timeout", type=float, default=0.0, help="drain timeout, s (default 120 + N/2)")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the plain Kafka/PostgreSQL ceiling")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--replicas", type=parse_replicas, default={},
                        help="processes of a service, as pods of its Deployment: submission=2[,review=2]")
    parser.add_argument("--broker-log", choices=("s3", "memory"), default="s3",
                        help="where Tansu keeps its log: s3 (SeaweedFS, as make up runs it) or memory (no S3 round "
                             "trip per produce and commit, closer to a Kafka broker's cost)")
    parser.add_argument("--counts", action="store_true",
                        help="count SQL statements and round trips (pg_stat_statements), Kafka requests and HTTP "
                             "requests per completed submission, per service (benchmarks/README.md, 'Counts')")
    parser.add_argument("--profile", type=float, default=0.0, metavar="SECONDS",
                        help="profile every service with py-spy for this many seconds under load (speedscope files "
                             "in the results' pipeline/profiles/); the report's tag gains -profiled")
    parser.add_argument("--idle", type=float, default=None, metavar="SECONDS",
                        help="read the idle platform's CPU for this long (default 10) before the load starts: what "
                             "each process spends by the clock, set against the run's rate in the report's idle "
                             "section (0: skip)")
    parser.add_argument("--before", type=Path, default=None,
                        help="an earlier pipeline-*.json to compare with (the report gains a before/after section), "
                             "or a directory of them: each run is compared with the report of its own tag there")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"results directory (default {RESULTS})")
    parser.add_argument("--chunk", type=int, default=0,
                        help="run -n as a long growth run in chunks of this many submissions over one growing "
                             "platform, restarted between chunks; the same command resumes an interrupted run")
    parser.add_argument("--state", type=Path, default=None,
                        help="where a chunked run keeps its platform and progress (default .microcred/bench/<run>)")
    parser.add_argument("--max-chunks", type=int, default=None,
                        help="chunks to run this time (default: all left; 0 writes the report from the kept state)")
    args = parser.parse_args(argv)
    if args.before is not None and not args.before.exists():
        parser.error(f"--before: {args.before} does not exist")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()] or [args.submissions]
    if min(sizes) < 1 or args.concurrency < 1 or not 0 <= args.fail_share < 1 or not 1 <= args.credentials <= 5:
        parser.error("sizes and --concurrency must be positive, --fail-share in [0, 1), --credentials in 1..5")
    if args.profile < 0 or (args.idle or 0) < 0:
        parser.error("--profile and --idle take a positive number of seconds")

    video = tiny_video()
    if args.chunk:
        if args.sizes or args.before is not None or args.rate > 0 or args.chunk < 1 or (args.max_chunks or 0) < 0 \
                or args.replicas or args.counts or args.profile or args.idle is not None:
            parser.error("--chunk takes -n, a positive chunk size, no --sizes, --before, --rate, --replicas, --counts, "
                         "--profile or --idle")
        options = Options(args.submissions, 0.0, args.concurrency, args.credentials, args.reviewers, args.fail_share,
                          args.poll, args.timeout or 120 + min(args.chunk, args.submissions) / 2, not args.no_ceiling,
                          args.seed, args.broker_log)
        state_dir = args.state or BENCHMARKS.parent / ".microcred" / "bench" / tag_of(options)
        report = chunked(options, args.chunk, state_dir, 1_000_000 if args.max_chunks is None else args.max_chunks,
                         video, args.output)
        print_chunked(report)
        return 0 if report["timings"]["drained"] else 1
    reports = []
    for size in sizes:
        options = Options(size, args.rate, args.concurrency, args.credentials, args.reviewers, args.fail_share,
                          args.poll, args.timeout or 120 + size / 2, not args.no_ceiling, args.seed,
                          args.broker_log, args.replicas, args.counts, args.profile,
                          10.0 if args.idle is None else args.idle)
        before_path = args.before
        if before_path is not None and before_path.is_dir():
            before_path = before_path / f"pipeline-{tag_of(options)}.json"
            if not before_path.is_file():
                console.print(f"[yellow]no earlier report {before_path}: run {tag_of(options)} has no before/after[/]")
                before_path = None
        report = one_size(options, video, args.output / "pipeline", args.output / "pipeline" / "profiles")
        if before_path is not None:
            report["before_after"] = before_after(json.loads(before_path.read_text()), report, before_path)
            draw_before_after(report["before_after"], args.output / "pipeline", tag_of(options))
        path = args.output / f"pipeline-{tag_of(options)}.json"
        path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
        print_summary(report)
        if report.get("counts_per_submission"):
            print_counts(report["counts_per_submission"], report["processes"], report["counts"]["completed"])
        if report.get("profiles"):
            print_profiles(report["profiles"])
        if "before_after" in report:
            print_before_after(report["before_after"])
        console.print(f"wrote {path} and charts in {args.output / 'pipeline'}")
        reports.append(report)
    if len(reports) > 1:
        console.print(f"growth curve: {draw_growth(reports, args.output / 'pipeline')}")
    return 0 if all(r["timings"]["drained"] for r in reports) else 1
