"""Python client for ``wallet.mjs``: the DCC's verifier-core and panva's ``jose``, as a wallet or an
employer runs them, against documents fetched from a running platform."""

from __future__ import annotations

from typing import Any

from digital_bazaar import NodeHelper

#: verifier-core's log entries a wallet shows as checks; all but registered_issuer must pass.
REQUIRED_STEPS = ("valid_signature", "revocation_status", "expiration")


class Wallet(NodeHelper):
    script = "wallet.mjs"

    def verify_dcc(self, credential: dict[str, Any], known_registries: list[Any] | None = None) -> dict[str, Any]:
        """verifier-core's ``verifyCredential`` result: ``log`` of steps, or ``errors`` when it is fatal."""
        return self.request({"op": "dcc", "credential": credential, "knownDIDRegistries": known_registries or []})

    def verify_jwt(self, token: str, jwks_url: str) -> dict[str, Any]:
        """``{"jwks": result, "kid": result}``: the token checked with the issuer's JWKS and with its kid's JWK."""
        return self.request({"op": "jwt", "token": token, "jwksUrl": jwks_url})


def passed_steps(result: dict[str, Any]) -> dict[str, bool]:
    """``{step id: valid}`` from a verifier-core result; empty when it failed outright."""
    return {entry["id"]: bool(entry.get("valid")) for entry in result.get("log", [])}
