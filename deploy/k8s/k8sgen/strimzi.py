"""The Strimzi custom resources, as plain dicts.

Written for Strimzi 1.0.0, which serves only the ``kafka.strimzi.io/v1`` API (the release whose CRD schemas
deploy/k8s/schemas pins, so every object here is checked against them), with Apache Kafka 4.2.0, the newest it
runs. In v1 a cluster is KRaft with node pools, so neither the ``strimzi.io/kraft`` nor the ``strimzi.io/node-pools``
annotation exists any more and the brokers' count and storage live only in the ``KafkaNodePool``; a KafkaUser's
ACL names its ``operations`` as a list (the singular ``operation`` is gone).
"""

from __future__ import annotations

from typing import Any

from k8sgen.declarations import AGENCY_CONSUMER_BYTE_RATE, KafkaClient
from k8sgen.network import API_SERVER, dns, policy, tcp
from microcred.events.topics import TopicSpec

API_VERSION = "kafka.strimzi.io/v1"
CLUSTER = "microcred"
# A Strimzi release runs a few Kafka releases only (1.0.0: 4.1.0 to 4.2.0): check both when moving Strimzi.
KAFKA_VERSION = "4.2.0"
METADATA_VERSION = "4.2-IV1"
BROKERS = 3
# Three copies of every partition, and a write needs two of them (acks=all): one broker may be down, for a
# rolling update or a lost node, and no acknowledged record is lost; with two down, producers wait.
REPLICAS = 3
MIN_INSYNC_REPLICAS = 2

Obj = dict[str, Any]


def _metadata(name: str, **extra: Any) -> Obj:
    return {"name": name, "labels": {"strimzi.io/cluster": CLUSTER}, **extra}


def kafka() -> Obj:
    return {
        "apiVersion": API_VERSION,
        "kind": "Kafka",
        "metadata": {"name": CLUSTER},
        "spec": {
            "kafka": {
                "version": KAFKA_VERSION,
                "metadataVersion": METADATA_VERSION,
                # The only listener: inside the cluster, TLS, and a SCRAM-SHA-512 user per client.
                "listeners": [{
                    "name": "tls", "port": 9093, "type": "internal", "tls": True,
                    "authentication": {"type": "scram-sha-512"},
                }],
                # Kafka ACLs from the KafkaUsers; a principal with no ACL for a resource is refused.
                "authorization": {"type": "simple"},
                "config": {
                    # Topics exist only as KafkaTopics: a misspelt topic fails instead of appearing.
                    "auto.create.topics.enable": False,
                    "default.replication.factor": REPLICAS,
                    "min.insync.replicas": MIN_INSYNC_REPLICAS,
                    "offsets.topic.replication.factor": REPLICAS,
                    "transaction.state.log.replication.factor": REPLICAS,
                    "transaction.state.log.min.isr": MIN_INSYNC_REPLICAS,
                },
            },
            "entityOperator": {"topicOperator": {}, "userOperator": {}},
        },
    }


def node_pool() -> Obj:
    # Three nodes that are both KRaft controllers and brokers. A separate controller pool pays off in large
    # clusters, where controller work competes with heavy broker traffic; this platform writes a few records per
    # teacher's step, and three more pods per cluster would buy nothing but cost. Brokers stay one per node, so a
    # lost node takes one copy of each partition, never two (min.insync.replicas is 2).
    return {
        "apiVersion": API_VERSION,
        "kind": "KafkaNodePool",
        "metadata": _metadata("dual-role"),
        "spec": {
            "replicas": BROKERS,
            "roles": ["controller", "broker"],
            "storage": {
                "type": "jbod",
                "volumes": [{
                    "id": 0, "type": "persistent-claim", "size": "100Gi", "deleteClaim": False,
                    "kraftMetadata": "shared",
                }],
            },
            "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "2Gi"}},
            "template": {"pod": {"topologySpreadConstraints": [{
                "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"strimzi.io/cluster": CLUSTER, "strimzi.io/pool-name": "dual-role"}},
            }]}},
        },
    }


