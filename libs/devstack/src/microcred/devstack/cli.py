"""``microcred``: run the platform locally and mint development tokens.

    microcred up [--base-port 15400] [--data-dir .microcred]   # everything, until Ctrl-C
                 [--canary] [--no-prometheus]               # the canary too; Prometheus when on the PATH
    microcred token --role teacher --sub teacher-1 --state TN  # a bearer token for the local stack
    microcred import-catalog my-catalog.json                   # load a catalog file as an operator
    microcred dead-letters list [review.scored.dlt]            # dead letters and why; `replay` sends them again
    microcred state-feed TN --idle-exit 5                      # a state's feed as its agency reads it
    microcred canary [--interval 60] [--sla 900]                # the end-to-end canary against `microcred up`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from microcred.devstack.client import ApiError, PlatformClient
from microcred.devstack.monitoring import CanaryProcess, LocalPrometheus, canary_env, local_config
from microcred.devstack.platform import SERVICES, Platform, PlatformPorts
from microcred.devstack.seed import sample_people, sample_tokens, seed
from microcred.runtime import dead_letters, state_feed
from microcred.runtime.auth import DevTokenIssuer, Role
from microcred.runtime.dev_oidc import write_people

DEFAULT_DATA_DIR = Path(os.environ.get("MICROCRED_DATA_DIR", ".microcred"))
DEFAULT_BASE_PORT = int(os.environ.get("MICROCRED_BASE_PORT", "15400"))


def _up(args: argparse.Namespace) -> int:
    ports = PlatformPorts.from_base(args.base_port)
    platform = Platform(args.data_dir.resolve(), ports, portal=True)
    watchers: list[CanaryProcess | LocalPrometheus] = []

    def request_stop(signum: int, _: object) -> None:
        raise KeyboardInterrupt

    # Installed explicitly: a launcher started in the background inherits SIGINT as ignored, and
    # SIGTERM (from a supervisor) must stop the children as cleanly as Ctrl-C does.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print(f"Starting Microcred (data in {args.data_dir}, ports {args.base_port}-{args.base_port + 17}) ...", flush=True)
    started = time.monotonic()
    try:
        platform.start()
        urls = {s: platform.url(s) for s in SERVICES}
        result = seed(urls, platform.tokens) if not args.no_seed else None
        tokens = sample_tokens(platform.tokens, result.issuers) if result else {}
        if result:
            # The portal's development sign-in offers these people (read on every sign-in page).
            write_people(platform.tokens.directory, sample_people(result.issuers))
        (args.data_dir / "tokens.json").write_text(json.dumps(tokens, indent=2))
        watchers = _start_watchers(platform, args)
        _print_banner(platform, urls, tokens, time.monotonic() - started, args.data_dir, watchers)
        while True:
            for service, process in list(platform.processes.items()):
                if process.poll() is not None:
                    print(f"\n{service} exited ({process.returncode}); last log lines:\n{platform.log_tail(service)}")
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C or SIGTERM (a supervisor and its wrapper both forwarding one) must not cut the stop short
        # and leave children behind: every step below is bounded by its own timeout.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("\nStopping Microcred ...", flush=True)
        for watcher in reversed(watchers):
            watcher.close()
        platform.stop()
        print("Stopped. Data kept in", args.data_dir)
    return 0


def _start_watchers(platform: Platform, args: argparse.Namespace) -> list[CanaryProcess | LocalPrometheus]:
    """The canary (``--canary``) and Prometheus (whenever a ``prometheus`` binary is on the PATH, unless
    ``--no-prometheus``), on the two ports after the services'."""
    watchers: list[CanaryProcess | LocalPrometheus] = []
    urls = {service: platform.url(service) for service in SERVICES}
    targets = {service: url.split("://", 1)[1] for service, url in urls.items()}
    if args.canary:
        env = canary_env(urls, platform.tokens.directory, args.base_port + 15, interval=60.0, sla=900.0)
        canary = CanaryProcess(env, log=platform.log_dir / "canary.log")
        watchers.append(canary)
        targets["canary"] = canary.address
    binary = None if args.no_prometheus else shutil.which("prometheus")
    if binary:
        prometheus = LocalPrometheus(binary, local_config(targets), args.data_dir.resolve() / "prometheus",
                                     args.base_port + 16)
        watchers.append(prometheus)
        prometheus.wait_ready()
    return watchers


def _print_banner(platform: Platform, urls: dict[str, str], tokens: dict[str, str], seconds: float, data_dir: Path,
                  watchers: list[CanaryProcess | LocalPrometheus]) -> None:
    e = platform.endpoints
    print(f"\nMicrocred is up ({seconds:.0f}s).\n")
    print(f"Portal: {platform.url('portal')}  (sign in as any sample person)\n")
    print("Services (OpenAPI at /docs, AsyncAPI at /asyncapi.json, /health, /metrics):")
    for service, url in urls.items():
        print(f"  {service:<11} {url}")
    print("\nInfrastructure:")
    secrets_file = data_dir / "stack" / "credentials.json"
    print(f"  PostgreSQL  {e.postgres_host}:{e.postgres_port} (user {e.postgres_user}, password in {secrets_file}; a database per service)")
    print(f"  Kafka       {e.kafka_bootstrap}")
    print(f"  S3          {e.s3_endpoint}  (bucket: evidence)")
    print("\nOperations (docs/operations/README.md):")
    prometheus = next((w for w in watchers if isinstance(w, LocalPrometheus)), None)
    canary = next((w for w in watchers if isinstance(w, CanaryProcess)), None)
    if prometheus:
        print(f"  Prometheus  {prometheus.url}  (the deployed rules and alerts; config {prometheus.config_file})")
    else:
        print("  Prometheus  not started: no `prometheus` on the PATH (apt-get install prometheus), or --no-prometheus")
    print(f"  Canary      {'http://' + canary.address + '/metrics' if canary else 'not started (--canary starts it)'}")
    print(f"\nDevelopment tokens (also in {data_dir / 'tokens.json'}; more with `microcred token`):")
    for role, token in tokens.items():
        print(f"  {role}:\n    {token}")
    print(f"\nLogs: {platform.log_dir}    Ctrl-C stops everything; data survives a restart.")


