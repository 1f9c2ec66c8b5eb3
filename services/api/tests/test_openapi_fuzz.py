"""Property-based fuzzing of the OpenAPI description (schemathesis) against the running
service: no input may produce a 5xx."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from kubernetes import client
from schemathesis.checks import not_a_server_error

from inference_api.settings import ApiSettings
from inference_testkit.namespaces import temporary_namespace

from .conftest import ADMIN
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
    api_settings = ApiSettings(
        database_url=database_url,
        s3_endpoint=stack_env["S3_ENDPOINT"],
        s3_access_key=stack_env["S3_ACCESS_KEY"],
        s3_secret_key=stack_env["S3_SECRET_KEY"],  # type: ignore[arg-type]
        models_bucket=models_bucket,
        kubeconfig=stack_env["KUBECONFIG"],
        jwt_secret=secrets.token_urlsafe(48),  # type: ignore[arg-type]
        # the stack's operator routes at the API's server uuids only with the stack's key
        server_uuid_key=stack_env.get("SERVER_UUID_KEY") or secrets.token_urlsafe(48),  # type: ignore[arg-type]
        admin_username=ADMIN,
        admin_password=password,  # type: ignore[arg-type]
        run_migrations=False,
        servers_namespace=fuzz_namespace,
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
    """Every operation, fuzzed with a small, fixed number of generated requests (schemathesis
    strategies driven by hypothesis directly: its pytest plugin does not support pytest 9)."""
    url, auth = fuzz_target
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=url, headers=auth, checks=[not_a_server_error], timeout=30
            )

        try:
            fuzz()
        except Exception as exc:  # collected so that every operation is reported
            failures[operation.label] = str(exc)[:2000]
    assert operations >= 14
    assert failures == {}
    # The fuzzing really reached the service, authenticated (some 2xx, not only 401s).
    metrics = httpx.get(f"{url}/metrics", timeout=10).text
    counts = _request_counts(metrics)
    assert sum(counts.values()) >= operations * 5, counts
    assert sum(n for status, n in counts.items() if status.startswith("2")) >= operations, counts
    assert not any(status.startswith("5") for status in counts), counts


def _request_counts(metrics: str) -> dict[str, float]:
    counts: dict[str, float] = {}
    for line in metrics.splitlines():
        if line.startswith("http_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            status = labels.split('status="', 1)[1].split('"', 1)[0]
            counts[status] = counts.get(status, 0) + float(value)
    return counts
