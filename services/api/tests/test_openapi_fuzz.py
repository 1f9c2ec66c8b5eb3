"""Property-based fuzzing of the OpenAPI description (schemathesis) against the running
service: no input may produce a 5xx."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from kubernetes import client
from schemathesis.checks import not_a_server_error

from inference_api.settings import ApiSettings

from .conftest import ADMIN
from .process import api_process


@pytest.fixture(scope="module")
def fuzz_namespace(kube_api: client.ApiClient) -> Iterator[str]:
    name = f"t-{secrets.token_hex(4)}"
    core = client.CoreV1Api(kube_api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name, propagation_policy="Background")


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
        admin_username=ADMIN,
        admin_password=password,  # type: ignore[arg-type]
        run_migrations=False,
        servers_namespace=fuzz_namespace,
        allowed_namespaces=[fuzz_namespace],
        login_max_failures=1_000_000,
        login_max_attempts_per_address=1_000_000,
    )
    log = tmp_path_factory.mktemp("fuzz") / "api.log"
    with api_process(api_settings, log) as url:
        token = httpx.post(
            f"{url}/auth/token", json={"username": ADMIN, "password": password}, timeout=10
        ).json()["access_token"]
        yield url, {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def api_schema(fuzz_target: tuple[str, dict[str, str]]) -> schemathesis.BaseSchema:
    url, _ = fuzz_target
    return schemathesis.openapi.from_url(f"{url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_input_causes_a_server_error(
    case: schemathesis.Case, fuzz_target: tuple[str, dict[str, str]]
) -> None:
    url, auth = fuzz_target
    case.call_and_validate(base_url=url, headers=auth, checks=[not_a_server_error], timeout=30)
