"""Table tests: serve requests that can never run (GPU capacity, context length)."""

from __future__ import annotations

from typing import Any

import pytest

from inference_api.feasibility import NodeGpus, check_context, check_gpu_capacity, rope_factor
from inference_api.node_gpus import node_gpus
from inference_common.errors import UnprocessableError
from inference_common.llama_flags import parse_runtime_params
from inference_common.modelserve import ModelServeSpec

RTX = {"nvidia.com/gpu.product": "NVIDIA-GeForce-RTX-4090", "nvidia.com/gpu.memory": "24564"}
NODES = (
    NodeGpus("kwok-0", RTX, allocatable=4, free=1),
    NodeGpus("kwok-1", RTX, allocatable=4, free=3),
    NodeGpus("local-node", {"inference-service.dev/local-node": "true"}, allocatable=0, free=0),
)


def spec(gpu: dict[str, Any], node_selector: dict[str, str] | None = None) -> ModelServeSpec:
    return ModelServeSpec.model_validate(
        {
            "model": {"name": "m", "source": {"pvc": {"claimName": "c", "path": "m.gguf"}}},
            "gpu": gpu,
            "nodeSelector": node_selector,
        }
    )


@pytest.mark.parametrize(
    ("gpu", "selector", "message"),
    [
        ({"count": 0}, None, None),
        ({"count": 4}, None, None),
        ({"count": 4, "product": "NVIDIA-GeForce-RTX-4090"}, None, None),
        ({"count": 2, "minMemoryGiB": 24}, None, None),
        (
            {"count": 16},
            None,
            "gpu.count 16 can never be scheduled: the largest eligible node has 4 "
            "nvidia.com/gpu (largest free now: 3 on kwok-1)",
        ),
        ({"count": 5}, None, "the largest eligible node has 4"),
        (
            {"count": 1, "product": "NVIDIA-A100"},
            None,
            "the largest eligible node has 0 nvidia.com/gpu (no eligible node)",
        ),
        ({"count": 1, "minMemoryGiB": 48}, None, "(no eligible node)"),
        (
            {"count": 1},
            {"inference-service.dev/local-node": "true"},
            "largest eligible node has 0 nvidia.com/gpu (largest free now: 0 on local-node)",
        ),
    ],
)
def test_gpu_capacity(
    gpu: dict[str, Any], selector: dict[str, str] | None, message: str | None
) -> None:
    if message is None:
        check_gpu_capacity(spec(gpu, selector), NODES)
        return
    with pytest.raises(UnprocessableError) as caught:
        check_gpu_capacity(spec(gpu, selector), NODES)
    assert message in caught.value.message
    assert caught.value.detail["rule"] == "gpu_capacity"
    assert caught.value.detail["requested"] == gpu["count"]


def test_gpu_capacity_details_the_largest_free() -> None:
    with pytest.raises(UnprocessableError) as caught:
        check_gpu_capacity(spec({"count": 16}), NODES)
    assert caught.value.detail == {
        "rule": "gpu_capacity",
        "requested": 16,
        "largest_node_gpus": 4,
        "largest_free": {"node": "kwok-1", "gpus": 3},
    }


@pytest.mark.parametrize(
    ("text", "factor"),
    [
        ("", 1.0),
        ("--rope-scale 4", 4.0),
        ("--rope-scaling yarn --rope-scale 4", 4.0),
        ("--rope-scaling none --rope-scale 4", 1.0),
        ("--rope-freq-scale 0.25", 4.0),
        ("--rope-scale 0.5", 1.0),
        ("--temp 0.7 --rope-scale 2", 2.0),
    ],
)
def test_rope_factor(text: str, factor: float) -> None:
    assert rope_factor(parse_runtime_params(text)) == factor


@pytest.mark.parametrize(
    ("text", "model_context", "message"),
    [
        ("", 8192, None),
        ("--ctx-size 0", 8192, None),
        ("--ctx-size 8192", 8192, None),
        ("--ctx-size 4194304", None, None),
        (
            "--ctx-size 4194304",
            8192,
            "runtime_params: --ctx-size 4194304 exceeds the model's context length 8192",
        ),
        ("-c 8193", 8192, "exceeds the model's context length 8192"),
        ("-c 32768 --rope-scaling yarn --rope-scale 4", 8192, None),
        (
            "-c 32769 --rope-scaling yarn --rope-scale 4",
            8192,
            "exceeds the model's context length 8192 times RoPE scale 4",
        ),
    ],
)
def test_context(text: str, model_context: int | None, message: str | None) -> None:
    runtime = parse_runtime_params(text)
    if message is None:
        check_context(runtime, model_context)
        return
    with pytest.raises(UnprocessableError) as caught:
        check_context(runtime, model_context)
    assert message in caught.value.message
    assert caught.value.detail["rule"] == "context_length"
    assert caught.value.detail["flag"] == "--ctx-size"


def k8s_node(name: str, gpus: int, unschedulable: bool = False) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"zone": name}},
        "spec": {"unschedulable": unschedulable},
        "status": {"allocatable": {"nvidia.com/gpu": str(gpus)}},
    }


def k8s_pod(node: str, gpus: int) -> dict[str, Any]:
    resources = {"limits": {"nvidia.com/gpu": str(gpus)}}
    return {
        "spec": {"nodeName": node, "containers": [{"resources": resources}]},
        "status": {"phase": "Running"},
    }


def test_node_gpus_from_objects() -> None:
    nodes = [k8s_node("a", 4), k8s_node("b", 2), k8s_node("c", 8, unschedulable=True)]
    assert node_gpus(nodes, [k8s_pod("a", 3), k8s_pod("c", 1)]) == [
        NodeGpus("a", {"zone": "a"}, allocatable=4, free=1),
        NodeGpus("b", {"zone": "b"}, allocatable=2, free=2),
    ]
