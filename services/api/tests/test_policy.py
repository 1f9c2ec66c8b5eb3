from __future__ import annotations

import pytest

from inference_api.policy import DefaultServePolicy, ServeRequestFacts
from inference_common.errors import AppError, ForbiddenError, UnprocessableError
from inference_common.llama_flags import parse_runtime_params
from inference_common.modelserve import GpuSpec


def facts(
    namespace: str = "inference", replicas: int = 1, role: str = "user", runtime: str = ""
) -> ServeRequestFacts:
    return ServeRequestFacts(
        "u", role, namespace, "m", replicas, GpuSpec(), parse_runtime_params(runtime)
    )


@pytest.mark.parametrize(
    ("request_facts", "error"),
    [
        (facts(), None),
        (facts(replicas=5), None),
        (facts(replicas=6), UnprocessableError),
        (facts(namespace="kube-system"), ForbiddenError),
    ],
)
async def test_default_policy(
    request_facts: ServeRequestFacts, error: type[AppError] | None
) -> None:
    policy = DefaultServePolicy(max_replicas=5, allowed_namespaces={"inference"})
    if error is None:
        await policy.check(request_facts)
    else:
        with pytest.raises(error):
            await policy.check(request_facts)


@pytest.mark.parametrize(
    ("role", "runtime", "rule"),
    [
        ("user", "--mlock", "admin_only_flag"),
        ("user", "--ctx-size 2048 --no-mmap", "admin_only_flag"),
        ("user", "--parallel 65", "max_parallel"),
        ("user", "-np 256", "max_parallel"),
        ("user", "--parallel 64 --temp 0.5", None),
        ("admin", "--mlock --no-mmap --parallel 256", None),
    ],
)
async def test_runtime_rules_for_users(role: str, runtime: str, rule: str | None) -> None:
    policy = DefaultServePolicy(max_replicas=5, allowed_namespaces={"inference"})
    request_facts = facts(role=role, runtime=runtime)
    if rule is None:
        await policy.check(request_facts)
        return
    with pytest.raises(ForbiddenError) as caught:
        await policy.check(request_facts)
    assert caught.value.detail["rule"] == rule
    assert caught.value.message.startswith(f"runtime_params: {caught.value.detail['flag']} ")
