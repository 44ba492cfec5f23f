"""Where the canary's bearer tokens come from: the development issuer locally, token files in production.

The canary acts as five identities (:class:`Identity`). It never holds a signing key in production: the
operator's OIDC issuer issues its tokens (client credentials, or a token exchange run by a sidecar) and
something outside the canary writes them to files; the canary re-reads a file on every use, so rotation
needs no restart. Only the subject is read from a token here (to register the reviewers, add the issuer
admin to the canary issuer's staff); verifying it is the services' business.
"""

from __future__ import annotations

import threading
import time
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import jwt

from microcred.runtime.auth import DevTokenIssuer, Role


class Identity(StrEnum):
    OPERATOR = "operator"
    ISSUER_ADMIN = "issuer-admin"
    TEACHER = "teacher"
    REVIEWER_1 = "reviewer-1"
    REVIEWER_2 = "reviewer-2"


#: Two reviewers: the first ``calibration_size`` attempts of a credential (and a share after) are double-scored,
#: and the second seat must go to another canary reviewer, never to a person.
REVIEWERS = (Identity.REVIEWER_1, Identity.REVIEWER_2)


class TokenSource(Protocol):
    def token(self, who: Identity) -> str: ...

    def subject(self, who: Identity) -> str: ...


class TokenFiles:
    """``<directory>/<identity>`` (e.g. ``teacher``), one JWT each, read on every use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def token(self, who: Identity) -> str:
        return (self.directory / who.value).read_text("utf-8").strip()

    def subject(self, who: Identity) -> str:
        claims = jwt.decode(self.token(who), options={"verify_signature": False})
        return str(claims["sub"])


class DevIssuerTokens:
    """Mints the canary's tokens with the local development issuer; each is reused for half its lifetime."""

    TTL_SECONDS = 3600

    def __init__(self, key_dir: Path, state: str, *, issuer: str, audience: str) -> None:
        if not (key_dir / "dev-signing-key.pem").exists():
            # DevTokenIssuer would make a fresh key, whose tokens no service accepts: every canary lost.
            raise FileNotFoundError(f"no development signing key in {key_dir}: start the platform (microcred up) "
                                    "first, or point MICROCRED_CANARY_DEV_KEY_DIR at its auth directory")
        self.issuer = DevTokenIssuer(key_dir, issuer=issuer, audience=audience)
        self.state = state
        self._cache: dict[Identity, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def subject(self, who: Identity) -> str:
        return f"canary-{who.value}"

    def token(self, who: Identity) -> str:
        with self._lock:
            cached = self._cache.get(who)
            if cached is not None and cached[1] > time.monotonic():
                return cached[0]
            roles = {Identity.OPERATOR: Role.OPERATOR, Identity.ISSUER_ADMIN: Role.ISSUER_ADMIN,
                     Identity.TEACHER: Role.TEACHER}.get(who, Role.REVIEWER)
            states = (self.state,) if who is Identity.TEACHER else ()
            minted = self.issuer.mint(self.subject(who), [roles], states=states, name=f"Microcred canary {who.value}",
                                      ttl_seconds=self.TTL_SECONDS)
            self._cache[who] = (minted, time.monotonic() + self.TTL_SECONDS / 2)
            return minted
