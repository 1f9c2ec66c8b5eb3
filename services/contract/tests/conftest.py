"""Fixtures for the contract service's tests: the app in-process over ASGI or as a real
uvicorn process, against the stack's real Postgres (a database of this session's own)."""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from kubernetes import client
from sqlalchemy import select
from sqlalchemy.pool import NullPool

from inference_common.auth import TokenSigner
from inference_common.db import make_engine, make_sessionmaker, unit_of_work
from inference_common.tables import Model, User
from inference_contract.app import create_app
from inference_contract.settings import ContractSettings
from inference_testkit.namespaces import temporary_namespace
from inference_testkit.servers import free_port, http_process, service_process_env
from inference_testkit.tls import serving_cert


@pytest.fixture
def contract_settings(stack_env: dict[str, str], database_url: str) -> ContractSettings:
    return ContractSettings(
        dev_mode=False,
        database_url=database_url,
        kubeconfig=stack_env["KUBECONFIG"],
        jwt_secret=secrets.token_urlsafe(48),  # type: ignore[arg-type]
        run_migrations=False,  # the testkit migrated the database already
        watch_modelserves=False,
        webhook_port=None,
    )


@dataclass
class Users:
    database_url: str
    signer: TokenSigner

    async def new(self, role: str = "user") -> tuple[str, dict[str, str]]:
        """A user row of its own and a bearer header for it."""
        username = f"u-{secrets.token_hex(4)}"
        user = User(id=uuid4(), username=username, password_hash="x", role=role)
        engine = make_engine(self.database_url, poolclass=NullPool)
        async with unit_of_work(make_sessionmaker(engine)) as session:
            session.add(user)
        await engine.dispose()
        token = self.signer.issue(str(user.id), username, role)
        return username, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def users(contract_settings: ContractSettings) -> Users:
    return Users(
        contract_settings.database_url,
        TokenSigner(contract_settings.jwt_secret.get_secret_value()),
    )


ContractFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def contract_factory(contract_settings: ContractSettings) -> ContractFactory:
    @asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(contract_settings.model_copy(update=overrides))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://contract.test", timeout=60
            ) as client:
                yield client

    return make


@pytest.fixture
async def contract(contract_factory: ContractFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with contract_factory() as client:
        yield client


def settings_env(settings: ContractSettings, **extra: str) -> dict[str, str]:
    return service_process_env(
        settings.database_url,
        KUBECONFIG=settings.kubeconfig or "",
        JWT_SECRET=settings.jwt_secret.get_secret_value(),
        RUN_MIGRATIONS="false",
        WATCH_MODELSERVES="true" if settings.watch_modelserves else "false",
        **extra,
    )


@contextmanager
def contract_process(settings: ContractSettings, log: Path, **extra: str) -> Iterator[str]:
    """The `inference-contract` entry point as a process; yields its HTTP base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = settings_env(settings, PORT=str(port), **extra)
    with http_process(
        [sys.executable, "-m", "inference_contract.main"], env, f"{url}/health", log=log
    ):
        yield url


async def register_model(
    database_url: str, name: str, owner: str | None = None, **fields: Any
) -> None:
    """A registry row named `name` of `owner`'s (the platform user of that name, made when
    missing; None: no owner), with any further columns (`visibility`, `context_length`)."""
    engine = make_engine(database_url, poolclass=NullPool)
    async with unit_of_work(make_sessionmaker(engine)) as session:
        owner_id = None
        if owner is not None:
            owner_id = await session.scalar(select(User.id).where(User.username == owner))
            if owner_id is None:
                owner_id = uuid4()
                session.add(User(id=owner_id, username=owner, password_hash="x"))
                await session.flush()
        session.add(
            Model(
                uuid=uuid4(),
                name=name,
                object_key=f"models/{name}.gguf",
                size_bytes=1,
                sha256=secrets.token_hex(32),
                owner_id=owner_id,
                **fields,
            )
        )
    await engine.dispose()


def modelserve_spec(replicas: int = 1, gpus: int = 0, **more: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "model": {"name": "smollm2:135m", "source": {"pvc": {"claimName": "c", "path": "m.gguf"}}},
        "replicas": replicas,
        "gpu": {"count": gpus},
    }
    spec.update(more)
    return spec


@dataclass(frozen=True)
class WebhookRig:
    url: str  # the REST listener
    webhook: str  # the HTTPS admission listener
    ca_pem: bytes
    token: str  # names this test's webhook and namespace label
    user: str
    admin: dict[str, str]  # an admin's Authorization header
    namespace: str
    elsewhere: str


@contextmanager
def webhook_rig(
    kube_api: client.ApiClient,
    contract_settings: ContractSettings,
    users: Users,
    tmp_path: Path,
    prefix: str,
) -> Iterator[WebhookRig]:
    """The contract service reconciling, with its TLS admission listener; an admin; a test
    user's name; two fresh namespaces (neither labelled nor granted yet)."""
    token = secrets.token_hex(4)
    cert = serving_cert(tmp_path)
    port = free_port()
    settings = contract_settings.model_copy(update={"watch_modelserves": True})
    _, admin = asyncio.run(users.new("admin"))
    with (
        temporary_namespace(kube_api, prefix) as namespace,
        temporary_namespace(kube_api, prefix) as elsewhere,
        contract_process(
            settings,
            tmp_path / "contract.log",
            WEBHOOK_PORT=str(port),
            WEBHOOK_TLS_CERT_FILE=str(cert.cert_file),
            WEBHOOK_TLS_KEY_FILE=str(cert.key_file),
        ) as url,
    ):
        yield WebhookRig(
            url=url,
            webhook=f"https://127.0.0.1:{port}/admission/modelserves",
            ca_pem=cert.ca_pem,
            token=token,
            user=f"alice-{token}",
            admin=admin,
            namespace=namespace,
            elsewhere=elsewhere,
        )


OpenWebhookRig = Callable[[str], AbstractContextManager[WebhookRig]]


@pytest.fixture
def open_webhook_rig(
    kube_api: client.ApiClient, contract_settings: ContractSettings, users: Users, tmp_path: Path
) -> OpenWebhookRig:
    """`open_webhook_rig(namespace_prefix)`: `webhook_rig` for this test."""
    return partial(webhook_rig, kube_api, contract_settings, users, tmp_path)
