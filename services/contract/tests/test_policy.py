"""The policy decision: each rule allowed and denied, every violation reported."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inference_contract.facts import ModelFacts, Principal, ServerRequest
from inference_contract.limits import Limits, Usage
from inference_contract.policy import Account, Decision, Finding, Reason, decide, image_allowed

LIMITS = Limits(
    max_servers=3,
    max_replicas_per_server=5,
    max_gpus=8,
    max_gpus_per_replica=4,
    max_gpu_memory_gib=192,
    allowed_namespaces=("inference",),
    allowed_gpu_products=("NVIDIA-GeForce-RTX-4090",),
    allowed_images=("ghcr.io/ggml-org/llama.cpp:server", "ghcr.io/ggml-org/llama.cpp:server-*"),
    max_context_size=8192,
    max_parallel=8,
)
BASE = ServerRequest(
    namespace="inference",
    name="s",
    model_name="m",
    replicas=1,
    gpus_per_replica=1,
    gpu_product="NVIDIA-GeForce-RTX-4090",
    gpu_memory_gib_per_gpu=24,
)
USER = Principal("alice")


NO_USAGE = Usage()
MODEL = ModelFacts(context_length=4096)


def _codes(
    request: ServerRequest,
    usage: Usage = NO_USAGE,
    principal: Principal = USER,
    model: ModelFacts = MODEL,
) -> list[str]:
    decision = decide(request, principal, [Account("user", "alice", LIMITS, usage)], model)
    return [v.code.value for v in decision.violations]


@pytest.mark.parametrize(
    ("changes", "usage", "expected"),
    [
        ({}, Usage(), []),
        ({"namespace": "other"}, Usage(), [Reason.NAMESPACE_NOT_ALLOWED]),
        ({}, Usage(servers=2), []),
        ({}, Usage(servers=3), [Reason.SERVER_QUOTA]),
        ({"replicas": 0}, Usage(servers=3), []),
        ({"replicas": 5}, Usage(), []),
        ({"replicas": 6, "gpus_per_replica": 0}, Usage(), [Reason.REPLICAS_PER_SERVER]),
        ({"replicas": 2, "gpus_per_replica": 4}, Usage(), []),
        ({"replicas": 1, "gpus_per_replica": 2}, Usage(gpus=7), [Reason.GPU_QUOTA]),
        ({"gpus_per_replica": 5}, Usage(), [Reason.GPUS_PER_REPLICA]),
        ({}, Usage(gpu_memory_gib=168), []),
        ({}, Usage(gpu_memory_gib=169), [Reason.GPU_MEMORY_QUOTA]),
        ({"gpu_product": "NVIDIA-A100"}, Usage(), [Reason.GPU_PRODUCT_NOT_ALLOWED]),
        ({"gpu_product": None}, Usage(), [Reason.GPU_PRODUCT_NOT_ALLOWED]),
        ({"gpus_per_replica": 0, "gpu_product": None}, Usage(), []),
        ({"image": "ghcr.io/ggml-org/llama.cpp:server-cuda"}, Usage(), []),
        ({"image": "docker.io/evil/llama:latest"}, Usage(), [Reason.IMAGE_NOT_ALLOWED]),
        ({"context_size": 4096}, Usage(), []),
        ({"context_size": 4097}, Usage(), [Reason.CONTEXT_ABOVE_MODEL]),
        ({"parallel": 8}, Usage(), []),
        ({"parallel": 9}, Usage(), [Reason.PARALLEL_LIMIT]),
        ({"flags": ("--jinja",)}, Usage(), []),
        ({"flags": ("--mlock", "--no-mmap")}, Usage(), [Reason.ADMIN_ONLY_FLAG] * 2),
    ],
)
def test_each_rule(changes: dict[str, object], usage: Usage, expected: list[Reason]) -> None:
    assert _codes(replace(BASE, **changes), usage) == [r.value for r in expected]  # type: ignore[arg-type]


def test_context_limit_of_the_contract_applies_below_the_model() -> None:
    request = replace(BASE, context_size=9000)
    assert _codes(request, model=ModelFacts(context_length=32768)) == ["context_size_exceeded"]
    assert _codes(request, model=ModelFacts(context_length=None)) == ["context_size_exceeded"]


def test_admins_may_use_admin_only_flags() -> None:
    request = replace(BASE, flags=("--mlock", "--no-mmap"))
    assert _codes(request, principal=Principal("root", is_admin=True)) == []


def test_every_violation_is_reported_at_once() -> None:
    request = replace(
        BASE, namespace="x", replicas=6, gpus_per_replica=5, image="evil:1", flags=("--mlock",)
    )
    codes = _codes(request, Usage(servers=3))
    assert set(codes) == {
        "admin_only_flag",
        "namespace_not_allowed",
        "replicas_per_server_exceeded",
        "gpus_per_replica_exceeded",
        "image_not_allowed",
        "server_quota_exceeded",
        "gpu_quota_exceeded",
        "gpu_memory_quota_exceeded",
    }


def test_user_and_namespace_both_apply() -> None:
    namespace = Account("namespace", "inference", Limits(max_gpus=2), Usage(gpus=2))
    user = Account("user", "alice", LIMITS, Usage())
    decision = decide(BASE, USER, [user, namespace])
    assert [(v.code, v.scope) for v in decision.violations] == [(Reason.GPU_QUOTA, "namespace")]
    assert decision.status_code == 409
    assert "namespace 'inference'" in decision.message


@pytest.mark.parametrize(
    ("usage", "warned"),
    [
        (Usage(servers=1), False),  # 2 of 3 servers after this one
        (Usage(servers=2), True),  # 3 of 3
        (Usage(gpus=6), False),  # 7 of 8 GPUs: 87.5 %
        (Usage(gpus=7), True),  # 8 of 8
    ],
)
def test_near_quota_warnings(usage: Usage, warned: bool) -> None:
    decision = decide(BASE, USER, [Account("user", "alice", LIMITS, usage)], near_ratio=0.9)
    assert decision.allowed
    assert (Reason.NEAR_QUOTA in {w.code for w in decision.warnings}) is warned


def test_no_limit_means_no_check() -> None:
    request = replace(BASE, replicas=60, gpus_per_replica=16, image="any:1", parallel=256)
    decision = decide(request, USER, [Account("user", "u", Limits(), Usage(servers=999))])
    assert decision.allowed
    assert decision.status_code == 200


@pytest.mark.parametrize(
    ("codes", "status"),
    [
        ([Reason.CONTEXT_SIZE_LIMIT], 422),
        ([Reason.CONTEXT_SIZE_LIMIT, Reason.GPU_QUOTA], 409),
        ([Reason.GPU_QUOTA, Reason.IMAGE_NOT_ALLOWED], 403),
    ],
)
def test_status_code_prefers_forbidden_then_conflict(codes: list[Reason], status: int) -> None:
    decision = Decision(tuple(Finding(c, "m", "user") for c in codes))
    assert decision.status_code == status
    assert not decision.allowed


@pytest.mark.parametrize(
    ("image", "patterns", "allowed"),
    [
        (None, ("a",), True),
        ("a", None, True),
        ("a", ("a",), True),
        ("ab", ("a",), False),
        ("ghcr.io/ggml-org/llama.cpp:server-b6000", ("ghcr.io/ggml-org/llama.cpp:server-*",), True),
        ("ghcr.io/ggml-org/llama.cpp:serverx", ("ghcr.io/ggml-org/llama.cpp:server-*",), False),
        ("x", (), False),
    ],
)
def test_image_allowed(image: str | None, patterns: tuple[str, ...] | None, allowed: bool) -> None:
    assert image_allowed(image, patterns) is allowed
