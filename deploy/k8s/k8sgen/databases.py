"""The PostgreSQL of components/cloudnative-pg: one CloudNativePG Cluster per service (its own database, as
CloudNativePG recommends and as the services never share tables), from one template.

Each cluster: three instances with synchronous replication to one standby, WAL archived continuously and a base
backup every night through the Barman Cloud plugin to the ObjectStore microcred-backups (written by hand, in
microcred-backups.yaml), a PodMonitor, a NetworkPolicy for its instances, and the service's Deployment reading its
URL from the Secret the operator writes for the cluster's application user (<cluster>-app, key uri).
"""

from __future__ import annotations

from typing import Any

from k8sgen.network import API_SERVER, dns, tcp

CLUSTER_SUFFIX = "-db"
INSTANCES = 3
IMAGE = "ghcr.io/cloudnative-pg/postgresql:18.4-standard-trixie"
BARMAN = "barman-cloud.cloudnative-pg.io"
OBJECT_STORE = "microcred-backups"
# The replicas of a service its cluster's connections are sized for (max_connections below): the autoscalers stop
# there (k8sgen.autoscaling).
MAX_REPLICAS = 6
# Nightly base backups, staggered five minutes apart by service from 02:15, so the clusters do not upload at once.
FIRST_BACKUP_MINUTE, BACKUP_STAGGER_MINUTES = 15, 5
# The operator's namespace (the default of its manifest), from where it reaches the instances.
OPERATOR_NAMESPACE = "cnpg-system"

Obj = dict[str, Any]


def cluster_name(service: str) -> str:
    return f"{service}{CLUSTER_SUFFIX}"


def app_secret(service: str) -> str:
    """The Secret CloudNativePG writes for the cluster's application user (keys uri, host, port, dbname, ...)."""
    return f"{cluster_name(service)}-app"


def _labels(service: str, **extra: str) -> dict[str, str]:
    return {"app.kubernetes.io/part-of": "microcred", "microcred.org/service": service, **extra}


def cluster(service: str) -> Obj:
    name = cluster_name(service)
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": name, "labels": _labels(
            service, **{"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/component": "database"})},
        "spec": {
            "description": f"{service}'s own database",
            "instances": INSTANCES,
            "imageName": IMAGE,
            # Minor upgrades and configuration changes restart standbys first, then switch over, without a person.
            "primaryUpdateStrategy": "unsupervised",
            "primaryUpdateMethod": "switchover",
            "enableSuperuserAccess": False,
            "bootstrap": {"initdb": {"database": service, "owner": service, "dataChecksums": True}},
            "postgresql": {
                # A commit waits until one standby has it. The outbox relay publishes a committed event at once:
                # were the primary lost before a standby had the commit, the promoted standby would not hold the
                # state the event announced. With three instances one standby may be away without stopping writes.
                "synchronous": {"method": "any", "number": 1, "dataDurability": "required"},
                "parameters": {
                    # Small OLTP: short transactions, a pool of at most 20 connections per replica (the services'
                    # MICROCRED_DATABASE_POOL_SIZE, kept open, no overflow) for up to MAX_REPLICAS replicas (120),
                    # their migrate containers, replication, the operator and the metrics exporter, on 1 GiB of memory.
                    "max_connections": "200",
                    "shared_buffers": "256MB",
                    "effective_cache_size": "768MB",
                    "work_mem": "4MB",
                    "maintenance_work_mem": "64MB",
                    "random_page_cost": "1.1",
                    "effective_io_concurrency": "200",
                    "wal_compression": "lz4",
                    "checkpoint_completion_target": "0.9",
                    "min_wal_size": "256MB",
                    "max_wal_size": "2GB",
                    # A transaction left open by a stuck client holds locks and the outbox's order: end it.
                    "idle_in_transaction_session_timeout": "60s",
                    "log_min_duration_statement": "500ms",
                    "log_lock_waits": "on",
                    "track_io_timing": "on",
                    "pg_stat_statements.max": "5000",
                    "pg_stat_statements.track": "top",
                },
            },
            "storage": {"size": "10Gi"},
            "walStorage": {"size": "4Gi"},
            "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
            # Instances on different nodes where possible, and spread over zones when the nodes have them.
            "affinity": {"enablePodAntiAffinity": True, "topologyKey": "kubernetes.io/hostname",
                         "podAntiAffinityType": "preferred"},
            "topologySpreadConstraints": [{
                "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"cnpg.io/cluster": name}},
            }],
            # WAL archiving and base backups through the Barman Cloud plugin: the in-tree
            # spec.backup.barmanObjectStore is deprecated and goes in CloudNativePG 1.31.
            "plugins": [{"name": BARMAN, "isWALArchiver": True, "parameters": {"barmanObjectName": OBJECT_STORE}}],
        },
    }


