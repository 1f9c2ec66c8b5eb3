"""The local node's Node object (pure; table-tested)."""

from __future__ import annotations

from typing import Any

from inference_localstack.config import Network
from inference_localstack.node.machine import Machine, gpu_product_label

LOCAL_NODE_LABEL = "inference-service.dev/local-node"
"""Label and taint of the node that really runs pods here: only pods that ask for it (by
tolerating the taint and selecting the label) land on it."""
MAX_PODS = 100
KUBELET_API_HOST = "localhost"
"""The local kubelet's API listens on loopback only; the Node names it as its InternalDNS
address, which the apiserver prefers (kwok nodes have none: their InternalIP is the sink's)."""


def node_labels(name: str, machine: Machine) -> dict[str, str]:
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "local",
        LOCAL_NODE_LABEL: "true",
    }
    if machine.gpus:
        labels.update(
            {
                "nvidia.com/gpu.present": "true",
                "nvidia.com/gpu.product": gpu_product_label(machine.gpus[0].name),
                "nvidia.com/gpu.memory": str(min(g.memory_mib for g in machine.gpus)),
                "nvidia.com/gpu.count": str(len(machine.gpus)),
            }
        )
    return labels


def node_object(name: str, machine: Machine, net: Network) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": node_labels(name, machine)},
        "spec": {
            "podCIDR": net.local_pod_cidr,
            "podCIDRs": [net.local_pod_cidr],
            "taints": [{"key": LOCAL_NODE_LABEL, "value": "true", "effect": "NoSchedule"}],
        },
    }


def node_resources(machine: Machine) -> dict[str, str]:
    return {
        "cpu": str(machine.cpus),
        "memory": f"{machine.memory_kib}Ki",
        "pods": str(MAX_PODS),
        "nvidia.com/gpu": str(len(machine.gpus)),
    }


def node_status(
    machine: Machine,
    host_ip: str,
    name: str,
    now: str,
    ready: bool = True,
    kubelet_port: int = 0,
) -> dict[str, Any]:
    """`kubelet_port` is where the apiserver reaches the kubelet's API on `KUBELET_API_HOST`
    (0: none served)."""

    def condition(kind: str, status: bool, reason: str, message: str) -> dict[str, Any]:
        return {
            "type": kind,
            "status": "True" if status else "False",
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }

    return {
        "capacity": node_resources(machine),
        "allocatable": node_resources(machine),
        "addresses": [
            {"type": "InternalIP", "address": host_ip},
            {"type": "Hostname", "address": name},
            *([{"type": "InternalDNS", "address": KUBELET_API_HOST}] if kubelet_port else []),
        ],
        "conditions": [
            condition("Ready", ready, "LocalKubeletReady", "the local kubelet is running"),
            condition("MemoryPressure", False, "LocalRuntimeHasSufficientMemory", ""),
            condition("DiskPressure", False, "LocalRuntimeHasNoDiskPressure", ""),
            condition("PIDPressure", False, "LocalRuntimeHasSufficientPID", ""),
        ],
        "nodeInfo": {
            "architecture": "amd64",
            "operatingSystem": "linux",
            "kubeletVersion": "local-runtime",
            "kubeProxyVersion": "",
            "containerRuntimeVersion": "local-process://0.1",
            "kernelVersion": "",
            "osImage": "local",
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
        },
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
    }