def _token(args: argparse.Namespace) -> int:
    issuer = DevTokenIssuer(args.data_dir.resolve() / "auth")
    print(issuer.mint(args.sub, [Role(r) for r in args.role], states=args.state, organization=args.org,
                      name=args.name, district=args.district, school=args.school, ttl_seconds=args.ttl))
    return 0


def _import_catalog(args: argparse.Namespace) -> int:
    issuer = DevTokenIssuer(args.data_dir.resolve() / "auth")
    client = PlatformClient({"catalog": args.catalog_url}, issuer)
    try:
        summary = client.import_catalog(client.operator(), json.loads(args.file.read_text()))
    except ApiError as exc:
        print(f"import refused ({exc.status_code}):", file=sys.stderr)
        body = exc.body if isinstance(exc.body, dict) else {"detail": exc.body}
        for detail in body.get("details") or [body]:
            print(f"  {detail.get('location', '')}: {detail.get('message', detail.get('detail'))}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print(json.dumps(summary, indent=2))
    return 0


def _local_broker_unless_named(args: argparse.Namespace) -> None:
    # The local stack's broker unless the flags or MICROCRED_KAFKA_* variables name another cluster.
    if args.bootstrap_servers is None and "MICROCRED_KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
        args.bootstrap_servers = f"127.0.0.1:{DEFAULT_BASE_PORT + 1}"


def _dead_letters(args: argparse.Namespace) -> int:
    _local_broker_unless_named(args)
    return asyncio.run(dead_letters.run(args))


def _state_feed(args: argparse.Namespace) -> int:
    _local_broker_unless_named(args)
    return state_feed.run(args)


def _canary(args: argparse.Namespace) -> int:
    """The canary as its own process (``python -m microcred.canary``, what the Deployment runs), pointed at the
    local platform and minting its tokens with the development issuer ``microcred up`` keeps in <data-dir>/auth."""
    ports = PlatformPorts.from_base(args.base_port)
    urls = {service: f"http://127.0.0.1:{ports.http[service]}" for service in SERVICES}
    print(f"Canary every {args.interval:g}s (SLA {args.sla:g}s); metrics at http://127.0.0.1:{args.port}/metrics. "
          "Ctrl-C stops it.", flush=True)
    canary = CanaryProcess(canary_env(urls, args.data_dir.resolve() / "auth", args.port, interval=args.interval,
                                      sla=args.sla))

    def forward(signum: int, _: object) -> None:
        # A supervisor's SIGTERM to this launcher must stop the canary too, not leave it running.
        canary.process.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    return 0 if canary.process.wait() in (0, -signal.SIGINT, -signal.SIGTERM) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="microcred")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the whole platform on the embedded stack")
    up.add_argument("--base-port", type=int, default=DEFAULT_BASE_PORT)
    up.add_argument("--no-seed", action="store_true")
    up.add_argument("--canary", action="store_true", help="run the end-to-end canary too (a synthetic submission a minute)")
    up.add_argument("--no-prometheus", action="store_true",
                    help="do not start Prometheus even when a `prometheus` binary is on the PATH")
    token = commands.add_parser("token", help="print a development bearer token")
    token.add_argument("--role", action="append", required=True, choices=[r.value for r in Role])
    token.add_argument("--sub", required=True)
    token.add_argument("--state", action="append", default=[])
    token.add_argument("--org")
    token.add_argument("--name")
    token.add_argument("--district", help="affiliation used for conflict-of-interest routing")
    token.add_argument("--school", help="affiliation used for conflict-of-interest routing")
    token.add_argument("--ttl", type=int, default=12 * 3600)
    importer = commands.add_parser("import-catalog", help="import a catalog file (services/catalog/CATALOG_FORMAT.md)")
    importer.add_argument("file", type=Path)
    importer.add_argument("--catalog-url", default=f"http://127.0.0.1:{DEFAULT_BASE_PORT + 10}")
    dead = commands.add_parser(
        "dead-letters", help="list dead letters with their reasons, replay chosen ones to their topic",
        description=dead_letters.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    dead_letters.add_arguments(dead)
    feed = commands.add_parser(
        "state-feed", help="print a state's feed (licensure.state.<XX>) as its agency reads it, one JSON line each",
        description=state_feed.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    state_feed.add_arguments(feed)
    canary = commands.add_parser("canary", help="run the end-to-end canary against the local platform")
    canary.add_argument("--base-port", type=int, default=DEFAULT_BASE_PORT, help="the base port `microcred up` used")
    canary.add_argument("--port", type=int, default=DEFAULT_BASE_PORT + 15, help="where the canary serves /metrics")
    canary.add_argument("--interval", type=float, default=60.0, help="seconds between canary starts")
    canary.add_argument("--sla", type=float, default=900.0, help="seconds after which a canary is lost")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    handlers = {"up": _up, "token": _token, "import-catalog": _import_catalog, "dead-letters": _dead_letters,
                "state-feed": _state_feed, "canary": _canary}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
