"""A Postgres and a MinIO of a test's own, which it may stop and start again (an outage)
without touching the shared stack: the stack's own start-up code, run against a state
folder of their own and free loopback ports.

Postgres runs as the `postgres` user (it refuses root), so the folder is made traversable
for it. An etcd of a test's own, with the stack's TLS and client-certificate rules and a
PKI of its own, is here too. They run the stack's binaries: PostgreSQL's from the system,
MinIO's and etcd's from the toolchain cache (built by the stack's first `make up`).
"""

from __future__ import annotations

import secrets
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from inference_localstack import components, pki, postgres, processes, stack, state_dirs
from inference_localstack.config import Ports, StackConfig
from inference_testkit.database import create_database
from inference_testkit.servers import free_port, wait_http_ok

DATABASE = "inference"


def _secrets() -> pki.Secrets:
    return pki.Secrets(
        tokens={},
        postgres_password=secrets.token_urlsafe(18),
        postgres_app_password=secrets.token_urlsafe(18),
        minio_user=f"throwaway{secrets.token_hex(4)}",
        minio_password=secrets.token_urlsafe(24),
        jwt_secret="",
        admin_password="",
        server_uuid_key="",
    )


@contextmanager
def _state_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="throwaway-"))
    path.chmod(state_dirs.TRAVERSE_ONLY)  # the postgres user walks through it
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass
class ThrowawayPostgres:
    config: StackConfig
    creds: pki.Secrets
    pg_bin: Path

    @property
    def url(self) -> str:
        """SQLAlchemy URL (asyncpg) of its `inference` database, as its superuser."""
        return (
            f"postgresql+asyncpg://postgres:{self.creds.postgres_password}"
            f"@127.0.0.1:{self.port}/{DATABASE}"
        )

    @property
    def port(self) -> int:
        return self.config.ports.postgres

    def start(self) -> None:
        component = components.postgres(self.config, self.pg_bin)
        processes.start(self.config, component.name, component.argv, user=component.user)
        postgres.wait_postgres(self.config, self.pg_bin)

    def stop(self) -> None:
        """A fast shutdown (SIGINT): sessions are ended, as when the service is stopped."""
        processes.stop(self.config, "postgres", sig=signal.SIGINT)


@contextmanager
def postgres_server() -> Iterator[ThrowawayPostgres]:
    """A running Postgres with an empty `inference` database."""
    with _state_dir() as state:
        config = StackConfig(state_dir=state, ports=Ports(postgres=free_port()))
        state_dirs.secure(config)
        server = ThrowawayPostgres(config, _secrets(), postgres.postgres_bin_dir())
        postgres.prepare_postgres(config, server.pg_bin, server.creds)
        server.start()
        try:
            admin = server.url.rsplit("/", 1)[0] + "/postgres"
            create_database(admin, DATABASE)
            yield server
        finally:
            server.stop()


@dataclass
class ThrowawayMinio:
    config: StackConfig
    creds: pki.Secrets
    bin_dir: Path

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.config.ports.minio}"

    @property
    def access_key(self) -> str:
        return self.creds.minio_user

    @property
    def secret_key(self) -> str:
        return self.creds.minio_password

    def start(self) -> None:
        component = components.minio(self.config, self.bin_dir, self.creds)
        processes.start(self.config, component.name, component.argv, env=component.env)
        wait_http_ok(component.health_url, timeout=60, log=processes.log_file(self.config, "minio"))

    def stop(self) -> None:
        processes.stop(self.config, "minio")


@contextmanager
def minio_server() -> Iterator[ThrowawayMinio]:
    bin_dir = stack.toolchain_bin_dir(build=False)
    if not (bin_dir / "minio").exists():
        raise RuntimeError(f"no minio binary in {bin_dir}: the stack's toolchain builds it")
    with _state_dir() as state:
        config = StackConfig(
            state_dir=state, ports=Ports(minio=free_port(), minio_console=free_port())
        )
        server = ThrowawayMinio(config, _secrets(), bin_dir)
        server.start()
        try:
            yield server
        finally:
            server.stop()


@dataclass
class ThrowawayEtcd:
    config: StackConfig
    bin_dir: Path

    @property
    def component(self) -> components.Component:
        return components.etcd(self.config, self.bin_dir)

    @property
    def ca(self) -> Path:
        return self.config.pki_dir / "ca.crt"

    def start(self, argv: list[str] | None = None) -> None:
        """Starts it with the stack's flags, or with `argv` (an older stack's, say)."""
        component = self.component
        processes.start(self.config, component.name, argv or component.argv)

    def stop(self) -> None:
        processes.stop(self.config, "etcd")


@contextmanager
def etcd_server() -> Iterator[ThrowawayEtcd]:
    """A PKI (CA, etcd's certificates) and an etcd data folder, on free ports; started by
    the caller (`start`), stopped at the end."""
    bin_dir = stack.toolchain_bin_dir(build=False)
    if not (bin_dir / "etcd").exists():
        raise RuntimeError(f"no etcd binary in {bin_dir}: the stack's toolchain builds it")
    with _state_dir() as state:
        config = StackConfig(state_dir=state, ports=Ports(etcd=free_port(), etcd_peer=free_port()))
        state_dirs.secure(config)
        pki.ensure_certificates(config)
        pki.ensure_etcd_certificates(config)
        server = ThrowawayEtcd(config, bin_dir)
        try:
            yield server
        finally:
            server.stop()
