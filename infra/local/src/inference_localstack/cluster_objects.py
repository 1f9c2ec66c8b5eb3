"""Objects the stack puts into its fresh cluster: the simulated GPU nodes and the RBAC of
the identities it runs (kwok, Traefik). Pure functions of the config, table-tested."""

from __future__ import annotations

import ipaddress
from typing import Any

from inference_localstack.components import KWOK_NODE_ANNOTATION
from inference_localstack.config import GpuNodeType, Network

SIMULATED_LABEL = "inference.local/simulated"


def kwok_pod_cidr(net: Network, index: int) -> str:
    """The n-th simulated node's pod range: /24s of the pod CIDR after the local one."""
    pod_net = ipaddress.ip_network(net.pod_cidr)
    local = ipaddress.ip_network(net.local_pod_cidr)
    subnets = [s for s in pod_net.subnets(new_prefix=24) if s != local]
    return str(subnets[index])


def gpu_nodes(types: list[GpuNodeType], net: Network) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    for node_type in types:
        slug = node_type.product.lower().replace("nvidia-", "").replace("_", "-")
        for _ in range(node_type.count):
            index = len(nodes)
            name = f"kwok-{slug}-{index}"
            nodes.append(
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {
                        "name": name,
                        "annotations": {
                            KWOK_NODE_ANNOTATION: "fake",
                            "node.alpha.kubernetes.io/ttl": "0",
                        },
                        "labels": {
                            "kubernetes.io/hostname": name,
                            "kubernetes.io/os": "linux",
                            "kubernetes.io/arch": "amd64",
                            "type": "kwok",
                            SIMULATED_LABEL: "true",
                            "nvidia.com/gpu.present": "true",
                            "nvidia.com/gpu.product": node_type.product,
                            "nvidia.com/gpu.memory": str(node_type.memory_mib),
                            "nvidia.com/gpu.count": str(node_type.gpus),
                        },
                    },
                    "spec": {
                        "podCIDR": kwok_pod_cidr(net, index),
                        "podCIDRs": [kwok_pod_cidr(net, index)],
                    },
                    "status": {
                        "capacity": _resources(node_type),
                        "allocatable": _resources(node_type),
                    },
                }
            )
    return nodes


def _resources(node_type: GpuNodeType) -> dict[str, str]:
    return {"cpu": "32", "memory": "256Gi", "pods": "110", "nvidia.com/gpu": str(node_type.gpus)}


def rbac_objects(traefik_cluster_role: str) -> list[dict[str, Any]]:
    """kwok drives the simulated nodes; the local kubelet its own node and pods; Traefik reads
    routes, services and endpoint slices; Prometheus lists and watches what it discovers."""
    kwok_role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "local:kwok"},
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["nodes", "nodes/status", "pods", "pods/status"],
                "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
            },
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch", "update"]},
            {
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
            },
        ],
    }
    node_runtime_role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "local:node-runtime"},
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["nodes"],
                "verbs": ["get", "list", "watch", "create", "update", "patch"],
            },
            {
                "apiGroups": [""],
                "resources": ["nodes/status", "pods/status"],
                "verbs": ["patch", "update"],
            },
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "delete"]},
            {"apiGroups": [""], "resources": ["secrets", "configmaps"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
            {
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "verbs": ["get", "create", "update", "patch"],
            },
        ],
    }
    modelserves = {"apiGroups": ["inference-service.dev"], "resources": ["modelserves"]}
    api_role = _role(
        "local:inference-api",
        [
            {**modelserves, "verbs": ["get", "list", "watch", "create", "delete", "patch"]},
            # PATCH /servers/{uuid} scales through the scale subresource, as kubectl does
            {
                "apiGroups": ["inference-service.dev"],
                "resources": ["modelserves/scale"],
                "verbs": ["get", "patch", "update"],
            },
            # GPU capacity of the nodes, checked before a GPU ModelServe is created
            {"apiGroups": [""], "resources": ["nodes", "pods"], "verbs": ["list"]},
            # GET /servers/{uuid}/events and /logs (what kubectl describe and logs read)
            {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]},
            {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        ],
    )
    gateway_role = _role(
        "local:inference-gateway",
        [
            {**modelserves, "verbs": ["get", "list", "watch"]},
            {
                "apiGroups": ["discovery.k8s.io"],
                "resources": ["endpointslices"],
                "verbs": ["get", "list", "watch"],
            },
        ],
    )
    # the contract service counts every ModelServe (list-watch) to reconcile reservations;
    # its webhook watches the objects a new ModelServe's children would be named like
    contract_role = _role(
        "local:inference-contract",
        [
            {**modelserves, "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list", "watch"]},
            {"apiGroups": [""], "resources": ["services"], "verbs": ["list", "watch"]},
            {
                "apiGroups": ["traefik.io"],
                "resources": ["ingressroutes"],
                "verbs": ["list", "watch"],
            },
        ],
    )
    prometheus_role = _role(
        "local:prometheus",
        [
            {
                "apiGroups": [""],
                "resources": ["pods", "nodes", "services"],
                "verbs": ["list", "watch"],
            },
            {
                "apiGroups": ["discovery.k8s.io"],
                "resources": ["endpointslices"],
                "verbs": ["list", "watch"],
            },
        ],
    )
    return [
        kwok_role,
        node_runtime_role,
        api_role,
        gateway_role,
        contract_role,
        _binding(
            "local:inference-contract", "local:inference-contract", "local:inference-contract"
        ),
        prometheus_role,
        _binding("local:inference-api", "local:inference-api", "local:inference-api"),
        _binding("local:inference-gateway", "local:inference-gateway", "local:inference-gateway"),
        _binding("local:kwok", "local:kwok", "local:kwok"),
        _binding("local:prometheus", "local:prometheus", "local:prometheus"),
        _binding("local:node-runtime", "local:node-runtime", "local:node-runtime"),
        _binding("local:traefik", traefik_cluster_role, "local:traefik"),
    ]


def _role(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": rules,
    }


def _binding(name: str, role: str, user: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }
