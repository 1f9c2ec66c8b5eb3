"""The local stack is no open door to other users of the machine: etcd answers only clients
with a certificate of the stack's CA, Postgres lets no one in without a password (the
socket only to the `postgres` OS user), the application role cannot make roles, and the
state folder is private.

The component tests run the stack's code on servers of their own (throwaway etcd and
Postgres); the `stack_*` tests check the running stack itself."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import signal
import ssl
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy.engine import make_url

from inference_common import migrate
from inference_localstack import components, launch, pki, postgres, processes, state_dirs
from inference_localstack.config import StackConfig
from inference_testkit.servers import free_port
from inference_testkit.throwaway import (
    ThrowawayEtcd,
    ThrowawayPostgres,
    etcd_server,
    postgres_server,
)
from inference_testkit.waiting import wait_for

SECRETS_PREFIX = "/registry/secrets/"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _client_context(ca: Path, cert: tuple[Path, Path] | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    if cert:
        context.load_cert_chain(*cert)
    return context


def etcd_range(
    url: str, verify: bool | ssl.SSLContext, key: str, count_only: bool = True
) -> dict[str, Any] | None:
    """etcd's gRPC gateway `POST /v3/kv/range` for one key prefix; None when refused."""
    body: dict[str, Any] = {"key": _b64(key), "range_end": _b64(key[:-1] + chr(ord(key[-1]) + 1))}
    body["count_only"] = count_only
    try:
        response = httpx.post(f"{url}/v3/kv/range", json=body, verify=verify, timeout=5.0)
    except (httpx.HTTPError, ssl.SSLError, OSError):
        return None
    if response.status_code != 200:
        return None
    answer: dict[str, Any] = response.json()
    return answer


def assert_etcd_refuses_clients_without_certificate(port: int, ca: Path) -> None:
    assert etcd_range(f"http://127.0.0.1:{port}", False, SECRETS_PREFIX) is None
    assert etcd_range(f"https://127.0.0.1:{port}", False, SECRETS_PREFIX) is None
    assert (
        etcd_range(f"https://127.0.0.1:{port}", _client_context(ca, None), SECRETS_PREFIX) is None
    )


def psql(os_user: str, host: str, port: int, db_user: str, database: str = "postgres") -> int:
    """`psql -c 'SELECT 1'` run as `os_user`, never prompting for a password."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")} | {
        "PGPASSFILE": "/dev/null"
    }
    argv = ["psql", "-w", "-X", "-q", "-h", host, "-p", str(port), "-U", db_user]
    return subprocess.run(
        ["runuser", "-u", os_user, "--", *argv, "-d", database, "-c", "SELECT 1"],
        env=env,
        cwd="/",
        capture_output=True,
        timeout=30,
    ).returncode


async def assert_app_role_is_no_administrator(app_url: str, superuser_password: str) -> None:
    url = make_url(app_url)
    connect = {"host": url.host, "port": url.port, "database": url.database}
    conn = await asyncpg.connect(user=url.username, password=url.password, **connect)
    try:
        assert (
            await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            is False
        )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE ROLE intruder LOGIN PASSWORD 'x'")
    finally:
        await conn.close()
    assert url.password != superuser_password
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(user="postgres", password=url.password, **connect)


def modes(paths: list[Path]) -> dict[Path, int]:
    return {path: stat.S_IMODE(path.stat().st_mode) for path in paths}


# --- flags and rules (pure) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("component", "required"),
    [
        (
            "etcd",
            {"--client-cert-auth", "--peer-client-cert-auth", "--trusted-ca-file", "--cert-file"},
        ),
        ("kube-apiserver", {"--etcd-cafile", "--etcd-certfile", "--etcd-keyfile"}),
    ],
)
def test_etcd_and_its_client_speak_tls_only(component: str, required: set[str]) -> None:
    cfg = StackConfig()
    argv = {"etcd": components.etcd, "kube-apiserver": components.kube_apiserver}[component](
        cfg, Path("/bin")
    ).argv
    assert required <= {a.split("=", 1)[0] for a in argv}
    assert not [a for a in argv if "http://" in a]


def test_postgres_rules_trust_no_one() -> None:
    rules = [line.split() for line in components.PG_HBA.splitlines() if not line.startswith("#")]
    assert rules == [
        ["local", "all", "postgres", "peer"],
        ["local", "all", "all", "scram-sha-256"],
        ["host", "all", "all", "127.0.0.1/32", "scram-sha-256"],
    ]
    argv = components.postgres(StackConfig(), Path("/bin")).argv
    assert "password_encryption=scram-sha-256" in argv
    assert "unix_socket_permissions=0700" in argv


# --- etcd ----------------------------------------------------------------------------


@pytest.fixture
def etcd() -> Iterator[ThrowawayEtcd]:
    with etcd_server() as server:
        yield server


def _wait_etcd_tls(server: ThrowawayEtcd) -> None:
    context = _client_context(server.ca, pki.etcd_client_cert(server.config))
    url = f"https://127.0.0.1:{server.config.ports.etcd}"
    wait_for(lambda: etcd_range(url, context, "/"), timeout=60, what="etcd answers over TLS")


def _older_stack_argv(server: ThrowawayEtcd) -> list[str]:
    """etcd's flags before TLS: plain HTTP, no client certificates."""
    p, data = server.config.ports, server.config.data_dir("etcd")
    client, peer = f"http://127.0.0.1:{p.etcd}", f"http://127.0.0.1:{p.etcd_peer}"
    return [
        str(server.bin_dir / "etcd"),
        "--name=local",
        f"--data-dir={data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=local={peer}",
        "--unsafe-no-fsync",
    ]


