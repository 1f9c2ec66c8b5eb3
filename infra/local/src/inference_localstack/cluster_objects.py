"""Objects the stack puts into its fresh cluster: the simulated GPU nodes and the RBAC of
the identities it runs (kwok, Traefik). Pure functions of the config, table-tested."""

from __future__ import annotations

import ipaddress
from typing import Any

from inference_common.modelserve import GROUP
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
    read = ["get", "list", "watch"]
    read_write = [*read, "create", "update", "patch", "delete"]
    kwok_role = _role(
        "local:kwok",
        [
            _rule("", ["nodes", "nodes/status", "pods", "pods/status"], read_write),
            _rule("", ["events"], ["create", "patch", "update"]),
            _rule("coordination.k8s.io", ["leases"], read_write),
        ],
    )
    node_runtime_role = _role(
        "local:node-runtime",
        [
            _rule("", ["nodes"], [*read, "create", "update", "patch"]),
            _rule("", ["nodes/status", "pods/status"], ["patch", "update"]),
            _rule("", ["pods"], [*read, "delete"]),
            _rule("", ["secrets", "configmaps"], ["get"]),
            _rule("", ["events"], ["create", "patch"]),
            _rule("coordination.k8s.io", ["leases"], ["get", "create", "update", "patch"]),
        ],
    )
    api_role = _role(
        "local:inference-api",
        [
            _rule(GROUP, ["modelserves"], [*read, "create", "delete", "patch"]),
            # PATCH /servers/{uuid} scales through the scale subresource, as kubectl does
            _rule(GROUP, ["modelserves/scale"], ["get", "patch", "update"]),
            # GPU capacity of the nodes, checked before a GPU ModelServe is created
            _rule("", ["nodes", "pods"], ["list"]),
            # GET /servers/{uuid}/events and /logs (what kubectl describe and logs read)
            _rule("", ["events"], ["list"]),
            _rule("", ["pods/log"], ["get"]),
        ],
    )
    gateway_role = _role(
        "local:inference-gateway",
        [_rule(GROUP, ["modelserves"], read), _rule("discovery.k8s.io", ["endpointslices"], read)],
    )
    # the contract service counts every ModelServe (list-watch) to reconcile reservations;
    # its webhook watches the objects a new ModelServe's children would be named like
    contract_role = _role(
        "local:inference-contract",
        [
            _rule(GROUP, ["modelserves"], read),
            _rule("apps", ["deployments"], ["list", "watch"]),
            _rule("", ["services"], ["list", "watch"]),
            _rule("traefik.io", ["ingressroutes"], ["list", "watch"]),
        ],
    )
    prometheus_role = _role(
        "local:prometheus",
        [
            _rule("", ["pods", "nodes", "services"], ["list", "watch"]),
            _rule("discovery.k8s.io", ["endpointslices"], ["list", "watch"]),
        ],
    )
    return [
        kwok_role,
        node_runtime_role,
        api_role,
        gateway_role,
        contract_role,
        _binding("local:inference-contract"),
        prometheus_role,
        _binding("local:inference-api"),
        _binding("local:inference-gateway"),
        _binding("local:kwok"),
        _binding("local:prometheus"),
        _binding("local:node-runtime"),
        _binding("local:traefik", traefik_cluster_role),
    ]


def _rule(group: str, resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": [group], "resources": resources, "verbs": verbs}


def _role(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": rules,
    }


def _binding(user: str, role: str | None = None) -> dict[str, Any]:
    """Binds `user` to `role` (by default the ClusterRole of the same name), named as the user."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": user},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": role or user,
        },
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }
