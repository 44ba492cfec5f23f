"""Typed settings shared by every service (each service subclasses with its own fields).

Local mode has safe defaults so ``make up`` needs no configuration; production mode refuses to start
while any secret still has its local default, or while Kafka would be reached in clear or without a
principal, so a forgotten variable fails loudly at boot.

:class:`KafkaSettings` is the one description of how a Kafka client of the platform connects (the
``MICROCRED_KAFKA_*`` variables). The services' settings extend it, and the operator tools (dead letters,
a state agency's feed reader) read it on its own, so one set of variables configures every client, and
``runtime.kafka_clients`` turns it into the options of each (docs/operations/kafka-security.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

LOCAL_DATABASE_PASSWORD = "microcred-local"  # noqa: S105 - the documented local-only default

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


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


class KafkaSettings(BaseSettings):
    """How a Kafka client reaches the platform's brokers: servers, TLS and SASL (``MICROCRED_KAFKA_*``).

    The password comes from the environment (a Kubernetes ``secretKeyRef``), the CA, certificate and key
    from mounted files. Production refuses a connection that is not encrypted and authenticated (see
    :meth:`production_problems`).
    """

    # A refused value is never echoed back: a database URL that fails to parse may still carry its password.
    model_config = SettingsConfigDict(env_prefix="MICROCRED_", extra="ignore", hide_input_in_errors=True)

    mode: Literal["local", "production"] = "local"
    kafka_bootstrap_servers: str = "127.0.0.1:15401"
    kafka_security_protocol: KafkaSecurityProtocol = "PLAINTEXT"
    # Strimzi's SCRAM users and most managed clusters use SHA-512; PLAIN sends the password itself (in TLS).
    kafka_sasl_mechanism: KafkaSaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # PEM files. Without a CA file the system's trust store verifies the brokers (a public CA's cluster).
    kafka_ssl_cafile: FilePath | None = None
    # A client certificate (mutual TLS) is the principal where the listener authenticates by certificate;
    # the key may sit in the certificate file, then leave kafka_ssl_keyfile unset.
    kafka_ssl_certfile: FilePath | None = None
    kafka_ssl_keyfile: FilePath | None = None
    kafka_ssl_keyfile_password: SecretStr | None = None

    @property
    def kafka_uses_tls(self) -> bool:
        return self.kafka_security_protocol in ("SSL", "SASL_SSL")

    @property
    def kafka_uses_sasl(self) -> bool:
        return self.kafka_security_protocol.startswith("SASL_")

    def kafka_problems(self) -> list[str]:
        """Kafka settings that cannot work together, in any mode (each would fail later, less clearly)."""
        problems = []
        if self.kafka_uses_sasl and not (self.kafka_sasl_username and self.kafka_sasl_password):
            problems.append(f"{self.kafka_security_protocol} needs MICROCRED_KAFKA_SASL_USERNAME and "
                            "MICROCRED_KAFKA_SASL_PASSWORD")
        if not self.kafka_uses_sasl and (self.kafka_sasl_username or self.kafka_sasl_password):
            problems.append(f"a SASL username or password is set but MICROCRED_KAFKA_SECURITY_PROTOCOL is "
                            f"{self.kafka_security_protocol}, which would never send it")
        tls_files = (self.kafka_ssl_cafile, self.kafka_ssl_certfile, self.kafka_ssl_keyfile)
        if not self.kafka_uses_tls and any(tls_files):
            problems.append(f"TLS files are set but MICROCRED_KAFKA_SECURITY_PROTOCOL is "
                            f"{self.kafka_security_protocol}, which would connect without TLS")
        if self.kafka_ssl_keyfile and not self.kafka_ssl_certfile:
            problems.append("MICROCRED_KAFKA_SSL_KEYFILE is set without MICROCRED_KAFKA_SSL_CERTFILE")
        return problems

    def production_problems(self) -> list[str]:
        """Why production mode refuses to start with these settings; subclasses extend this."""
        protocol = self.kafka_security_protocol
        if protocol == "PLAINTEXT":
            return ["MICROCRED_KAFKA_SECURITY_PROTOCOL is PLAINTEXT: records and credentials would cross the "
                    "network in clear and the brokers could not tell one service from another; use SASL_SSL "
                    "(or SSL with a client certificate)"]
        # SASL_PLAINTEXT is refused too, whatever the mechanism. With PLAIN the password itself crosses the
        # network in clear. SCRAM keeps the password off the wire, but not the records: they carry teachers'
        # names, license numbers and signed credentials, and an unencrypted session can be read or taken
        # over once authenticated. Encryption in transit is the floor; SASL only adds who is speaking.
        if protocol == "SASL_PLAINTEXT":
            return ["MICROCRED_KAFKA_SECURITY_PROTOCOL is SASL_PLAINTEXT: the records would cross the network in "
                    "clear (and with PLAIN the password too); use SASL_SSL"]
        # SSL without a client certificate encrypts but names nobody: the per-service and per-state ACLs
        # need a principal, and an anonymous client would get whatever ANONYMOUS may do.
        if protocol == "SSL" and not self.kafka_ssl_certfile:
            return ["MICROCRED_KAFKA_SECURITY_PROTOCOL is SSL without a client certificate "
                    "(MICROCRED_KAFKA_SSL_CERTFILE): the brokers could not tell who connects; use SASL_SSL or "
                    "mutual TLS"]
        return []

    @model_validator(mode="after")
    def _refuse_unusable_or_unsafe_settings(self) -> KafkaSettings:
        problems = self.kafka_problems()
        if problems:
            raise ValueError("the Kafka settings do not fit together: " + "; ".join(problems))
        if self.mode == "production" and (problems := self.production_problems()):
            raise ValueError("refusing to start in production mode: " + "; ".join(problems))
        return self


class ServiceSettings(KafkaSettings):
    service_name: str = "microcred"
    database_url: str = (
        f"postgresql+asyncpg://microcred:{LOCAL_DATABASE_PASSWORD}@127.0.0.1:15400/microcred"
    )
    # Twenty connections kept open, none opened beyond them: each replica's cluster is sized for 20 (k8sgen's
    # databases). SQLAlchemy's default of 10 plus an overflow of 10 has the same ceiling, but closes an overflow
    # connection as soon as it is returned, so a service busier than 10 sessions opened one again and again under
    # load (submission: 0.17 per completed submission), each a PostgreSQL backend forked, an authentication and
    # its statements prepared anew.
    database_pool_size: int = Field(default=20, ge=1)
    database_pool_max_overflow: int = Field(default=0, ge=0)
    # Off: a ping is one more round trip per transaction (a request makes two to four). A connection the
    # database dropped fails one request with a retryable 503 (a consumer retries it), after which SQLAlchemy
    # replaces the pool's connections; turn it on where connections die often (an aggressive proxy).
    database_pool_pre_ping: bool = False
    # Connections are replaced after this long, before a proxy or firewall idle timeout closes them.
    database_pool_recycle_seconds: int = 1800
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
    # After a commit wakes the relay, it waits this long before its pass, so the events committed meanwhile share
    # the pass (its statements and its produce request) instead of each paying for one (benchmarks/README.md).
    # It adds at most this much to every event's publication; 0 publishes at once.
    relay_linger_ms: float = Field(default=10.0, ge=0, le=1000)
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
    # one at a time, so a key's events stay in order; with more than one, partitions proceed side by side and
    # a slow message holds only its own consumer's partitions. One per topic, with batches (below), carried the
    # most in the pipeline benchmark (benchmarks/README.md, issue 22): every consumer fetches and heartbeats on
    # its own, and three per topic cost the broker and the services more than they bought. Before batches, one
    # consumer left submission ~500 events behind at saturation; with them its lag stayed under ~80. Scaling out
    # is by replicas, which is what Kubernetes' autoscaler adds (it runs one per topic too).
    consumer_workers_per_topic: int = Field(default=1, ge=1)
    # Records of one partition a consumer handles in one database transaction: those already fetched after the
    # message in hand, never waited for (see runtime.batches). 1 is one transaction per message.
    consumer_batch_max_records: int = Field(default=50, ge=1)
    # The cyclic garbage collector (runtime.cli.tune_garbage_collector): freeze what the built app holds, and let
    # the youngest generation take this many net allocations of container objects before a collection (700 is
    # Python's default, and with gc_freeze_at_start false gives its behaviour back).
    gc_freeze_at_start: bool = True
    gc_young_threshold: int = Field(default=20_000, ge=100)
    # Gauges read from the database or the broker (outbox unsent, consumer lag) are refreshed this often by a
    # background loop, never on a scrape, so a scrape costs only the exposition.
    metrics_refresh_interval_seconds: float = Field(default=15.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _database_url_for_asyncpg(cls, url: str) -> str:
        # A settings error naming the setting, not SQLAlchemy's traceback from deep inside the validator.
        try:
            return asyncpg_url(url)
        except (ArgumentError, ValueError):
            raise ValueError(
                "is not a database URL: expected postgresql://<user>:<password>@<host>:<port>/<database>"
            ) from None

    def default_secrets_in_use(self) -> list[str]:
        """Names of settings still holding a local-only default; subclasses extend this."""
        found = []
        if LOCAL_DATABASE_PASSWORD in self.database_url:
            found.append("database_url")
        return found

    def production_problems(self) -> list[str]:
        problems = [f"{name} still has its local default" for name in self.default_secrets_in_use()]
        if not self.auth_jwks_url.startswith("https://"):
            problems.append("auth_jwks_url must be the https:// JWKS URL of the OIDC issuer")
        return problems + super().production_problems()

    @property
    def base_url(self) -> str:
        return self.public_base_url or f"http://{self.http_host}:{self.http_port}"
