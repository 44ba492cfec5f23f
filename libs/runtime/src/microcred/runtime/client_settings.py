"""Typed settings of the deployables that reach the platform over HTTP only (the canary, the portal).

A module of its own, apart from runtime.settings, so that importing it brings in neither SQLAlchemy nor a Kafka
client: the canary's and the portal's import contracts keep both out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


@dataclass(frozen=True)
class ServiceUrls:
    """Where such a process reaches each of the five services."""

    catalog: str
    submission: str
    review: str
    award: str
    licensure: str


class PlatformClientSettings(BaseSettings):
    """Settings of a deployable that reaches the platform over HTTP only (the canary, the portal).

    Their own base rather than :class:`ServiceSettings`: no database, broker or event topics to configure, and a
    database URL or Kafka principal such a process never uses would only be one more thing to get wrong.
    """

    model_config = SettingsConfigDict(env_prefix="MICROCRED_", extra="ignore")

    service_name: str = "microcred"
    mode: Literal["local", "production"] = "local"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = "INFO"
    log_json: bool = True

    # The five services, as this process reaches them (their in-cluster Services, or microcred up's ports).
    catalog_url: str = "http://127.0.0.1:15410"
    submission_url: str = "http://127.0.0.1:15411"
    review_url: str = "http://127.0.0.1:15412"
    award_url: str = "http://127.0.0.1:15413"
    licensure_url: str = "http://127.0.0.1:15414"
    http_timeout_seconds: float = Field(default=10.0, gt=0)

    # Tokens the development issuer mints (local mode) carry these; the services check them.
    auth_issuer: str = "microcred-dev"
    auth_audience: str = "microcred"

    @property
    def service_urls(self) -> ServiceUrls:
        return ServiceUrls(catalog=self.catalog_url, submission=self.submission_url, review=self.review_url,
                           award=self.award_url, licensure=self.licensure_url)
