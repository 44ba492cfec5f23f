from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from microcred.runtime.client_settings import PlatformClientSettings


class PortalSettings(PlatformClientSettings):
    """The portal's settings, under the platform's ``MICROCRED_`` prefix (``MICROCRED_PORTAL_PUBLIC_URL``)."""

    service_name: str = "portal"
    http_port: int = 15417

    # Where browsers reach the portal: the OIDC redirect URI is built from it, and an https:// address is what
    # makes the session cookie Secure.
    portal_public_url: str = "http://127.0.0.1:15417"

    # The object store as browsers reach it (the submission service signs its upload URLs for this address): the
    # application page's scripts PUT evidence there, so its origin is in the pages' connect-src.
    s3_public_endpoint: str = "http://127.0.0.1:15403"

    # The operator's OpenID Connect provider: its issuer URL (discovery at <issuer>/.well-known/openid-configuration)
    # and the portal's client registration there (a public client: authorization code with PKCE, no secret).
    # Empty in local mode: the development provider (runtime.dev_oidc) runs inside the portal at /dev-oidc.
    oidc_issuer_url: str = ""
    oidc_client_id: str = "microcred-portal"
    oidc_scopes: str = "openid profile email"

    # Local mode only: the development issuer's key (``microcred up`` keeps it in .microcred/auth) signs the tokens
    # the development provider hands out, and the sample people it offers are read from people.json beside it.
    portal_dev_key_dir: Path = Path(".microcred/auth")

    # A session unused this long is forgotten, whatever its token's lifetime.
    portal_session_idle_seconds: int = Field(default=8 * 3600, gt=0)
    portal_max_sessions: int = Field(default=50_000, gt=0)

    @property
    def local_provider(self) -> bool:
        """The development OIDC provider stands in for the operator's: local mode with no issuer named."""
        return self.mode == "local" and not self.oidc_issuer_url

    @property
    def secure_cookies(self) -> bool:
        return self.mode == "production" or self.portal_public_url.startswith("https://")

    @model_validator(mode="after")
    def _no_local_shortcuts_in_production(self) -> PortalSettings:
        # Production signs people in at the operator's identity provider over TLS and serves pages over TLS; the
        # development provider (anyone may pick any person) must never be what a production portal trusts.
        if self.mode == "production":
            if not self.oidc_issuer_url.startswith("https://"):
                raise ValueError("refusing to start in production mode: MICROCRED_OIDC_ISSUER_URL must name the "
                                 "operator's identity provider over https://")
            if not self.portal_public_url.startswith("https://"):
                raise ValueError("refusing to start in production mode: MICROCRED_PORTAL_PUBLIC_URL must be "
                                 "https:// (the session cookie is Secure)")
        return self
