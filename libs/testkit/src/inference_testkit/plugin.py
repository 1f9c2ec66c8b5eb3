"""Fixtures shared by every member's tests.

- `stack_env`: the local stack's `.local/env` values; reuses a running stack or starts one
  (and stops it again at the end of the session when it started it). A stack in another
  checkout's state dir (`LOCAL_STATE_DIR` pointing elsewhere) is only ever reused: when it is
  not healthy the session fails instead of restarting it with this checkout's code, and so
  does a session that finds the stack's ports held by a stack it did not start.
- `kube_api`: an official-client ApiClient with the stack's admin kubeconfig.
- `namespace`: a fresh namespace per test, deleted afterwards.
- `database_url`: a database of this test session's own, migrated once with Alembic.
- `db_session`: an AsyncSession inside a transaction that is rolled back after the test.
- `s3`: a MinIO client for the stack's object store.
- `crd`: the repository's generated ModelServe CRD, installed or updated, and Established.
- `throwaway_postgres`, `throwaway_minio`: a Postgres (database `inference`, migrated) and a
  MinIO of the test's own, which it may stop and start (see `throwaway`).

Every test whose fixtures reach `stack_env` or a throwaway server is marked `stack` at
collection; tests that need root or real server processes without those fixtures carry
`@pytest.mark.stack` themselves. `pytest -m "not stack"` (`make test-unit`) is then the
pure-function loop: no stack, no root.

Every test also gets the root logger back as it found it: a test that runs a CLI's `main`
in-process (which installs the platform's JSON handler on the stderr of that moment, pytest's
capture) would otherwise leave later tests logging into a closed file.
"""

from __future__ import annotations

import copy
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from minio import Minio
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import NullPool

from inference_common import migrate
from inference_common.db import make_engine
from inference_common.kube import api_client
from inference_localstack import stack
from inference_localstack.config import REPO_ROOT, StackConfig
from inference_testkit.database import create_database, drop_database
from inference_testkit.namespaces import temporary_namespace
from inference_testkit.object_store import minio_from_env
from inference_testkit.throwaway import (
    ThrowawayMinio,
    ThrowawayPostgres,
    minio_server,
    postgres_server,
)
from inference_testkit.waiting import wait_for

STACK_FIXTURE = "stack_env"
PROCESS_FIXTURES = (STACK_FIXTURE, "throwaway_postgres", "throwaway_minio")
"""Fixtures that start real servers (and need root or the stack's toolchain)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "stack: needs the local stack, root or real server processes (set automatically when "
        f"a test's fixtures reach `{STACK_FIXTURE}`); `-m 'not stack'` leaves the unit tests",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in PROCESS_FIXTURES):
            item.add_marker(pytest.mark.stack)


def repair_refusal(state_dir: Path, repo_root: Path) -> str | None:
    """Why this session may not start or repair the stack in `state_dir`, or None if it may.

    Only the checkout that owns a state dir manages its stack: another checkout's code would
    restart shared components with different versions and orphan the ones it does not know.
    """
    own = (repo_root / ".local").resolve()
    if state_dir.resolve() == own:
        return None
    return (
        f"the stack in {state_dir} is not healthy and belongs to another checkout; "
        f"this session ({repo_root}) only reuses it. Repair it from its own checkout "
        "(`make up` there), then run the tests again."
    )


def ports_refusal(nothing_ran: bool, port: int, in_use: bool) -> str | None:
    """Why a session may not start a stack whose ports another stack holds, or None.

    Nothing of this state dir's stack runs, yet its apiserver port answers: another
    checkout's stack owns the ports (its state dir was not named in LOCAL_STATE_DIR)."""
    if not (nothing_ran and in_use):
        return None
    return (
        f"no stack of this checkout runs, but 127.0.0.1:{port} (the apiserver's port) is "
        "taken, most likely by another checkout's stack: set LOCAL_STATE_DIR to that "
        "stack's state dir to reuse it, or stop it first."
    )


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(autouse=True)
def root_logging_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def stack_env() -> Iterator[dict[str, str]]:
    config = StackConfig()
    # Only a session that found nothing running stops the stack again: one that repaired a
    # partly running stack leaves it to whoever started it.
    nothing_ran = not any(
        running for name, running in stack.status(config).items() if name != "network"
    )
    if not stack.is_healthy(config):
        refusal = repair_refusal(config.state_dir, REPO_ROOT) or ports_refusal(
            nothing_ran, config.ports.apiserver, port_in_use(config.ports.apiserver)
        )
        if refusal:
            pytest.fail(refusal, pytrace=False)
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
    return minio_from_env(stack_env)


@pytest.fixture(scope="session")
def crd(kube_api: client.ApiClient) -> dict[str, Any]:
    """`crds/modelserve.yaml` as this checkout generates it, installed (or replacing the one
    installed) and Established."""
    body: dict[str, Any] = yaml.safe_load(stack.MODELSERVE_CRD.read_text())
    ext = client.ApiextensionsV1Api(kube_api)
    name = body["metadata"]["name"]
    wait_for(lambda: _install_crd(ext, body), timeout=30, what=f"CRD {name} installed")

    def established() -> bool:
        status = ext.read_custom_resource_definition(name).status
        conds = (status.conditions if status else None) or []
        return any(c.type == "Established" and c.status == "True" for c in conds)

    wait_for(established, timeout=30, what=f"CRD {name} Established")
    return body


def _install_crd(ext: client.ApiextensionsV1Api, body: dict[str, Any]) -> bool:
    """One create-or-replace; False when another session changed the CRD in between (409)."""
    name = body["metadata"]["name"]
    attempt = copy.deepcopy(body)
    try:
        current = ext.read_custom_resource_definition(name).metadata
        attempt["metadata"]["resourceVersion"] = current.resource_version if current else None
        ext.replace_custom_resource_definition(name, attempt)  # type: ignore[arg-type]
    except ApiException as exc:
        if exc.status == 409:
            return False
        if exc.status != 404:
            raise
        try:
            ext.create_custom_resource_definition(attempt)  # type: ignore[arg-type]
        except ApiException as create_exc:
            if create_exc.status == 409:
                return False
            raise
    return True


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    with postgres_server() as server:
        migrate.upgrade(server.url)
        yield server


@pytest.fixture
def throwaway_minio() -> Iterator[ThrowawayMinio]:
    with minio_server() as server:
        yield server
