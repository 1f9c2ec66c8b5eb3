"""Property-based fuzzing of the gateway's OpenAPI description (schemathesis) against the
`inference-gateway` console entry point running as a process: no input yields a 5xx other
than the documented 503 + Retry-After for a model without a ready replica. (The model here
has no ready replica so random max_tokens never start long generations on 2 cores; the
generation paths are covered by the end-to-end tests.)"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from inference_common.auth import TokenSigner
from inference_testkit.fuzz import fuzz_operations
from inference_testkit.namespaces import temporary_namespace
from inference_testkit.servers import free_port, http_process

from .conftest import JWT_SECRET, MODEL, Cluster, create_user


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
        port = free_port()
        log = tmp_path_factory.mktemp("fuzz") / "gateway.log"
        env = {
            **os.environ,
            "DEV_MODE": "true",
            "DATABASE_URL": database_url,
            "KUBECONFIG": stack_env["KUBECONFIG"],
            "JWT_SECRET": JWT_SECRET,
            "GATEWAY_PORT": str(port),
            "GATEWAY_WATCH_NAMESPACE": namespace,
            "GATEWAY_UPSTREAM_CIDRS": "10.244.0.0/24",
        }
        entry = str(Path(sys.executable).parent / "inference-gateway")
        url = f"http://127.0.0.1:{port}"
        with http_process([entry], env, url + "/healthz", log=log):
            user_id = asyncio.run(create_user(database_url))  # tokens need a real, active user
            token = TokenSigner(JWT_SECRET).issue(str(user_id), "f", "user")
            yield url, {"Authorization": f"Bearer {token}"}


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
