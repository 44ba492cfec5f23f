"""No Kafka client in the deployed code is built without the platform's security settings.

Every construction of an aiokafka client or a FastStream Kafka broker in ``libs/*/src`` and
``services/*/src`` must spread ``**kafka_client_options(...)`` (a broker: pass
``security=faststream_security(...)``), so a client added later cannot quietly connect in clear. The
forwarders below take those options from their caller and pass them on; their callers are held to the
same rule. The development stack (``libs/devstack``) is left out: it only ever talks to its own
loopback broker, plaintext by construction, and never runs in a deployment.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CLIENTS = {"AIOKafkaConsumer", "AIOKafkaProducer", "AIOKafkaAdminClient", "KafkaBroker", "MicrocredKafkaBroker",
           # forwarders: called with the options, pass them on to the clients they build
           "LogEnds", "committed_offsets", "ConsumerLagMonitor"}
BROKERS = {"KafkaBroker", "MicrocredKafkaBroker"}
FORWARDERS = {"LogEnds", "committed_offsets", "ConsumerLagMonitor"}  # bodies that may pass **options on
EXEMPT_PACKAGES = ("libs/devstack/",)


def _called_name(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _is_call_to(node: ast.expr | None, name: str) -> bool:
    return isinstance(node, ast.Call) and _called_name(node) == name


def unsecured_constructions(source: str, filename: str) -> list[str]:
    """``file:line name`` of each client construction that does not take the platform's settings."""
    tree = ast.parse(source, filename)
    found: list[str] = []

    def visit(node: ast.AST, inside: str | None) -> None:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.name in FORWARDERS:
            inside = node.name
        if isinstance(node, ast.Call) and (name := _called_name(node)) in CLIENTS:
            spread = [k.value for k in node.keywords if k.arg is None]
            security = next((k.value for k in node.keywords if k.arg == "security"), None)
            secured = (
                any(_is_call_to(value, "kafka_client_options") for value in spread)
                or (name in BROKERS and _is_call_to(security, "faststream_security"))
                # A forwarder passes on the options its caller gave it (that call is checked too).
                or (inside is not None and any(isinstance(value, ast.Name | ast.Attribute) for value in spread))
            )
            if not secured:
                found.append(f"{filename}:{node.lineno} {name}")
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(tree, None)
    return found


def deployed_sources() -> list[Path]:
    files = sorted([*ROOT.glob("libs/*/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")])
    return [f for f in files if not str(f.relative_to(ROOT)).startswith(EXEMPT_PACKAGES)]


def test_every_kafka_client_in_the_deployed_code_is_built_from_the_platforms_settings() -> None:
    files = deployed_sources()
    assert len(files) > 100, "the scan found the source tree"
    found = [problem for path in files
             for problem in unsecured_constructions(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == [], ("Kafka clients built without **kafka_client_options(settings) (or a broker without "
                         "security=faststream_security(settings)): " + ", ".join(found))


def test_the_scan_sees_the_clients_the_platform_builds_today() -> None:
    # Guards the scan itself: were it to stop recognising constructions, the test above would pass on nothing.
    seen = {}
    for path in deployed_sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and (name := _called_name(node)) in CLIENTS:
                seen.setdefault(name, []).append(path.name)
    assert {"AIOKafkaConsumer", "AIOKafkaProducer", "AIOKafkaAdminClient", "MicrocredKafkaBroker", "LogEnds",
            "ConsumerLagMonitor"} <= seen.keys()
    assert "feed_topics.py" in seen["AIOKafkaAdminClient"], "licensure's topic creation is scanned"


def test_a_client_built_from_a_bare_address_or_spread_options_of_unknown_origin_is_reported() -> None:
    source = '''
consumer = AIOKafkaConsumer("topic", bootstrap_servers=servers)
admin = aiokafka.admin.AIOKafkaAdminClient(**options)
broker = KafkaBroker(settings.kafka_bootstrap_servers)
ends = LogEnds(settings.kafka_bootstrap_servers)
fine = AIOKafkaProducer(**kafka_client_options(settings), acks="all")
also_fine = MicrocredKafkaBroker(servers, security=faststream_security(settings))

class LogEnds:
    def __init__(self, bootstrap_servers, **client_options):
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, **client_options)
'''
    assert unsecured_constructions(source, "example.py") == [
        "example.py:2 AIOKafkaConsumer", "example.py:3 AIOKafkaAdminClient", "example.py:4 KafkaBroker",
        "example.py:5 LogEnds",
    ]
