"""The stack's PostgreSQL: its server binaries, the cluster's data directory and access rules,
and the application role and database that DATABASE_URL names."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from inference_localstack import components, pki, processes
from inference_localstack.config import StackConfig
from inference_localstack.launch import StackError, say, wait_until


def postgres_bin_dir() -> Path:
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True
        ).stdout.strip()
        if (Path(found) / "initdb").exists():
            return Path(found)
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if not candidates:
        raise StackError("PostgreSQL server binaries not found: apt-get install postgresql")
    return candidates[0].parent


def prepare_postgres(config: StackConfig, pg_bin: Path, creds: pki.Secrets) -> None:
    """Initialises the cluster (superuser password from the PKI) unless it exists, and
    (re)writes its access rules: a cluster made by an older stack trusted every socket
    connection; a running one reloads them."""
    data = config.data_dir("postgres")
    pgdata = data / "pgdata"
    for path in (data, data / "socket"):
        path.mkdir(parents=True, exist_ok=True)
        shutil.chown(path, "postgres")
        path.chmod(0o700)
    if not (pgdata / "PG_VERSION").exists():
        _initdb(data, pg_bin, creds)
    hba = pgdata / "pg_hba.conf"
    if hba.read_text() != components.PG_HBA:
        hba.write_text(components.PG_HBA)
        shutil.chown(hba, "postgres")
        hba.chmod(0o600)
        pid = processes.running_pid(config, "postgres")
        if pid is not None:
            os.kill(pid, signal.SIGHUP)
            say("postgres: access rules rewritten and reloaded")


def _initdb(data: Path, pg_bin: Path, creds: pki.Secrets) -> None:
    say("postgres: initdb")
    pwfile = data / "initdb.pw"
    pwfile.write_text(creds.postgres_password)
    shutil.chown(pwfile, "postgres")
    pwfile.chmod(0o600)
    try:
        subprocess.run(
            [
                str(pg_bin / "initdb"),
                "-D",
                str(data / "pgdata"),
                "-U",
                "postgres",
                "--auth-local=peer",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            user="postgres",
        )
    finally:
        pwfile.unlink(missing_ok=True)


def wait_postgres(config: StackConfig, pg_bin: Path) -> None:
    def ready() -> bool:
        return (
            subprocess.run(
                [
                    str(pg_bin / "pg_isready"),
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(config.ports.postgres),
                ],
            ).returncode
            == 0
        )

    t0 = time.monotonic()
    wait_until(config, "postgres", ready, timeout=60)
    say(f"postgres: ready in {time.monotonic() - t0:.1f}s")


APP_ROLE = "inference"
APP_DATABASE = "inference"


async def _can_log_in(config: StackConfig, user: str, password: str, database: str) -> bool:
    import asyncpg  # type: ignore[import-untyped]

    try:
        conn = await asyncpg.connect(
            host="127.0.0.1",
            port=config.ports.postgres,
            user=user,
            password=password,
            database=database,
        )
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError):
        return False
    await conn.close()
    return True


async def ensure_app_role(config: StackConfig, creds: pki.Secrets) -> bool:
    """The application role (DATABASE_URL's) with its own password, owning the application
    database: no superuser, may not create roles; it may create databases, which the test
    sessions make beside the application's. True when the role's password was (re)set,
    i.e. services still holding the old one must be restarted."""
    import asyncpg

    conn = await asyncpg.connect(
        host="127.0.0.1",
        port=config.ports.postgres,
        user="postgres",
        password=creds.postgres_password,
        database="postgres",
    )
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", APP_ROLE)
        password_set = bool(exists) and await _can_log_in(
            config, APP_ROLE, creds.postgres_app_password, "postgres"
        )
        # Passwords are generated from [A-Za-z0-9_-] only (token_urlsafe).
        attributes = "LOGIN CREATEDB NOCREATEROLE NOSUPERUSER NOREPLICATION NOBYPASSRLS"
        if not exists:
            await conn.execute(
                f"CREATE ROLE {APP_ROLE} {attributes} PASSWORD '{creds.postgres_app_password}'"
            )
        elif not password_set:
            await conn.execute(
                f"ALTER ROLE {APP_ROLE} {attributes} PASSWORD '{creds.postgres_app_password}'"
            )
        else:
            await conn.execute(f"ALTER ROLE {APP_ROLE} {attributes}")
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", APP_DATABASE):
            await conn.execute(f"CREATE DATABASE {APP_DATABASE} OWNER {APP_ROLE}")
        await conn.execute(f"ALTER DATABASE {APP_DATABASE} OWNER TO {APP_ROLE}")
        await conn.execute(f"REVOKE ALL ON DATABASE {APP_DATABASE} FROM PUBLIC")
    finally:
        await conn.close()
    return not password_set


def database_url(config: StackConfig, creds: pki.Secrets, database: str = APP_DATABASE) -> str:
    """The application role's URL (DATABASE_URL)."""
    return (
        f"postgresql+asyncpg://{APP_ROLE}:{creds.postgres_app_password}"
        f"@127.0.0.1:{config.ports.postgres}/{database}"
    )
