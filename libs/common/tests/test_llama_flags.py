"""Table tests of the llama.cpp flag grammar: parsing a user's flags, splits and server argv."""

from __future__ import annotations

from typing import Any

import pytest

from inference_common.llama_flags import (
    FlashAttention,
    KvCacheType,
    RuntimeFlagError,
    RuntimeSettings,
    TensorSplitMode,
    parse_runtime_params,
    resolve_tensor_split,
    runtime_args,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("--ctx-size 2048", {"context_size": 2048}),
        ("-c 512 -ngl 99", {"context_size": 512, "gpu_layers": 99}),
        ("--ctx-size=4096", {"context_size": 4096}),
        ("--n-gpu-layers 0", {"gpu_layers": 0}),
        (
            "-ts 3,1",
            {"tensor_split": [3.0, 1.0], "tensor_split_mode": TensorSplitMode.RATIOS},
        ),
        ("--parallel 4 -b 512 -ub 256", {"parallel": 4, "batch_size": 512, "ubatch_size": 256}),
        ("-fa", {"flash_attention": FlashAttention.ON}),
        ("--flash-attn off", {"flash_attention": FlashAttention.OFF}),
        ("-fa auto -c 8", {"flash_attention": FlashAttention.AUTO, "context_size": 8}),
        ("-ctk q8_0 -ctv q8_0 -fa on", {"kv_cache_type": KvCacheType.Q8_0}),
        ("--cache-type-k f16", {"kv_cache_type": KvCacheType.F16}),
        ("--temp 0.7 -t 4", {"extra_args": ["--temp", "0.7", "--threads", "4"]}),
        ("--jinja --no-mmap", {"extra_args": ["--jinja", "--no-mmap"]}),
        ("--chat-template chatml", {"extra_args": ["--chat-template", "chatml"]}),
    ],
)
def test_parse_runtime_params_accepts(text: str, expected: dict[str, Any]) -> None:
    settings = parse_runtime_params(text)
    for field, value in expected.items():
        assert getattr(settings, field) == value, field


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("--host 0.0.0.0", "--host"),
        ("--port 1", "--port"),
        ("-m /etc/passwd", "-m"),
        ("--model x.gguf", "--model"),
        ("--api-key k", "--api-key"),
        ("--path /", "--path"),
        ("--lora /x", "--lora"),
        ("--slot-save-path /tmp", "--slot-save-path"),
        ("--ctx-size", "--ctx-size"),
        ("--ctx-size abc", "--ctx-size"),
        ("--ctx-size -1", "--ctx-size"),
        ("--parallel 0", "--parallel"),
        ("-c 1 --ctx-size 2", "--ctx-size"),
        ("--temp hot", "--temp"),
        ("--temp 99", "--temp"),
        ("--threads", "--threads"),
        ("--split-mode diagonal", "--split-mode"),
        ("--chat-template '{{ evil }}'", "--chat-template"),
        ("-ctk q8_0 -ctv q4_0", "-ctv"),
        ("-ctk nope", "-ctk"),
        ("-ts a,b", "-ts"),
        ("stray", "stray"),
        ("--ctx-size '2048", "runtime_params"),
        ("-ctk q8_0 -fa off", "runtime_params"),
    ],
)
def test_parse_runtime_params_refuses_naming_the_flag(text: str, flag: str) -> None:
    with pytest.raises(RuntimeFlagError) as info:
        parse_runtime_params(text)
    assert info.value.flag == flag
    assert str(info.value).startswith(f"{flag}:")
    assert isinstance(info.value, ValueError)


def test_parse_runtime_params_refuses_huge_input() -> None:
    with pytest.raises(RuntimeFlagError):
        parse_runtime_params("--jinja " * 1000)


@pytest.mark.parametrize(
    ("runtime", "gpus", "memory", "expected"),
    [
        ({}, 0, None, None),
        ({}, 1, None, None),
        ({}, 2, None, [1.0, 1.0]),
        ({}, 4, None, [1.0, 1.0, 1.0, 1.0]),
        ({"tensorSplitMode": "Ratios", "tensorSplit": [3, 1]}, 2, None, [3.0, 1.0]),
        ({"tensorSplitMode": "Memory"}, 2, None, None),
        ({"tensorSplitMode": "Memory"}, 2, [24564, 12282], [0.6667, 0.3333]),
        ({"tensorSplitMode": "Memory"}, 1, [24564], None),
    ],
)
def test_resolve_tensor_split(
    runtime: dict[str, Any], gpus: int, memory: list[int] | None, expected: list[float] | None
) -> None:
    settings = RuntimeSettings.model_validate(runtime)
    assert resolve_tensor_split(settings, gpus, memory) == expected


def test_memory_split_needs_one_size_per_gpu() -> None:
    settings = RuntimeSettings(tensor_split_mode=TensorSplitMode.MEMORY)
    with pytest.raises(ValueError, match="2 positive sizes"):
        resolve_tensor_split(settings, 2, [24564])


@pytest.mark.parametrize(
    ("runtime", "gpus", "expected"),
    [
        ({}, 0, ["--n-gpu-layers", "0"]),
        ({}, 1, ["--n-gpu-layers", "999"]),
        ({}, 2, ["--n-gpu-layers", "999", "--tensor-split", "1,1"]),
        (
            {"contextSize": 2048, "gpuLayers": 20, "parallel": 4},
            1,
            ["--ctx-size", "2048", "--n-gpu-layers", "20", "--parallel", "4"],
        ),
        (
            {"tensorSplitMode": "Ratios", "tensorSplit": [0.75, 0.25]},
            2,
            ["--n-gpu-layers", "999", "--tensor-split", "0.75,0.25"],
        ),
        (
            {"flashAttention": "on", "kvCacheType": "q8_0", "batchSize": 1024, "ubatchSize": 256},
            1,
            [
                "--n-gpu-layers",
                "999",
                "--batch-size",
                "1024",
                "--ubatch-size",
                "256",
                "--flash-attn",
                "on",
                "--cache-type-k",
                "q8_0",
                "--cache-type-v",
                "q8_0",
            ],
        ),
        (
            {"extraArgs": ["-t", "2", "--jinja"]},
            0,
            ["--n-gpu-layers", "0", "--threads", "2", "--jinja"],
        ),
    ],
)
def test_runtime_args(runtime: dict[str, Any], gpus: int, expected: list[str]) -> None:
    assert runtime_args(RuntimeSettings.model_validate(runtime), gpus) == expected