@pytest.mark.stack
def test_etcd_answers_only_clients_with_a_certificate_of_the_ca(etcd: ThrowawayEtcd) -> None:
    etcd.start()
    _wait_etcd_tls(etcd)
    assert_etcd_refuses_clients_without_certificate(etcd.config.ports.etcd, etcd.ca)
    assert stat.S_IMODE(etcd.config.data_dir("etcd").stat().st_mode) == 0o700


@pytest.mark.stack
def test_etcd_of_an_older_stack_keeps_its_data_behind_tls(etcd: ThrowawayEtcd) -> None:
    etcd.start(_older_stack_argv(etcd))
    plain = f"http://127.0.0.1:{etcd.config.ports.etcd}"
    put = {"key": _b64("/registry/secrets/default/s1"), "value": _b64("v1")}

    def stored() -> bool:
        try:
            return httpx.post(f"{plain}/v3/kv/put", json=put, timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(stored, timeout=60, what="the plain-HTTP etcd stores a key")
    # what `up` does with it: not healthy by the new (TLS) check, so restarted; then kept
    assert launch.start_component(etcd.config, etcd.component) is True
    assert launch.start_component(etcd.config, etcd.component) is False
    context = _client_context(etcd.ca, pki.etcd_client_cert(etcd.config))
    url = f"https://127.0.0.1:{etcd.config.ports.etcd}"
    answer = etcd_range(url, context, SECRETS_PREFIX, count_only=False)
    assert answer is not None
    assert [kv["value"] for kv in answer["kvs"]] == [_b64("v1")]
    assert_etcd_refuses_clients_without_certificate(etcd.config.ports.etcd, etcd.ca)


@pytest.mark.stack
def test_apiserver_stores_in_the_tls_etcd(etcd: ThrowawayEtcd) -> None:
    config = dataclasses.replace(
        etcd.config, ports=dataclasses.replace(etcd.config.ports, apiserver=free_port())
    )
    pki.ensure_secrets(config)
    etcd.start()
    _wait_etcd_tls(etcd)
    apiserver = components.kube_apiserver(config, etcd.bin_dir)
    processes.start(config, apiserver.name, apiserver.argv)
    try:
        ca = _client_context(etcd.ca, None)

        def ready() -> bool:
            try:
                return httpx.get(apiserver.health_url, verify=ca, timeout=2.0).text == "ok"
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout=120, what="kube-apiserver ready on the TLS etcd")
    finally:
        processes.stop(config, apiserver.name)
    context = _client_context(etcd.ca, pki.etcd_client_cert(config))
    stored = etcd_range(f"https://127.0.0.1:{config.ports.etcd}", context, "/registry/namespaces/")
    assert stored is not None
    assert int(stored["count"]) >= 1


# --- postgres ------------------------------------------------------------------------

OLDER_STACK_HBA = "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"


@pytest.fixture
def own_postgres() -> Iterator[ThrowawayPostgres]:
    """A throwaway Postgres without the migration `throwaway_postgres` runs."""
    with postgres_server() as server:
        yield server


@pytest.mark.stack
async def test_postgres_lets_no_one_in_without_a_password_but_its_os_user(
    own_postgres: ThrowawayPostgres,
) -> None:
    server = own_postgres
    socket_dir = server.config.data_dir("postgres") / "socket"
    port = server.port
    assert psql("postgres", str(socket_dir), port, "postgres") == 0
    assert psql("nobody", str(socket_dir), port, "postgres") != 0
    assert psql("nobody", "127.0.0.1", port, "postgres") != 0
    assert psql("root", "127.0.0.1", port, "postgres") != 0
    assert psql("root", str(socket_dir), port, "postgres") != 0
    for path in (socket_dir, socket_dir.parent):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
        assert path.owner() == "postgres"

    assert await postgres.ensure_app_role(server.config, server.creds) is True
    assert await postgres.ensure_app_role(server.config, server.creds) is False
    app_url = postgres.database_url(server.config, server.creds)
    await assert_app_role_is_no_administrator(app_url, server.creds.postgres_password)


