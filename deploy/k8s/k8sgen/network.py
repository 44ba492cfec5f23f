"""Pieces of the NetworkPolicies the generated components add under components/network-policies' default deny."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

# The Kubernetes API is outside the pod network (no pod or namespace selector reaches it), hence an ipBlock; 6443
# where the API server listens directly (kind, k3d, kubeadm), 443 behind a managed cluster's endpoint.
API_SERVER = {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443, "protocol": "TCP"},
                                                                    {"port": 6443, "protocol": "TCP"}]}


def dns() -> Obj:
    return {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}


def tcp(*ports: int) -> list[Obj]:
    return [{"port": port, "protocol": "TCP"} for port in ports]


def policy(name: str, pods: Obj, *, egress: list[Obj], ingress: list[Obj] | None = None) -> Obj:
    types = (["Ingress"] if ingress is not None else []) + ["Egress"]
    spec: Obj = {"podSelector": {"matchLabels": pods}, "policyTypes": types}
    if ingress is not None:
        spec["ingress"] = ingress
    spec["egress"] = egress
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name}, "spec": spec}
