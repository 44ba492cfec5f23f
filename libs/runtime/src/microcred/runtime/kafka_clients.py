"""Every Kafka client of the platform connects through here: one function per kind of client, one settings class.

:func:`kafka_client_options` gives the keyword arguments of an aiokafka consumer, producer or admin client
(servers, TLS, SASL); :func:`faststream_security` gives the FastStream broker the same TLS and SASL as its
security object, from which FastStream builds its own aiokafka clients. Both read :class:`KafkaSettings`,
so a client cannot be configured differently from the others, and ``libs/runtime/tests/test_kafka_clients.py``
fails when code in ``libs/`` or ``services/`` builds a client without them.

The SSL context is built afresh for each call: it reads the CA and certificate files, which Kubernetes
updates in place when a Secret rotates, so a client started after a rotation trusts the new CA.
"""

from __future__ import annotations

import argparse
import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from microcred.runtime.settings import KafkaSettings

_SASL_SECURITY: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
    "PLAIN": SASLPlaintext,
    "SCRAM-SHA-256": SASLScram256,
    "SCRAM-SHA-512": SASLScram512,
}


def kafka_ssl_context(settings: KafkaSettings) -> ssl.SSLContext | None:
    """The TLS context (verifying the brokers, and presenting the client certificate if any), or None."""
    if not settings.kafka_uses_tls:
        return None
    password = settings.kafka_ssl_keyfile_password
    # aiokafka's helper keeps hostname checking on: the brokers' certificates must name the bootstrap
    # and advertised addresses, as Strimzi's cluster CA certificates do.
    return create_ssl_context(
        cafile=settings.kafka_ssl_cafile,
        certfile=settings.kafka_ssl_certfile,
        keyfile=settings.kafka_ssl_keyfile,
        password=password.get_secret_value() if password else None,
    )


def kafka_client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for ``AIOKafkaConsumer``, ``AIOKafkaProducer`` and ``AIOKafkaAdminClient``."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    context = kafka_ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_uses_sasl:
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": _password(settings),
        }
    return options


def faststream_security(settings: KafkaSettings) -> BaseSecurity | None:
    """The FastStream broker's ``security``: the same TLS and SASL as :func:`kafka_client_options`."""
    context = kafka_ssl_context(settings)
    if not settings.kafka_uses_sasl:
        return BaseSecurity(ssl_context=context) if context is not None else None
    security = _SASL_SECURITY[settings.kafka_sasl_mechanism]
    return security(settings.kafka_sasl_username or "", _password(settings), ssl_context=context,
                    use_ssl=context is not None)


def _password(settings: KafkaSettings) -> str:
    return settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""


# -- the command-line tools' connection flags -----------------------------------------------------------


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags that override the ``MICROCRED_KAFKA_*`` variables; secrets only ever come from the environment."""
    connection = parser.add_argument_group("broker (default: the MICROCRED_KAFKA_* variables)")
    connection.add_argument("--bootstrap-servers")
    connection.add_argument("--security-protocol", choices=["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"])
    connection.add_argument("--sasl-mechanism", choices=["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"])
    connection.add_argument("--sasl-username", help="the password comes from MICROCRED_KAFKA_SASL_PASSWORD")
    connection.add_argument("--ssl-cafile", help="PEM file of the CA that signed the brokers' certificates")
    connection.add_argument("--ssl-certfile", help="PEM client certificate, for mutual TLS")
    connection.add_argument("--ssl-keyfile", help="its key (password from MICROCRED_KAFKA_SSL_KEYFILE_PASSWORD)")


def settings_from_arguments(args: argparse.Namespace) -> KafkaSettings:
    """:class:`KafkaSettings` from the environment, with the flags given on the command line on top."""
    flags = {f"kafka_{name}": getattr(args, name) for name in
             ("bootstrap_servers", "security_protocol", "sasl_mechanism", "sasl_username", "ssl_cafile",
              "ssl_certfile", "ssl_keyfile")
             if getattr(args, name, None) is not None}
    return KafkaSettings(**flags)
