"""The development token issuer as a command, for a stack with no identity provider (docker-compose.yml).

``keys`` creates the issuer's Ed25519 key on first use (kept in ``--key-dir``) and writes its public JWKS to
``--jwks-dir``, the one directory the services mount (read-only; they never see the key). Services read it
through ``MICROCRED_AUTH_JWKS_URL=file://...``; production mode refuses any JWKS URL but an https:// one, so
this issuer can never stand in for the real one. ``token`` mints a development token with the same key:

    docker compose run --rm dev-issuer token teacher-1 --role teacher --state TN
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from microcred.runtime.auth import DevTokenIssuer, Role


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m microcred.runtime.dev_issuer")
    parser.add_argument("--key-dir", type=Path, required=True, help="where the private key lives")
    parser.add_argument("--issuer", default="microcred-dev")
    parser.add_argument("--audience", default="microcred")
    commands = parser.add_subparsers(dest="command", required=True)
    keys = commands.add_parser("keys", help="create the key if absent and publish the JWKS")
    keys.add_argument("--jwks-dir", type=Path, required=True, help="where services read jwks.json")
    token = commands.add_parser("token", help="print a development token")
    token.add_argument("sub")
    token.add_argument("--role", action="append", choices=[r.value for r in Role], required=True)
    token.add_argument("--state", action="append", default=[])
    token.add_argument("--org")
    token.add_argument("--name")
    token.add_argument("--district")
    token.add_argument("--school")
    token.add_argument("--ttl", type=int, default=12 * 3600)
    args = parser.parse_args(argv)

    issuer = DevTokenIssuer(args.key_dir, issuer=args.issuer, audience=args.audience)
    if args.command == "keys":
        args.jwks_dir.mkdir(parents=True, exist_ok=True)
        # Written beside and then renamed: a service re-reading the JWKS never sees half a file.
        partial = args.jwks_dir / ".jwks.json.partial"
        shutil.copyfile(issuer.jwks_path, partial)
        partial.replace(args.jwks_dir / "jwks.json")
        print(f"development JWKS (key {issuer.kid}) written to {args.jwks_dir / 'jwks.json'}")
        return 0
    print(issuer.mint(args.sub, [Role(r) for r in args.role], states=args.state, organization=args.org,
                      name=args.name, district=args.district, school=args.school, ttl_seconds=args.ttl))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
