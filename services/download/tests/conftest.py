"""Fixtures for the download service's tests: a source bucket of their own on the stack's
MinIO (standing for the quantization cluster's store), a target bucket, a migrated database
of this session's own, users with tokens, and the service run as a real process."""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import pytest
from minio import Minio
from minio.deleteobjects import DeleteObject

from inference_common.auth import TokenSigner, hash_password
from inference_common.db import make_engine, make_sessionmaker, unit_of_work
from inference_common.s3_multipart import S3Location, abort_upload, pending_uploads, s3_client
from inference_common.tables import User
from inference_testkit.object_store import download_store_settings
from inference_testkit.servers import free_port, http_process, service_process_env


def location(stack_env: dict[str, str]) -> S3Location:
    return S3Location(
        stack_env["S3_ENDPOINT"], stack_env["S3_ACCESS_KEY"], stack_env["S3_SECRET_KEY"]
    )


async def _incomplete(where: S3Location, bucket: str, prefix: str, abort: bool) -> list[str]:
    async with s3_client(where) as client:
        found = await pending_uploads(client, bucket, prefix)
        if abort:
            for key, upload_id in found:
                await abort_upload(client, bucket, key, upload_id)
    return [key for key, _ in found]


def incomplete_uploads(
    where: S3Location, bucket: str, prefix: str = "", *, abort: bool = False
) -> list[str]:
    """Keys with an incomplete multipart upload (aborted when `abort`)."""
    return asyncio.run(_incomplete(where, bucket, prefix, abort))


def empty_bucket(s3: Minio, bucket: str) -> None:
    objects = [DeleteObject(o.object_name) for o in s3.list_objects(bucket, recursive=True)]
    for error in s3.remove_objects(bucket, objects):
        print("could not remove", error)


@contextmanager
def throwaway_bucket(s3: Minio, where: S3Location, prefix: str) -> Iterator[str]:
    bucket = f"{prefix}-{secrets.token_hex(4)}"
    s3.make_bucket(bucket)
    try:
        yield bucket
    finally:
        incomplete_uploads(where, bucket, abort=True)
        empty_bucket(s3, bucket)
        s3.remove_bucket(bucket)


@pytest.fixture(scope="session")
def source_bucket(s3: Minio, stack_env: dict[str, str]) -> Iterator[str]:
    with throwaway_bucket(s3, location(stack_env), "llm-models") as bucket:
        yield bucket


@pytest.fixture(scope="session")
def target_bucket(s3: Minio, stack_env: dict[str, str]) -> Iterator[str]:
    with throwaway_bucket(s3, location(stack_env), "test-dl") as bucket:
        yield bucket


@dataclass(frozen=True)
class Users:
    admin_id: UUID
    user_id: UUID
    other_id: UUID
    jwt_secret: str

    def token(self, user_id: UUID, role: str = "user") -> str:
        return TokenSigner(self.jwt_secret).issue(str(user_id), str(user_id)[:8], role)

    def headers(self, who: str = "user") -> dict[str, str]:
        user_id = {"admin": self.admin_id, "user": self.user_id, "other": self.other_id}[who]
        role = "admin" if who == "admin" else "user"
        return {"Authorization": f"Bearer {self.token(user_id, role)}"}


async def _add_users(database_url: str) -> tuple[UUID, UUID, UUID]:
    engine = make_engine(database_url)
    ids = (uuid4(), uuid4(), uuid4())
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            for user_id, role in zip(ids, ("admin", "user", "user"), strict=True):
                session.add(
                    User(
                        id=user_id,
                        username=f"u-{user_id.hex[:12]}",
                        password_hash=hash_password(secrets.token_urlsafe(12)),
                        role=role,
                    )
                )
    finally:
        await engine.dispose()
    return ids


@pytest.fixture(scope="session")
def users(database_url: str) -> Users:
    admin_id, user_id, other_id = asyncio.run(_add_users(database_url))
    return Users(admin_id, user_id, other_id, secrets.token_urlsafe(48))


def service_env(
    stack_env: dict[str, str],
    database_url: str,
    source: str,
    target: str,
    users: Users,
    port: int,
    **extra: str,
) -> dict[str, str]:
    settings = {
        **download_store_settings(stack_env, source, target),
        "JWT_SECRET": users.jwt_secret,
        "RUN_MIGRATIONS": "false",
        "PART_BYTES": str(5 * 1024**2),
        "PARALLEL_PARTS": "2",
        "PORT": str(port),
        "LOG_LEVEL": "INFO",
    }
    return service_process_env(database_url, **(settings | extra))


@dataclass(frozen=True)
class Rig:
    """What a test that runs a service process of its own works with."""

    stack_env: dict[str, str]
    database_url: str
    source: str
    target: str
    users: Users
    s3: Minio

    def env(self, **extra: str) -> dict[str, str]:
        """The service's environment, on a free port, with `extra` settings."""
        return service_env(
            self.stack_env,
            self.database_url,
            self.source,
            self.target,
            self.users,
            free_port(),
            **extra,
        )


@pytest.fixture
def rig(
    stack_env: dict[str, str],
    database_url: str,
    source_bucket: str,
    target_bucket: str,
    users: Users,
    s3: Minio,
) -> Rig:
    return Rig(stack_env, database_url, source_bucket, target_bucket, users, s3)


@contextmanager
def download_service(env_for_port: dict[str, str], log: Path) -> Iterator[tuple[str, object]]:
    port = int(env_for_port["PORT"])
    url = f"http://127.0.0.1:{port}"
    with http_process(
        [sys.executable, "-m", "inference_download.main"], env_for_port, f"{url}/health", log=log
    ) as process:
        yield url, process


@dataclass
class Service:
    url: str
    users: Users
    source: str
    target: str

    def client(self, who: str = "user") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.users.headers(who), timeout=30)


@pytest.fixture(scope="session")
def service(
    stack_env: dict[str, str],
    database_url: str,
    source_bucket: str,
    target_bucket: str,
    users: Users,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    env = service_env(stack_env, database_url, source_bucket, target_bucket, users, free_port())
    log = tmp_path_factory.mktemp("download") / "service.log"
    with download_service(env, log) as (url, _):
        yield Service(url, users, source_bucket, target_bucket)
