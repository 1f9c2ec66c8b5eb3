"""The node runtime's /metrics: nvidia-smi's answer parsed, DCGM-named series rendered with
the pod holding each card; no card, no GPU series."""

from __future__ import annotations

import pytest

from inference_localstack.node.metrics import GpuSample, Holder, parse_gpu_query, render


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("", []),
        (
            "0, GPU-aaa, 37, 1024, 23000, 61, 123.45\n",
            [GpuSample(0, "GPU-aaa", 37.0, 1024.0, 23000.0, 61.0, 123.45)],
        ),
        (
            "1, GPU-bbb, [N/A], 10, 20, 50, [Not Supported]\nNo devices were found\n",
            [GpuSample(1, "GPU-bbb", None, 10.0, 20.0, 50.0, None)],
        ),
    ],
    ids=["no-gpu", "one-card", "unsupported-fields"],
)
def test_nvidia_smi_query_is_parsed(output: str, expected: list[GpuSample]) -> None:
    assert parse_gpu_query(output) == expected


def test_no_card_means_no_gpu_series() -> None:
    text = render("local-node", 2, [], {})
    assert 'local_kubelet_pods_running{node="local-node"} 2' in text
    assert 'local_kubelet_gpus{node="local-node"} 0' in text
    assert "DCGM_" not in text


def test_cards_carry_dcgm_names_and_their_holder() -> None:
    gpus = [
        GpuSample(0, "GPU-aaa", 37.0, 1024.0, 23000.0, 61.0, 123.45),
        GpuSample(1, "GPU-bbb", None, 10.0, 20.0, 50.0, None),
    ]
    text = render("n1", 1, gpus, {0: Holder("inference", "chat-0", "u-1")})
    assert (
        'DCGM_FI_DEV_GPU_TEMP{gpu="0",UUID="GPU-aaa",Hostname="n1",namespace="inference",'
        'pod="chat-0",server_uuid="u-1"} 61'
    ) in text
    assert 'DCGM_FI_DEV_FB_FREE{gpu="1",UUID="GPU-bbb",Hostname="n1"} 20' in text
    assert 'DCGM_FI_DEV_GPU_UTIL{gpu="1"' not in text  # N/A is left out, not zero
    assert "# TYPE DCGM_FI_DEV_POWER_USAGE gauge" in text
