"""Serve requests that can never run, refused before a ModelServe exists (pure).

- more GPUs per replica than any node the replica may land on has (its node selector, GPU
  product and card memory), with the largest number free now in the message;
- a context beyond the model's own (its GGUF `context_length`), times the RoPE scale factor
  when the request sets one (`--rope-scale N`, or `--rope-freq-scale F`: 1/F).

These are facts of the cluster and the model, not policy: they apply to every user.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from inference_common.errors import UnprocessableError
from inference_common.gpus import GPU_RESOURCE, node_matches
from inference_common.llama_flags import RuntimeSettings, extra_flags
from inference_common.modelserve import ModelServeSpec


@dataclass(frozen=True)
class NodeGpus:
    """One schedulable node's labels, allocatable GPUs and GPUs not held by pods."""

    name: str
    labels: Mapping[str, str]
    allocatable: int
    free: int


def check_gpu_capacity(spec: ModelServeSpec, nodes: Sequence[NodeGpus]) -> None:
    count = spec.gpu.count
    if count == 0:
        return
    eligible = [
        n
        for n in nodes
        if node_matches(n.labels, spec.node_selector, spec.gpu.product, spec.gpu.min_memory_gib)
    ]
    largest = max((n.allocatable for n in eligible), default=0)
    if count <= largest:
        return
    freest = max(eligible, key=lambda n: (n.free, n.name), default=None)
    free_now = f"largest free now: {freest.free} on {freest.name}" if freest else "no eligible node"
    raise UnprocessableError(
        f"gpu.count {count} can never be scheduled: the largest eligible node has "
        f"{largest} {GPU_RESOURCE} ({free_now})",
        {
            "rule": "gpu_capacity",
            "requested": count,
            "largest_node_gpus": largest,
            "largest_free": {"node": freest.name, "gpus": freest.free} if freest else None,
        },
    )


def rope_factor(runtime: RuntimeSettings) -> float:
    """How far the request's RoPE scaling stretches the model's context (1 without)."""
    flags = extra_flags(runtime.extra_args)
    if flags.get("--rope-scaling") == "none":
        return 1.0
    scale = flags.get("--rope-scale")
    if scale is not None and float(scale) > 1:
        return float(scale)
    freq_scale = flags.get("--rope-freq-scale")
    if freq_scale is not None and 0 < float(freq_scale) < 1:
        return 1 / float(freq_scale)
    return 1.0


def check_context(runtime: RuntimeSettings, model_context_length: int | None) -> None:
    requested = runtime.context_size
    if not requested or not model_context_length:
        return  # 0 or unset: the model's own; unknown: nothing to compare with
    factor = rope_factor(runtime)
    limit = int(model_context_length * factor)
    if requested <= limit:
        return
    scaled = f" times RoPE scale {factor:g}" if factor != 1 else ""
    raise UnprocessableError(
        f"runtime_params: --ctx-size {requested} exceeds the model's context length "
        f"{model_context_length}{scaled}",
        {
            "rule": "context_length",
            "flag": "--ctx-size",
            "requested": requested,
            "model_context_length": model_context_length,
            "limit": limit,
        },
    )
