"""Fixtures for the contract service's tests: the app in-process over ASGI or as a real
uvicorn process, against the stack's real Postgres (a database of this session's own)."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.pool import NullPool

from inference_common.auth import TokenSigner
from inference_common.db import make_engine, make_sessionmaker, unit_of_work
from inference_common.tables import Model, User
from inference_contract.app import create_app
from inference_contract.settings import ContractSettings
from inference_testkit.servers import free_port, http_process


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
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "DEV_MODE": "false",
        "DATABASE_URL": settings.database_url,
        "KUBECONFIG": settings.kubeconfig or "",
        "JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "RUN_MIGRATIONS": "false",
        "WATCH_MODELSERVES": "true" if settings.watch_modelserves else "false",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


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
