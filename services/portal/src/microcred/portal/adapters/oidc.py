"""OpenID Connect sign-in, authorization code with PKCE (S256), as a public client, through authlib.

Discovery is read once and kept; the provider's keys are fetched again when an ID token names an unknown key
(rotation). The ID token is checked for issuer, audience, expiry and the nonce this sign-in sent.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from microcred.portal.adapters.sessions import SignedIn

# Ed25519 keys sign as "EdDSA" (RFC 8037); RFC 9864 names the same algorithm "Ed25519". Both are accepted, and
# the deprecation notice for the older name is not a fault of the token.
ALGORITHMS = ["RS256", "ES256", "EdDSA", "Ed25519", "PS256"]


class SignInFailed(Exception):
    """The provider refused, or its answer did not check out; the person is asked to try again."""


@dataclass(frozen=True)
class AuthorizationStart:
    url: str
    state: str
    nonce: str
    verifier: str


class OidcClient:
    def __init__(self, issuer_url: str, client_id: str, redirect_uri: str, scopes: str, http: httpx.AsyncClient
                 ) -> None:
        self.issuer_url = issuer_url.rstrip("/")
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.scopes = scopes
        self._http = http
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            response = await self._http.get(f"{self.issuer_url}/.well-known/openid-configuration")
            response.raise_for_status()
            found: dict[str, Any] = response.json()
            if found.get("issuer", "").rstrip("/") != self.issuer_url:
                raise SignInFailed(f"the provider at {self.issuer_url} says its issuer is {found.get('issuer')!r}")
            self._metadata = found
        return self._metadata

    def _client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(client_id=self.client_id, redirect_uri=self.redirect_uri, scope=self.scopes,
                                 code_challenge_method="S256", token_endpoint_auth_method="none")  # noqa: S106 - a public client

    async def start(self) -> AuthorizationStart:
        metadata = await self.metadata()
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        async with self._client() as client:
            url, _ = client.create_authorization_url(metadata["authorization_endpoint"], state=state, nonce=nonce,
                                                     code_verifier=verifier)
        return AuthorizationStart(url=url, state=state, nonce=nonce, verifier=verifier)

    async def finish(self, code: str, verifier: str, nonce: str) -> SignedIn:
        metadata = await self.metadata()
        async with self._client() as client:
            client.timeout = self._http.timeout
            try:
                token = await client.fetch_token(metadata["token_endpoint"], grant_type="authorization_code",
                                                 code=code, code_verifier=verifier)
            except Exception as exc:  # authlib raises OAuthError for a refusal, httpx errors for a failure
                raise SignInFailed(f"the token endpoint refused: {exc}") from exc
        if "id_token" not in token or "access_token" not in token:
            raise SignInFailed("the provider sent no ID token or no access token")
        claims = await self._verified_claims(str(token["id_token"]), metadata, nonce)
        return SignedIn(
            subject=str(claims["sub"]),
            name=str(claims.get("name") or claims.get("preferred_username") or claims["sub"]),
            roles=tuple(str(r) for r in claims.get("roles", []) if isinstance(claims.get("roles"), list)),
            states=tuple(str(s) for s in claims.get("states", []) if isinstance(claims.get("states"), list)),
            access_token=str(token["access_token"]),
            expires_at=_expires_at(token),
            refresh_token=str(token["refresh_token"]) if token.get("refresh_token") else None,
            district=str(claims["district"]) if isinstance(claims.get("district"), str) else None,
        )

    async def refresh(self, user: SignedIn) -> SignedIn:
        """A fresh access token for a signed-in person, from their refresh token; the provider may rotate it.

        Who the person is stays what sign-in established (the ID token, if the provider sends one again, is not
        needed for that); a provider that refuses ends the sign-in (:class:`SignInFailed`)."""
        if not user.refresh_token:
            raise SignInFailed("no refresh token: the provider gave none at sign-in")
        metadata = await self.metadata()
        async with self._client() as client:
            client.timeout = self._http.timeout
            try:
                token = await client.refresh_token(metadata["token_endpoint"], refresh_token=user.refresh_token)
            except Exception as exc:  # as in finish: OAuthError for a refusal, httpx errors for a failure
                raise SignInFailed(f"the token endpoint refused the refresh: {exc}") from exc
        if "access_token" not in token:
            raise SignInFailed("the provider sent no access token")
        return dataclasses.replace(user, access_token=str(token["access_token"]), expires_at=_expires_at(token),
                                   refresh_token=str(token.get("refresh_token") or user.refresh_token))

    async def _verified_claims(self, id_token: str, metadata: dict[str, Any], nonce: str) -> dict[str, Any]:
        for refresh in (False, True):
            keys = await self._key_set(metadata, refresh)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # joserfc's SecurityWarning on the name "EdDSA"
                    decoded = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
            except JoseError as exc:
                if refresh:
                    raise SignInFailed(f"the ID token does not verify: {exc}") from exc
                continue
            registry = jwt.JWTClaimsRegistry(iss={"essential": True, "value": metadata["issuer"]},
                                             aud={"essential": True, "value": self.client_id},
                                             exp={"essential": True}, sub={"essential": True},
                                             nonce={"essential": True, "value": nonce})
            try:
                registry.validate(decoded.claims)
            except JoseError as exc:
                raise SignInFailed(f"the ID token's claims do not check out: {exc}") from exc
            return dict(decoded.claims)
        raise SignInFailed("unreachable")

    async def _key_set(self, metadata: dict[str, Any], refresh: bool) -> KeySet:
        if self._keys is None or refresh:
            response = await self._http.get(metadata["jwks_uri"])
            response.raise_for_status()
            self._keys = KeySet.import_key_set(response.json())
        return self._keys


def _expires_at(token: dict[str, Any]) -> float:
    return time.time() + float(token.get("expires_in") or 3600)
