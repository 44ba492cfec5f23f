"""``microcred``: run the platform locally and mint development tokens.

    microcred up [--base-port 15400] [--data-dir .microcred]   # everything, until Ctrl-C
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
import signal
import subprocess
import sys
import time
from pathlib import Path

from microcred.devstack.client import ApiError, PlatformClient
from microcred.devstack.platform import SERVICES, Platform, PlatformPorts
from microcred.devstack.seed import sample_tokens, seed
from microcred.runtime import dead_letters, state_feed
from microcred.runtime.auth import DevTokenIssuer, Role

DEFAULT_DATA_DIR = Path(os.environ.get("MICROCRED_DATA_DIR", ".microcred"))
DEFAULT_BASE_PORT = int(os.environ.get("MICROCRED_BASE_PORT", "15400"))


def _up(args: argparse.Namespace) -> int:
    ports = PlatformPorts.from_base(args.base_port)
    platform = Platform(args.data_dir.resolve(), ports)

    def request_stop(signum: int, _: object) -> None:
        raise KeyboardInterrupt

    # Installed explicitly: a launcher started in the background inherits SIGINT as ignored, and
    # SIGTERM (from a supervisor) must stop the children as cleanly as Ctrl-C does.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print(f"Starting Microcred (data in {args.data_dir}, ports {args.base_port}-{args.base_port + 14}) ...", flush=True)
    started = time.monotonic()
    try:
        platform.start()
        urls = {s: platform.url(s) for s in SERVICES}
        result = seed(urls, platform.tokens) if not args.no_seed else None
        tokens = sample_tokens(platform.tokens, result.issuers) if result else {}
        (args.data_dir / "tokens.json").write_text(json.dumps(tokens, indent=2))
        _print_banner(platform, urls, tokens, time.monotonic() - started, args.data_dir)
        while True:
            for service, process in list(platform.processes.items()):
                if process.poll() is not None:
                    print(f"\n{service} exited ({process.returncode}); last log lines:\n{platform.log_tail(service)}")
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        print("\nStopping Microcred ...", flush=True)
        platform.stop()
        print("Stopped. Data kept in", args.data_dir)
    return 0


def _print_banner(platform: Platform, urls: dict[str, str], tokens: dict[str, str], seconds: float, data_dir: Path) -> None:
    e = platform.endpoints
    print(f"\nMicrocred is up ({seconds:.0f}s).\n")
    print("Services (OpenAPI at /docs, AsyncAPI at /asyncapi.json, /health, /metrics):")
    for service, url in urls.items():
        print(f"  {service:<11} {url}")
    print("\nInfrastructure:")
    secrets_file = data_dir / "stack" / "credentials.json"
    print(f"  PostgreSQL  {e.postgres_host}:{e.postgres_port} (user {e.postgres_user}, password in {secrets_file}; a database per service)")
    print(f"  Kafka       {e.kafka_bootstrap}")
    print(f"  S3          {e.s3_endpoint}  (bucket: evidence)")
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
    env = os.environ | {f"MICROCRED_{service.upper()}_URL": f"http://127.0.0.1:{ports.http[service]}"
                        for service in SERVICES}
    env |= {
        "MICROCRED_MODE": "local",
        "MICROCRED_HTTP_PORT": str(args.port),
        "MICROCRED_CANARY_AUTH": "dev_issuer",
        "MICROCRED_CANARY_DEV_KEY_DIR": str(args.data_dir.resolve() / "auth"),
        "MICROCRED_CANARY_INTERVAL_SECONDS": str(args.interval),
        "MICROCRED_CANARY_SLA_SECONDS": str(args.sla),
        "MICROCRED_LOG_JSON": "false",
    }
    print(f"Canary every {args.interval:g}s (SLA {args.sla:g}s); metrics at http://127.0.0.1:{args.port}/metrics. "
          "Ctrl-C stops it.", flush=True)
    child = subprocess.Popen([sys.executable, "-m", "microcred.canary"], env=env)

    def forward(signum: int, _: object) -> None:
        # A supervisor's SIGTERM to this launcher must stop the canary too, not leave it running.
        child.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    return 0 if child.wait() in (0, -signal.SIGINT, -signal.SIGTERM) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="microcred")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the whole platform on the embedded stack")
    up.add_argument("--base-port", type=int, default=DEFAULT_BASE_PORT)
    up.add_argument("--no-seed", action="store_true")
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
