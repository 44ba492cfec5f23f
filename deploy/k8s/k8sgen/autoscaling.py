"""The autoscalers of components/autoscaling: a KEDA ScaledObject per consumer service, on the lag of each consumer
group it reads with (from its topics.py, the same declaration its ACLs come from) and on CPU, and a plain
HorizontalPodAutoscaler for a service that consumes nothing.

One ScaledObject per service owns its HorizontalPodAutoscaler (two HPAs on one Deployment would fight); its count
is the highest any trigger asks for. The maximum is what the partitions can keep busy (libs/events'
max_useful_replicas): past it a new replica holds no partition, whatever the lag. KEDA also holds each kafka
trigger to its own topic's partitions (allowIdleConsumers stays false), so a 3-partition topic's lag never asks
for more than 3.
"""

from __future__ import annotations

from typing import Any

from k8sgen.databases import MAX_REPLICAS
from k8sgen.declarations import KafkaClient
from microcred.events.topics import consumer_group, max_useful_replicas

# Replicas are the unit KEDA adds, so each runs one consumer per topic (MICROCRED_CONSUMER_WORKERS_PER_TOPIC in
# the component's kustomization): a replica's consumers and the partitions they can hold stay in step.
WORKERS_PER_TOPIC = 1
# Two for availability: with the base's PodDisruptionBudget and spread, a drain or a lost node keeps one.
MIN_REPLICAS = 2
# Messages behind per replica before another is added. A message costs a few database round trips (tens of ms),
# so 50 is a second or two of work: scale when a backlog would outlast a poll, not at every burst.
LAG_THRESHOLD = 50
CPU_UTILIZATION = 70
# Every change of the replica count rebalances all of the service's consumer groups: scale up at once, down one
# pod at a time after five quiet minutes.
SCALE_DOWN = {"stabilizationWindowSeconds": 300, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}

Obj = dict[str, Any]


def _labels(service: str) -> Obj:
    return {"app": service, "app.kubernetes.io/part-of": "microcred"}


def _kafka_trigger(client: KafkaClient, topic: str) -> Obj:
    return {
        "type": "kafka",
        "metadata": {
            # The service's own MICROCRED_KAFKA_BOOTSTRAP_SERVERS (its ConfigMap, through the server container):
            # the scaler reaches whatever Kafka the overlay points the service at.
            "bootstrapServersFromEnv": "MICROCRED_KAFKA_BOOTSTRAP_SERVERS",
            "consumerGroup": consumer_group(client.name, topic),
            "topic": topic,
            "lagThreshold": str(LAG_THRESHOLD),
            # A group that has committed nothing yet owes the whole topic.
            "offsetResetPolicy": "earliest",
            "sasl": "scram_sha512",
            "tls": "enable",
        },
        "authenticationRef": {"name": f"{client.name}-kafka"},
    }


def scaled_object(client: KafkaClient) -> Obj:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": client.name, "labels": _labels(client.name)},
        "spec": {
            "scaleTargetRef": {"name": client.name, "envSourceContainerName": "server"},
            "minReplicaCount": MIN_REPLICAS,
            # And no more than the database is sized for.
            "maxReplicaCount": min(max_useful_replicas(client.consumes, WORKERS_PER_TOPIC), MAX_REPLICAS),
            "pollingInterval": 15,
            "cooldownPeriod": 300,
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {"scaleDown": SCALE_DOWN}}},
            "triggers": [_kafka_trigger(client, topic) for topic in client.read_topics()]
            + [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": str(CPU_UTILIZATION)}}],
        },
    }


def trigger_authentication(client: KafkaClient) -> Obj:
    """The scaler logs in as the service itself (components/kafka-security's username on the server container,
    the password from its KafkaUser's Secret), so its ACL lets it describe the service's own groups."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": f"{client.name}-kafka", "labels": _labels(client.name)},
        "spec": {
            "secretTargetRef": [
                {"parameter": "password", "name": client.user, "key": "password"},
                {"parameter": "ca", "name": "microcred-cluster-ca-cert", "key": "ca.crt"},
            ],
            "env": [{"parameter": "username", "name": "MICROCRED_KAFKA_SASL_USERNAME", "containerName": "server"}],
        },
    }


def cpu_autoscaler(service: str) -> Obj:
    """A service that reads no topic scales on CPU for its HTTP API alone."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": service, "labels": _labels(service)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": service},
            "minReplicas": MIN_REPLICAS,
            # As many as its database's connections are sized for.
            "maxReplicas": MAX_REPLICAS,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": CPU_UTILIZATION}}}],
            "behavior": {"scaleDown": SCALE_DOWN},
        },
    }


def autoscalers(clients: list[KafkaClient]) -> list[Obj]:
    objects: list[Obj] = []
    for client in clients:
        if client.consumes:
            objects += [scaled_object(client), trigger_authentication(client)]
        else:
            objects.append(cpu_autoscaler(client.name))
    return objects


def kustomization(services: tuple[str, ...]) -> Obj:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1alpha1",
        "kind": "Component",
        "resources": ["autoscalers.yaml"],
        # The autoscaler owns the replica count: a Deployment that still names one would reset it on every apply.
        "patches": [{
            "target": {"kind": "Deployment", "labelSelector": f"app in ({','.join(services)})"},
            "patch": "- op: remove\n  path: /spec/replicas\n",
        }],
        "configMapGenerator": [{
            "name": "microcred-config", "behavior": "merge",
            "literals": [f"MICROCRED_CONSUMER_WORKERS_PER_TOPIC={WORKERS_PER_TOPIC}"],
        }],
    }
