from __future__ import annotations

import pytest

from inference_api.policy import DefaultServePolicy, ServeRequestFacts
from inference_common.errors import AppError, ForbiddenError, UnprocessableError
from inference_common.modelserve import GpuSpec


def facts(namespace: str = "inference", replicas: int = 1) -> ServeRequestFacts:
    return ServeRequestFacts("u", "user", namespace, "m", replicas, GpuSpec())


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
