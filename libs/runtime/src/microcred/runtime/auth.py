"""Bearer-token authentication: JWTs verified against a JWKS, with Microcred's roles and states.

Production points ``auth_jwks_url`` at the OIDC issuer's JWKS (https). Local mode uses the
development issuer (:class:`DevTokenIssuer`), which keeps an Ed25519 key on disk and writes its JWKS
as a file that services read through a ``file://`` URL, so no extra server is needed.

Token claims: ``sub``, ``roles`` (list of :class:`Role`), ``states`` (US state codes), optional
``org`` (the issuing organization an issuer admin acts for), ``name``, ``email``, ``did`` (a teacher's
decentralized identifier, which their credentials then name), and ``district`` and ``school`` (a
teacher's or reviewer's affiliations, used for conflict-of-interest routing).
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlparse
from uuid import uuid4

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool


class Role(StrEnum):
    TEACHER = "teacher"
    REVIEWER = "reviewer"
    ISSUER_ADMIN = "issuer_admin"
    STATE_ADMIN = "state_admin"
    DISTRICT_ADMIN = "district_admin"  # approves credits for licenses of its district (claims: states, district)
    OPERATOR = "operator"


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str
    roles: frozenset[Role]
    states: tuple[str, ...] = ()
    organization: str | None = None
    name: str | None = None
    email: str | None = None
    did: str | None = None
    district: str | None = None
    school: str | None = None

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))


class Claims(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sub: str = Field(min_length=1)
    roles: list[Role] = []
    states: list[str] = []
    org: str | None = None
    name: str | None = None
    email: str | None = None
    did: str | None = None
    district: str | None = None
    school: str | None = None


class InvalidToken(Exception):
    pass


class JwtVerifier:
    """Verifies bearer tokens against the issuer's JWKS.

    A verified token is remembered for up to ``remember_seconds`` (never past its ``exp``): a client sends
    the same token with every request, and a signature check costs more than the rest of a small request's
    authentication. A key withdrawn from the JWKS stops being accepted within that time.
    """

    REMEMBERED_TOKENS = 4096

    def __init__(self, jwks_url: str, *, issuer: str, audience: str, remember_seconds: float = 60.0) -> None:
        if not jwks_url:
            raise ValueError("auth_jwks_url is required (file:// in local mode, https:// in production)")
        self._jwks_url = jwks_url
        self._issuer = issuer
        self._audience = audience
        self._keys: dict[str, Any] = {}
        self._loaded_at = 0.0
        self._lock = threading.Lock()
        self._remote = None if jwks_url.startswith("file://") else jwt.PyJWKClient(jwks_url, cache_keys=True)
        self._remember_seconds = remember_seconds
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def _file_key(self, kid: str) -> Any:
        # Re-read at most once a second when an unknown kid shows up: picks up a rotated dev key.
        with self._lock:
            if kid not in self._keys and time.monotonic() - self._loaded_at > 1.0:
                document = json.loads(Path(urlparse(self._jwks_url).path).read_text())
                self._keys = {k["kid"]: jwt.PyJWK(k).key for k in document["keys"]}
                self._loaded_at = time.monotonic()
            if kid not in self._keys:
                raise InvalidToken(f"unknown signing key {kid!r}")
            return self._keys[kid]

    def remembered(self, token: str) -> Principal | None:
        """The principal of a token verified a moment ago, without touching keys or signatures."""
        with self._lock:
            entry = self._verified.get(token)
            if entry is None:
                return None
            if time.time() >= entry[1]:
                del self._verified[token]
                return None
            self._verified.move_to_end(token)
            return entry[0]

    def verify(self, token: str) -> Principal:
        """May block: an unknown key id fetches the JWKS (call from a worker thread in async code)."""
        principal = self.remembered(token)
        if principal is not None:
            return principal
        principal, expires = self._verify(token)
        with self._lock:
            self._verified[token] = (principal, min(expires, time.time() + self._remember_seconds))
            if len(self._verified) > self.REMEMBERED_TOKENS:
                self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
            if self._remote is not None:
                key = self._remote.get_signing_key(header.get("kid", "")).key
            else:
                key = self._file_key(header.get("kid", ""))
            payload = jwt.decode(
                token,
                key,
                algorithms=["EdDSA", "RS256", "ES256"],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
            claims = Claims.model_validate(payload)
        except InvalidToken:
            raise
        except Exception as exc:
            raise InvalidToken(str(exc)) from None
        return Principal(
            subject=claims.sub,
            roles=frozenset(claims.roles),
            states=tuple(s.upper() for s in claims.states),
            organization=claims.org,
            name=claims.name,
            email=claims.email,
            did=claims.did,
            district=claims.district,
            school=claims.school,
        ), float(payload["exp"])


_bearer = HTTPBearer(auto_error=False)


async def bearer_credentials(request: Request) -> HTTPAuthorizationCredentials | None:
    """The request's bearer credentials, if any, read from the header alone (the body stays unread)."""
    return await _bearer(request)


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    verifier: JwtVerifier = request.app.state.verifier
    # Most requests carry a token seen a moment ago and are answered on the event loop; a new one goes to a
    # worker thread, since fetching an unknown key from a remote JWKS blocks.
    principal = verifier.remembered(credentials.credentials)
    if principal is not None:
        return principal
    try:
        return await run_in_threadpool(verifier.verify, credentials.credentials)
    except InvalidToken as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, f"invalid token: {exc}", headers={"WWW-Authenticate": "Bearer"}
        ) from None


