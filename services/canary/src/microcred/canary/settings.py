from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from microcred.runtime.client_settings import PlatformClientSettings


class CanarySettings(PlatformClientSettings):
    """The canary's settings, under the platform's ``MICROCRED_`` prefix (``MICROCRED_CANARY_INTERVAL_SECONDS``)."""

    service_name: str = "canary"
    http_port: int = 15415
    # Presigned evidence URLs name the object store as browsers reach it (MICROCRED_S3_PUBLIC_ENDPOINT). Where
    # the canary cannot reach that address (docker-compose: localhost inside a container), it connects here
    # instead and keeps the signed Host header, so the signature still holds. Unset: the URL as given.
    canary_evidence_upload_via: str | None = None

    # A new canary starts every interval, whether or not earlier ones are still in flight.
    canary_interval_seconds: float = Field(default=60.0, gt=0)
    # Not credited this long after its submit: lost (counted once, then no longer waited for). 900 s is the
    # credit-latency SLO's bound; the histogram has a bucket there.
    canary_sla_seconds: float = Field(default=900.0, gt=0)
    canary_poll_seconds: float = Field(default=1.0, gt=0)
    canary_state: str = Field(default="ZZ", pattern=r"^[A-Z]{2}$")

    # Where the canary's bearer tokens come from. ``dev_issuer`` mints them with the development issuer's key
    # (``microcred up`` keeps it in .microcred/auth), local mode only. ``files`` reads one token per identity
    # from ``canary_token_dir`` (operator, issuer-admin, teacher, reviewer-1, reviewer-2; see README), on
    # every use, so a sidecar or a projected Secret can rotate them without a restart.
    canary_auth: Literal["dev_issuer", "files"] = "dev_issuer"
    canary_dev_key_dir: Path = Path(".microcred/auth")
    canary_token_dir: Path = Path("/var/run/microcred/canary-tokens")

    @model_validator(mode="after")
    def _no_development_tokens_in_production(self) -> CanarySettings:
        # The development issuer's tokens verify only against its own JWKS, which production refuses; a
        # canary configured to mint them would only fail, so say so at start rather than count it lost forever.
        if self.mode == "production" and self.canary_auth == "dev_issuer":
            raise ValueError("refusing to start in production mode: MICROCRED_CANARY_AUTH must be 'files' "
                             "(tokens from the operator's OIDC issuer), not the development issuer")
        return self
