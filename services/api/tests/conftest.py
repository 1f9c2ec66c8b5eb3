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
from inference_api.settings import ApiSettings
from inference_api.state import AppState
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


@pytest.fixture
def api_settings(
    stack_env: dict[str, str], database_url: str, models_bucket: str, namespace: str
) -> ApiSettings:
    return ApiSettings(
        dev_mode=False,
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
        admin_password=secrets.token_urlsafe(18),  # type: ignore[arg-type]
        run_migrations=False,  # the testkit migrated the database already
        servers_namespace=namespace,
        allowed_namespaces=[namespace],
    )


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    settings: ApiSettings

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
    async def make(client_host: str = "127.0.0.1", **overrides: Any) -> AsyncIterator[Api]:
        settings = api_settings.model_copy(update=overrides)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
            async with httpx.AsyncClient(
                transport=transport, base_url="http://api.test", timeout=60
            ) as client:
                yield Api(app, client, settings)

    return make


@pytest.fixture
async def api(api_factory: ApiFactory) -> AsyncIterator[Api]:
    async with api_factory() as made:
        yield made