@pytest.mark.stack
def test_postgres_of_an_older_stack_is_closed_on_the_next_up(
    own_postgres: ThrowawayPostgres,
) -> None:
    server = own_postgres
    data = server.config.data_dir("postgres")
    socket_dir = data / "socket"
    (data / "pgdata" / "pg_hba.conf").write_text(OLDER_STACK_HBA)
    for path in (server.config.state_dir, data.parent, data, socket_dir):
        path.chmod(0o755)
    # the older stack's application role shared the superuser's password
    older_password = server.creds.postgres_password
    for statement in (
        "DROP DATABASE inference WITH (FORCE)",
        f"CREATE ROLE inference LOGIN CREATEDB PASSWORD '{older_password}'",
        "CREATE DATABASE inference OWNER inference",
    ):
        asyncio.run(_as_superuser(server, statement))
    migrate.upgrade(server.url.replace("//postgres:", "//inference:"))
    pid = server.config.run_dir / "postgres.pid"
    os.kill(int(pid.read_text()), signal.SIGHUP)
    wait_for(
        lambda: psql("root", str(socket_dir), server.port, "postgres") == 0,
        timeout=30,
        what="the older stack's rules trust the socket",
    )

    postgres.prepare_postgres(server.config, server.pg_bin, server.creds)
    wait_for(
        lambda: psql("root", str(socket_dir), server.port, "postgres") != 0,
        timeout=30,
        what="the rewritten rules are loaded",
    )
    assert psql("nobody", str(socket_dir), server.port, "postgres") != 0
    assert psql("postgres", str(socket_dir), server.port, "postgres") == 0
    assert stat.S_IMODE(socket_dir.stat().st_mode) == 0o700

    assert asyncio.run(postgres.ensure_app_role(server.config, server.creds)) is True
    app_url = postgres.database_url(server.config, server.creds)
    asyncio.run(assert_app_role_is_no_administrator(app_url, server.creds.postgres_password))
    migrate.downgrade(app_url, "base")  # the role that owns the database owns its schema
    migrate.upgrade(app_url)
    with pytest.raises(asyncpg.InvalidPasswordError):
        asyncio.run(_connect_closed(server.port, "inference", older_password))


async def _as_superuser(server: ThrowawayPostgres, statement: str) -> None:
    conn = await asyncpg.connect(
        host="127.0.0.1",
        port=server.port,
        user="postgres",
        password=server.creds.postgres_password,
        database="postgres",
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _connect_closed(port: int, user: str, password: str) -> None:
    conn = await asyncpg.connect(
        host="127.0.0.1", port=port, user=user, password=password, database="postgres"
    )
    await conn.close()


# --- the state folder ----------------------------------------------------------------


def test_state_folder_modes(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path / "state")
    (config.state_dir / "data" / "prometheus").mkdir(parents=True)
    state_dirs.secure(config)
    found = modes(list(state_dirs.dir_modes(config)))
    assert found[config.state_dir] == found[config.state_dir / "data"] == 0o711
    private = [config.pki_dir, config.log_dir, config.run_dir, config.data_dir("prometheus")]
    private += [config.data_dir(name) for name in state_dirs.DATA_COMPONENTS]
    assert {path: found[path] for path in private} == dict.fromkeys(private, 0o700)


# --- the running stack ---------------------------------------------------------------


def test_stack_etcd_refuses_unauthenticated_reads(stack_env: dict[str, str]) -> None:
    config = StackConfig(state_dir=Path(stack_env["LOCAL_STATE_DIR"]))
    assert_etcd_refuses_clients_without_certificate(config.ports.etcd, config.pki_dir / "ca.crt")
    context = _client_context(config.pki_dir / "ca.crt", pki.etcd_client_cert(config))
    assert etcd_range(f"https://127.0.0.1:{config.ports.etcd}", context, "/registry/") is not None


async def test_stack_postgres_refuses_other_users_and_missing_passwords(
    stack_env: dict[str, str],
) -> None:
    config = StackConfig(state_dir=Path(stack_env["LOCAL_STATE_DIR"]))
    socket_dir = config.data_dir("postgres") / "socket"
    port = config.ports.postgres
    assert psql("nobody", str(socket_dir), port, "postgres") != 0
    assert psql("nobody", "127.0.0.1", port, "postgres") != 0
    assert psql("root", "127.0.0.1", port, "postgres") != 0
    assert psql("root", str(socket_dir), port, "inference", "inference") != 0
    superuser_password = json.loads((config.pki_dir / "secrets.json").read_text())[
        "postgres_password"
    ]
    await assert_app_role_is_no_administrator(stack_env["DATABASE_URL"], superuser_password)


def test_stack_state_is_private(stack_env: dict[str, str]) -> None:
    config = StackConfig(state_dir=Path(stack_env["LOCAL_STATE_DIR"]))
    data_dirs = [p for p in (config.state_dir / "data").iterdir() if p.is_dir()]
    private = [config.pki_dir, config.log_dir, config.run_dir, *data_dirs]
    assert modes(private) == dict.fromkeys(private, 0o700)
    for path in (config.state_dir, config.state_dir / "data"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0, path
