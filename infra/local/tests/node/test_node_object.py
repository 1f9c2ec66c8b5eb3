"""The local node's object and what it reads of the machine."""

from __future__ import annotations

import pytest

from inference_localstack.config import Network
from inference_localstack.node.machine import Gpu, Machine, gpu_product_label, parse_nvidia_smi
from inference_localstack.node.node_object import LOCAL_NODE_LABEL, node_object, node_status

SMI = "0, NVIDIA GeForce RTX 4090, 24564\n1, NVIDIA GeForce RTX 3090, 24576\n"


def test_parse_nvidia_smi() -> None:
    assert parse_nvidia_smi(SMI) == (
        Gpu(0, "NVIDIA GeForce RTX 4090", 24564),
        Gpu(1, "NVIDIA GeForce RTX 3090", 24576),
    )
    assert parse_nvidia_smi("") == ()
    assert gpu_product_label("NVIDIA GeForce RTX 4090") == "NVIDIA-GeForce-RTX-4090"


def test_cpu_only_node_is_tainted_and_offers_no_gpu() -> None:
    machine = Machine(cpus=2, memory_kib=24 * 1024 * 1024, gpus=())
    node = node_object("local-node", machine, Network())
    assert node["spec"]["taints"] == [
        {"key": LOCAL_NODE_LABEL, "value": "true", "effect": "NoSchedule"}
    ]
    assert node["metadata"]["labels"][LOCAL_NODE_LABEL] == "true"
    assert "nvidia.com/gpu.product" not in node["metadata"]["labels"]
    assert node["spec"]["podCIDR"] == "10.244.0.0/24"
    status = node_status(machine, "10.250.0.1", "local-node", "now")
    assert status["capacity"] == {
        "cpu": "2",
        "memory": "25165824Ki",
        "pods": "100",
        "nvidia.com/gpu": "0",
    }
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"


def test_gpu_node_reports_cards_like_feature_discovery() -> None:
    machine = Machine(cpus=16, memory_kib=1, gpus=parse_nvidia_smi(SMI))
    labels = node_object("n", machine, Network())["metadata"]["labels"]
    assert labels["nvidia.com/gpu.product"] == "NVIDIA-GeForce-RTX-4090"
    assert labels["nvidia.com/gpu.count"] == "2"
    assert labels["nvidia.com/gpu.memory"] == "24564"
    assert node_status(machine, "ip", "n", "now")["allocatable"]["nvidia.com/gpu"] == "2"


@pytest.mark.parametrize(("port", "advertised"), [(0, 0), (10250, 10250)])
def test_node_advertises_the_kubelet_port_the_apiserver_dials(port: int, advertised: int) -> None:
    machine = Machine(cpus=1, memory_kib=1024, gpus=())
    status = node_status(machine, "10.250.0.1", "n", "now", kubelet_port=port)
    assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == advertised
    assert {"type": "InternalIP", "address": "10.250.0.1"} in status["addresses"]
    internal_dns = [a["address"] for a in status["addresses"] if a["type"] == "InternalDNS"]
    assert internal_dns == (["localhost"] if port else [])