def kafka_topic(spec: TopicSpec) -> Obj:
    # Kubernetes names are lowercase; the topic's own name (licensure.state.TN) goes in topicName.
    return {
        "apiVersion": API_VERSION,
        "kind": "KafkaTopic",
        "metadata": _metadata(spec.name.lower()),
        "spec": {
            "topicName": spec.name,
            "partitions": spec.partitions,
            "replicas": REPLICAS,
            "config": {"min.insync.replicas": MIN_INSYNC_REPLICAS, "retention.ms": spec.retention_ms},
        },
    }


def _acl(resource_type: str, name: str, operations: list[str], pattern: str = "literal") -> Obj:
    return {"resource": {"type": resource_type, "name": name, "patternType": pattern}, "operations": operations}


def _user(name: str, acls: list[Obj], quotas: Obj | None = None) -> Obj:
    spec: Obj = {"authentication": {"type": "scram-sha-512"}, "authorization": {"type": "simple", "acls": acls}}
    if quotas:
        spec["quotas"] = quotas
    return {"apiVersion": API_VERSION, "kind": "KafkaUser", "metadata": _metadata(name), "spec": spec}


def service_user(client: KafkaClient, feed_states: tuple[str, ...]) -> Obj:
    """Write what it owns, read what it consumes, in its own groups only; no Create (topics are KafkaTopics), no
    wildcard, no cluster operation."""
    acls = [_acl("topic", t, ["Write", "Describe"]) for t in client.written_topics(feed_states)]
    acls += [_acl("topic", t, ["Read", "Describe"]) for t in client.read_topics()]
    if client.groups():
        # A prefix, not one ACL per group: every group of the service is <service>.<topic> (events.topics.consumer_group),
        # and no other principal's group starts with <service>. (tests/deploy checks both).
        acls.append(_acl("group", f"{client.name}.", ["Read"], pattern="prefix"))
    return _user(client.user, acls)


def agency_user(state: str, feed: str) -> Obj:
    """A state agency: its own feed and groups of its own, under a fetch quota."""
    prefix = f"state-{state.lower()}"
    return _user(
        prefix,
        [_acl("topic", feed, ["Read", "Describe"]), _acl("group", f"{prefix}.", ["Read"], pattern="prefix")],
        quotas={"consumerByteRate": AGENCY_CONSUMER_BYTE_RATE},
    )


def licensure_uses_provisioned_feeds() -> Obj:
    """Licensure creates a state's feed topic itself where it may (the dev stack); here the feeds are KafkaTopics,
    made by the Topic Operator with three replicas and their retention, so licensure gets no Create permission and
    is told not to try."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "licensure"},
        "spec": {"template": {"spec": {"containers": [{
            "name": "server", "env": [{"name": "MICROCRED_CREATE_STATE_TOPICS", "value": "false"}],
        }]}}},
    }


def network_policies() -> list[Obj]:
    """What components/network-policies' default deny would otherwise cut. Strimzi writes a NetworkPolicy for
    its pods' ingress (each listener, replication on 9091, the controllers on 9090, the agent on 8443) but none for
    egress, and the deny-all covers every pod of the namespace: without these the brokers could not replicate to
    each other, the entity operator (topic and user operators) could not reach the brokers or the Kubernetes API,
    and the cluster operator, installed in this namespace (deploy/k8s/README.md), could not reconcile anything."""
    cluster_pods = {"podSelector": {"matchLabels": {"strimzi.io/cluster": CLUSTER}}}
    return [
        # Brokers and controllers (one pool, both roles) and the entity operator: to each other on any port
        # Strimzi opens between them, and to the API server (the entity operator watches KafkaTopics and
        # KafkaUsers; the brokers' init container reads its node's rack labels).
        policy(f"{CLUSTER}-kafka-egress", {"strimzi.io/cluster": CLUSTER},
               egress=[dns(), {"to": [cluster_pods]}, API_SERVER]),
        # The cluster operator: the API server, and the brokers' control ports (the admin client on 9091, the
        # KRaft controllers on 9090, the Kafka agent's broker state on 8443). Nothing needs to reach it.
        policy("strimzi-cluster-operator", {"strimzi.io/kind": "cluster-operator"},
               egress=[dns(), API_SERVER, {"to": [cluster_pods], "ports": tcp(9090, 9091, 8443)}], ingress=[]),
    ]
