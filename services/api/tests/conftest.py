"""Fixtures for the API's tests: the app driven in-process over ASGI, against the stack's
real Postgres (a database of this session's own), MinIO (a bucket of this session's own)
and apiserver."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from kubernetes import client
from minio import Minio
from minio.deleteobjects import DeleteObject

from inference_api.app import create_app
from inference_api.policy import ContractServePolicy
from inference_api.settings import ApiSettings
from inference_api.state import AppState
from inference_common.auth import TokenSigner
from inference_contract.app import create_app as create_contract_app
from inference_contract.settings import ContractSettings
from inference_testkit.namespaces import temporary_namespace

ADMIN = "admin"


@pytest.fixture
def quiet_namespace(kube_api: client.ApiClient) -> Iterator[str]:
    """A namespace the stack's own operator leaves alone (`opt-*`), for tests that write
    ModelServe status themselves."""
    with temporary_namespace(kube_api, "opt-api") as name:
        yield name


@pytest.fixture(scope="session")
def models_bucket(s3: Minio) -> Iterator[str]:
    bucket = f"test-models-{secrets.token_hex(4)}"
    s3.make_bucket(bucket)
    yield bucket
    objects = [DeleteObject(o.object_name) for o in s3.list_objects(bucket, recursive=True)]
    for error in s3.remove_objects(bucket, objects):
        print("could not remove", error)
    s3.remove_bucket(bucket)


def settings_for(
    stack_env: dict[str, str],
    database_url: str,
    models_bucket: str,
    namespace: str,
    **overrides: Any,
) -> ApiSettings:
    """The API on the stack: this session's database and bucket, ModelServes in `namespace`,
    fresh secrets (`overrides`: any other setting)."""
    values: dict[str, Any] = {
        "dev_mode": False,
        "database_url": database_url,
        "s3_endpoint": stack_env["S3_ENDPOINT"],
        "s3_access_key": stack_env["S3_ACCESS_KEY"],
        "s3_secret_key": stack_env["S3_SECRET_KEY"],
        "models_bucket": models_bucket,
        "kubeconfig": stack_env["KUBECONFIG"],
        "jwt_secret": secrets.token_urlsafe(48),
        # the stack's operator routes at the API's server uuids only with the stack's key
        "server_uuid_key": stack_env.get("SERVER_UUID_KEY") or secrets.token_urlsafe(48),
        "admin_username": ADMIN,
        "admin_password": secrets.token_urlsafe(18),
        "run_migrations": False,  # the testkit migrated the database already
        "servers_namespace": namespace,
    }
    return ApiSettings(**(values | overrides))


@pytest.fixture
def api_settings(
    stack_env: dict[str, str], database_url: str, models_bucket: str, namespace: str
) -> ApiSettings:
    return settings_for(stack_env, database_url, models_bucket, namespace)


def contract_settings_for(api_settings: ApiSettings, **overrides: Any) -> ContractSettings:
    """The contract service the API's tests decide with: the API's database and JWT secret,
    the test's namespace allowed, no aggregate quotas unless a test sets them (the session's
    admin serves in many tests); every other rule at its default."""
    values: dict[str, Any] = {
        "dev_mode": False,
        "database_url": api_settings.database_url,
        "kubeconfig": api_settings.kubeconfig,
        "jwt_secret": api_settings.jwt_secret,
        "run_migrations": False,
        "watch_modelserves": False,
        "webhook_port": None,
        "allowed_namespaces": [api_settings.servers_namespace],
        "max_servers": None,
        "max_gpus": None,
        **overrides,
    }
    return ContractSettings(**values)


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    settings: ApiSettings
    contract: httpx.AsyncClient
    """The contract service this API decides with (in-process, same database and secret)."""

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.services
        return state

    async def token(self, username: str, password: str) -> str:
        response = await self.client.post(
            "/auth/token", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def auth(self, username: str, password: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(username, password)}"}

    async def admin(self) -> dict[str, str]:
        assert self.settings.admin_password is not None
        return await self.auth(ADMIN, self.settings.admin_password.get_secret_value())

    async def post_model(
        self, headers: dict[str, str], name: str, content: bytes
    ) -> httpx.Response:
        """POST /models with a GGUF file as the body (how the UI and curl upload one)."""
        return await self.client.post(
            "/models",
            params={"name": name},
            content=content,
            headers={**headers, "content-type": "application/octet-stream"},
        )

    async def new_user(self, role: str = "user") -> tuple[str, dict[str, str]]:
        username = f"user-{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(16)
        response = await self.client.post(
            "/users",
            json={"username": username, "password": password, "role": role},
            headers=await self.admin(),
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"]), await self.auth(username, password)


ApiFactory = Callable[..., AbstractAsyncContextManager[Api]]


@pytest.fixture
def api_factory(api_settings: ApiSettings) -> ApiFactory:
    @asynccontextmanager
    async def make(
        client_host: str = "127.0.0.1",
        contract: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> AsyncIterator[Api]:
        """`contract`: settings of the contract service (global defaults) to override."""
        settings = api_settings.model_copy(update=overrides)
        contract_app = create_contract_app(contract_settings_for(settings, **(contract or {})))
        async with (
            contract_app.router.lifespan_context(contract_app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=contract_app),
                base_url="http://contract.test",
                timeout=60,
            ) as contract_http,
        ):
            signer = TokenSigner(
                settings.jwt_secret.get_secret_value(),
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
            )
            app = create_app(settings, ContractServePolicy(contract_http, signer))
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://api.test", timeout=60
                ) as client:
                    yield Api(app, client, settings, contract_http)

    return make


@pytest.fixture
async def api(api_factory: ApiFactory) -> AsyncIterator[Api]:
    async with api_factory() as made:
        yield made