def scheduled_backup(service: str, index: int) -> Obj:
    minute = FIRST_BACKUP_MINUTE + BACKUP_STAGGER_MINUTES * index
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "ScheduledBackup",
        "metadata": {"name": f"{cluster_name(service)}-nightly", "labels": _labels(service)},
        "spec": {
            "cluster": {"name": cluster_name(service)},
            # Six fields, seconds first.
            "schedule": f"0 {minute} 2 * * *",
            # The first base backup as soon as the cluster exists: WAL archiving alone cannot restore anything.
            "immediate": True,
            "method": "plugin",
            "pluginConfiguration": {"name": BARMAN},
            "target": "prefer-standby",
            "backupOwnerReference": "self",
        },
    }


def pod_monitor(service: str) -> Obj:
    """Ours rather than the operator's (spec.monitoring.enablePodMonitor): it carries the label
    kube-prometheus-stack's Prometheus selects PodMonitors by, as components/monitoring's do."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": cluster_name(service), "labels": _labels(service, release="kube-prometheus-stack")},
        "spec": {
            "selector": {"matchLabels": {"cnpg.io/cluster": cluster_name(service), "cnpg.io/podRole": "instance"}},
            "podMetricsEndpoints": [{"port": "metrics"}],
        },
    }


def network_policies(service: str) -> list[Obj]:
    """Under components/network-policies' default deny. The instances take connections from their service, from
    each other (streaming replication) and from the operator (status on 8000, 5432), and Prometheus scrapes 9187;
    they reach each other, the Kubernetes API (the instance manager watches its Cluster) and the object store their
    WAL goes to (MinIO in the namespace, or any S3 on 443; the API server too is outside the pod network, hence the
    ipBlock). The service may reach its own cluster's instances, which CloudNativePG labels cnpg.io/cluster (the
    service's own policy names PostgreSQL by a chart's label they need not carry)."""
    name = cluster_name(service)
    instances = {"podSelector": {"matchLabels": {"cnpg.io/cluster": name}}}
    database = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name},
        "spec": {
            "podSelector": {"matchLabels": {"cnpg.io/cluster": name}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": [{"podSelector": {"matchLabels": {"app": service}}}, instances], "ports": tcp(5432)},
                {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": OPERATOR_NAMESPACE}}}],
                 "ports": tcp(8000, 5432)},
                {"ports": tcp(9187)},
            ],
            "egress": [
                dns(),
                {"to": [instances], "ports": tcp(5432, 8000)},
                {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app.kubernetes.io/name": "minio"}}}],
                 "ports": tcp(9000)},
                API_SERVER,  # also any S3 on 443
            ],
        },
    }
    client = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"{service}-to-{name}"},
        "spec": {
            "podSelector": {"matchLabels": {"app": service}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [instances], "ports": tcp(5432)}],
        },
    }
    return [database, client]


def deployment_patch(service: str) -> Obj:
    """The migrate init container and the server read the same URI; the settings turn CloudNativePG's plain
    postgresql:// into SQLAlchemy's asyncpg form (runtime.settings.asyncpg_url), so no URL is composed here."""
    env = [{"name": "MICROCRED_DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": app_secret(service), "key": "uri"}}}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": service},
        "spec": {"template": {"spec": {
            "initContainers": [{"name": "migrate", "env": env}],
            "containers": [{"name": "server", "env": env}],
        }}},
    }


def kustomization() -> Obj:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1alpha1",
        "kind": "Component",
        "resources": ["microcred-backups.yaml", "clusters.yaml", "network-policies.yaml"],
        "patches": [{"path": "deployment-patches.yaml"}],
    }