CurrentPrincipal = Annotated[Principal, Depends(authenticated)]


def require(*roles: Role) -> Any:
    """A dependency that admits principals holding at least one of ``roles``."""

    async def check(principal: CurrentPrincipal) -> Principal:  # async: no worker-thread hop per request
        if not principal.has(*roles):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"requires role {' or '.join(r.value for r in roles)}",
            )
        return principal

    return Depends(check)


class DevTokenIssuer:
    """Local-mode token issuer: an Ed25519 key kept in ``directory`` and its JWKS beside it."""

    def __init__(self, directory: Path, *, issuer: str = "microcred-dev", audience: str = "microcred") -> None:
        self.directory = directory
        self.issuer = issuer
        self.audience = audience
        directory.mkdir(parents=True, exist_ok=True)
        key_path = directory / "dev-signing-key.pem"
        if not key_path.exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            key_path.write_bytes(pem)
            key_path.chmod(0o600)
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(loaded, Ed25519PrivateKey)
        self._key = loaded
        public_jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(loaded.public_key()))
        self.kid = jwt.PyJWK(public_jwk).key_id or _thumbprint(public_jwk)
        public_jwk |= {"kid": self.kid, "use": "sig", "alg": "EdDSA"}
        self.jwks_path = directory / "jwks.json"
        self.jwks_path.write_text(json.dumps({"keys": [public_jwk]}, indent=2))

    @property
    def jwks_url(self) -> str:
        return self.jwks_path.resolve().as_uri()

    def mint(
        self,
        subject: str,
        roles: list[Role] | tuple[Role, ...],
        *,
        states: list[str] | tuple[str, ...] = (),
        organization: str | None = None,
        name: str | None = None,
        email: str | None = None,
        did: str | None = None,
        district: str | None = None,
        school: str | None = None,
        ttl_seconds: int = 12 * 3600,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "exp": now + ttl_seconds,
            "jti": str(uuid4()),
            "roles": [Role(r).value for r in roles],
            "states": list(states),
        }
        optional = (
            ("org", organization), ("name", name), ("email", email), ("did", did),
            ("district", district), ("school", school),
        )
        for claim, value in optional:
            if value is not None:
                claims[claim] = value
        return self.sign(claims)

    def sign(self, claims: dict[str, Any]) -> str:
        """Any JWT with the issuer's key (the development OIDC provider's ID tokens, runtime.dev_oidc)."""
        return jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self.kid})


def _thumbprint(jwk: dict[str, Any]) -> str:
    import base64
    import hashlib

    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
