"""Typed settings shared by every service (each service subclasses with its own fields).

Local mode has safe defaults so ``make up`` needs no configuration; production mode refuses to start
while any secret still has its local default, so a forgotten variable fails loudly at boot.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

LOCAL_DATABASE_PASSWORD = "microcred-local"  # noqa: S105 - the documented local-only default


def asyncpg_url(url: str) -> str:
    """The SQLAlchemy asyncpg form of a PostgreSQL URL given in libpq's form.

    CloudNativePG's app secret (key ``uri``) and most managed databases hand out ``postgresql://`` (or
    ``postgres://``) URIs, often with ``sslmode``; the services speak asyncpg through SQLAlchemy, which
    needs the ``+asyncpg`` driver and takes the TLS mode as ``ssl`` (asyncpg accepts libpq's mode names
    there). Normalising here lets a Deployment pass the operator's URI untouched instead of composing a
    URL from parts in YAML. A URL naming another driver is left as it is.
    """
    parsed = make_url(url)
    if parsed.drivername not in ("postgresql", "postgres"):
        return url
    query = dict(parsed.query)
    if "sslmode" in query:
        query.setdefault("ssl", query.pop("sslmode"))
    return parsed.set(drivername="postgresql+asyncpg", query=query).render_as_string(hide_password=False)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MICROCRED_", extra="ignore")

    service_name: str = "microcred"
    mode: Literal["local", "production"] = "local"
    database_url: str = (
        f"postgresql+asyncpg://microcred:{LOCAL_DATABASE_PASSWORD}@127.0.0.1:15400/microcred"
    )
    database_pool_size: int = 10
    # Off: a ping is one more round trip per transaction (a request makes two to four). A connection the
    # database dropped fails one request with a retryable 503 (a consumer retries it), after which SQLAlchemy
    # replaces the pool's connections; turn it on where connections die often (an aggressive proxy).
    database_pool_pre_ping: bool = False
    # Connections are replaced after this long, before a proxy or firewall idle timeout closes them.
    database_pool_recycle_seconds: int = 1800
    kafka_bootstrap_servers: str = "127.0.0.1:15401"
    kafka_client_id: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    public_base_url: str | None = None

    auth_jwks_url: str = ""
    auth_issuer: str = "microcred-dev"
    auth_audience: str = "microcred"

    otel_exporter_otlp_endpoint: str | None = None
    log_level: str = "INFO"
    log_json: bool = True

    relay_batch_size: int = 500
    relay_poll_interval_seconds: float = 0.5
    outbox_retention_hours: float = 7 * 24
    consumer_max_attempts: int = 5
    consumer_retry_base_seconds: float = 0.2
    consumer_retry_max_seconds: float = 30.0
    # Handled offsets are committed together at this interval (see runtime.consumer.OffsetCommitter).
    consumer_commit_interval_seconds: float = 1.0
    # How long the broker may hold an empty fetch. Apache Kafka answers as soon as a record arrives; Tansu
    # often does not (an idle record reached its consumer after 117 ms at p50 with 500, 25 ms with 100).
    # Shorter is not free: at 100 ms the extra fetches of every subscriber cost 23% of the platform's
    # throughput in the pipeline benchmark.
    consumer_fetch_max_wait_ms: int = 500
    # Consumers per subscribed topic, in one group: each owns some partitions and handles their messages
    # one at a time, so a key's events stay in order while partitions proceed side by side. One consumer
    # for all partitions left submission ~500 events behind at saturation in the pipeline benchmark (each
    # message waits on several database round trips in an event loop shared with its API); three kept it
    # within ~50. More than (partitions / replicas) leaves the extra consumers idle.
    consumer_workers_per_topic: int = Field(default=3, ge=1)
    # Gauges read from the database or the broker (outbox unsent, consumer lag) are refreshed this often by a
    # background loop, never on a scrape, so a scrape costs only the exposition.
    metrics_refresh_interval_seconds: float = Field(default=15.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _database_url_for_asyncpg(cls, url: str) -> str:
        return asyncpg_url(url)

    def default_secrets_in_use(self) -> list[str]:
        """Names of settings still holding a local-only default; subclasses extend this."""
        found = []
        if LOCAL_DATABASE_PASSWORD in self.database_url:
            found.append("database_url")
        return found

    @model_validator(mode="after")
    def _refuse_local_defaults_in_production(self) -> ServiceSettings:
        if self.mode != "production":
            return self
        problems = [f"{name} still has its local default" for name in self.default_secrets_in_use()]
        if not self.auth_jwks_url.startswith("https://"):
            problems.append("auth_jwks_url must be the https:// JWKS URL of the OIDC issuer")
        if problems:
            raise ValueError("refusing to start in production mode: " + "; ".join(problems))
        return self

    @property
    def base_url(self) -> str:
        return self.public_base_url or f"http://{self.http_host}:{self.http_port}"
