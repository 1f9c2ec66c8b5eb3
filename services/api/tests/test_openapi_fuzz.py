"""Property-based fuzzing of the OpenAPI description (schemathesis) against the running
service: no input may produce a 5xx."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest
from kubernetes import client

from inference_testkit.fuzz import fuzz_operations, request_counts
from inference_testkit.namespaces import temporary_namespace

from .conftest import ADMIN, settings_for
from .process import api_process, contract_server

EXAMPLES_PER_OPERATION = 15


@pytest.fixture(scope="module")
def fuzz_namespace(kube_api: client.ApiClient) -> Iterator[str]:
    with temporary_namespace(kube_api) as name:
        yield name


@pytest.fixture(scope="module")
def fuzz_target(
    stack_env: dict[str, str],
    database_url: str,
    models_bucket: str,
    fuzz_namespace: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, dict[str, str]]]:
    password = secrets.token_urlsafe(18)
    api_settings = settings_for(
        stack_env,
        database_url,
        models_bucket,
        fuzz_namespace,
        admin_password=password,
        login_max_failures=1_000_000,
        login_max_attempts_per_address=1_000_000,
    )
    logs = tmp_path_factory.mktemp("fuzz")
    with contract_server(api_settings, logs / "contract.log") as contract_url:
        api_settings = api_settings.model_copy(update={"contract_url": contract_url})
        with api_process(api_settings, logs / "api.log") as url:
            token = httpx.post(
                f"{url}/auth/token", json={"username": ADMIN, "password": password}, timeout=10
            ).json()["access_token"]
            yield url, {"Authorization": f"Bearer {token}"}


def test_no_input_causes_a_server_error(fuzz_target: tuple[str, dict[str, str]]) -> None:
    """Every operation, fuzzed with a small, fixed number of generated requests."""
    url, auth = fuzz_target
    result = fuzz_operations(url, auth, examples=EXAMPLES_PER_OPERATION)
    assert result.operations >= 14
    assert result.failures == {}
    # The fuzzing really reached the service, authenticated (some 2xx, not only 401s).
    counts = request_counts(url)
    assert sum(counts.values()) >= result.operations * 5, counts
    assert sum(n for status, n in counts.items() if status.startswith("2")) >= result.operations, (
        counts
    )
    assert not any(status.startswith("5") for status in counts), counts
