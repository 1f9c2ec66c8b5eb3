"""Property-based fuzzing of the gateway's OpenAPI description (schemathesis) against the
`inference-gateway` console entry point running as a process: no input yields a 5xx other
than the documented 503 + Retry-After for a model without a ready replica. (The model here
has no ready replica so random max_tokens never start long generations on 2 cores; the
generation paths are covered by the end-to-end tests.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from inference_testkit.fuzz import fuzz_operations
from inference_testkit.namespaces import temporary_namespace

from .conftest import MODEL, Cluster, gateway_entry_point


@pytest.fixture(scope="module")
def fuzz_target(
    stack_env: dict[str, str],
    kube_api: client.ApiClient,
    database_url: str,
    crd: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, dict[str, str]]]:
    with temporary_namespace(kube_api) as namespace:
        Cluster(kube_api, namespace).serve("fuzz", MODEL, ["10.244.0.250"], ready=False)
        log = tmp_path_factory.mktemp("fuzz") / "gateway.log"
        with gateway_entry_point(
            stack_env,
            database_url,
            namespace,
            log,
            GATEWAY_UPSTREAM_CIDRS="10.244.0.0/24",
        ) as gateway:
            yield gateway.url, {"Authorization": f"Bearer {gateway.token}"}


def check_response(response: Any, case: Any) -> None:
    """No 5xx, except the documented 503 + Retry-After (model without a ready replica)."""
    status = response.status_code
    if status == 503:
        assert response.headers.get("retry-after"), "503 without Retry-After"
        return
    assert status < 500, f"{case.method} {case.path} -> {status}: {response.text[:300]}"


def test_no_input_causes_a_server_error(fuzz_target: tuple[str, dict[str, str]]) -> None:
    url, auth = fuzz_target

    def run_case(case: Any) -> None:
        check_response(case.call(base_url=url, headers=auth, timeout=30), case)

    result = fuzz_operations(url, auth, examples=10, run_case=run_case)
    assert result.operations >= 14
    assert result.failures == {}
