"""Fixtures shared by every member's tests.

- `stack_env`: the local stack's `.local/env` values; reuses a running stack or starts one
  (and stops it again at the end of the session when it started it).
- `kube_api`: an official-client ApiClient with the stack's admin kubeconfig.
- `namespace`: a fresh namespace per test, deleted afterwards.
- `database_url`: a database of this test session's own, migrated once with Alembic.
- `db_session`: an AsyncSession inside a transaction that is rolled back after the test.
- `s3`: a MinIO client for the stack's object store.
- `throwaway_postgres`, `throwaway_minio`: a Postgres (database `inference`, migrated) and a
  MinIO of the test's own, which it may stop and start (see `throwaway`).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
from kubernetes import client
from minio import Minio
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import NullPool

from inference_common import migrate
from inference_common.db import make_engine
from inference_common.kube import api_client
from inference_localstack import stack
from inference_localstack.config import StackConfig
from inference_testkit.database import create_database, drop_database
from inference_testkit.namespaces import temporary_namespace
from inference_testkit.throwaway import (
    ThrowawayMinio,
    ThrowawayPostgres,
    minio_server,
    postgres_server,
)


@pytest.fixture(scope="session")
def stack_env() -> Iterator[dict[str, str]]:
    config = StackConfig()
    # Only a session that found nothing running stops the stack again: one that repaired a
    # partly running stack leaves it to whoever started it.
    nothing_ran = not any(
        running for name, running in stack.status(config).items() if name != "network"
    )
    if not stack.is_healthy(config):
        stack.up(config)
    yield stack.read_env(config)
    if nothing_ran and os.environ.get("KEEP_STACK") != "1":
        stack.down(config)


@pytest.fixture(scope="session")
def kube_api(stack_env: dict[str, str]) -> Iterator[client.ApiClient]:
    api = api_client(stack_env["KUBECONFIG"])
    yield api
    api.close()


@pytest.fixture
def namespace(kube_api: client.ApiClient) -> Iterator[str]:
    with temporary_namespace(kube_api) as name:
        yield name


@pytest.fixture(scope="session")
def database_url(stack_env: dict[str, str]) -> Iterator[str]:
    url = create_database(stack_env["DATABASE_URL"], f"test_{secrets.token_hex(4)}")
    yield url
    drop_database(url)


@pytest.fixture
async def db_session(database_url: str) -> AsyncIterator[AsyncSession]:
    engine = make_engine(database_url, poolclass=NullPool)
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()
    await engine.dispose()


@pytest.fixture(scope="session")
def s3(stack_env: dict[str, str]) -> Minio:
    return Minio(
        stack_env["S3_ENDPOINT"],
        access_key=stack_env["S3_ACCESS_KEY"],
        secret_key=stack_env["S3_SECRET_KEY"],
        secure=False,
    )


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    with postgres_server() as server:
        migrate.upgrade(server.url)
        yield server


@pytest.fixture
def throwaway_minio() -> Iterator[ThrowawayMinio]:
    with minio_server() as server:
        yield server
