"""Shared by the API benchmarks: the stack's env, a throwaway database and bucket, and the
API run as a real `inference-api` process."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from minio import Minio
from minio.deleteobjects import DeleteObject

from inference_localstack import stack
from inference_localstack.config import StackConfig
from inference_testkit.database import create_database, drop_database
from inference_testkit.servers import free_port, http_process, service_process_env

ADMIN = "admin"


REQUIRED_PARTS = ("postgres", "minio", "etcd", "kube-apiserver")


def stack_env() -> dict[str, str]:
    """The running stack's env (never starts one). Needs Postgres, MinIO and the apiserver."""
    config = StackConfig()
    running = stack.status(config)
    missing = [part for part in REQUIRED_PARTS if not running.get(part)]
    if not config.env_file.exists() or missing:
        raise SystemExit(f"the local stack is not running ({', '.join(missing)}): make up")
    return stack.read_env(config)


@contextmanager
def throwaway_database(env: dict[str, str]) -> Iterator[str]:
    url = create_database(env["DATABASE_URL"], f"bench_{secrets.token_hex(4)}")
    try:
        yield url
    finally:
        drop_database(url)


@contextmanager
def throwaway_bucket(client: Minio) -> Iterator[str]:
    bucket = f"bench-{secrets.token_hex(4)}"
    client.make_bucket(bucket)
    try:
        yield bucket
    finally:
        names = [DeleteObject(o.object_name) for o in client.list_objects(bucket, recursive=True)]
        for error in client.remove_objects(bucket, names):
            print("could not remove", error, file=sys.stderr)
        client.remove_bucket(bucket)


def service_env(
    env: dict[str, str], database_url: str, bucket: str, port: int, **extra: str
) -> dict[str, str]:
    """What every platform service run by a benchmark gets: the stack's object store, a
    throwaway database and bucket, production mode, quiet logs; `extra` adds or overrides."""
    settings = {
        "S3_ENDPOINT": env["S3_ENDPOINT"],
        "S3_ACCESS_KEY": env["S3_ACCESS_KEY"],
        "S3_SECRET_KEY": env["S3_SECRET_KEY"],
        "MODELS_BUCKET": bucket,
        "PORT": str(port),
    }
    return service_process_env(database_url, **(settings | extra))


@contextmanager
def api_process(
    env: dict[str, str], database_url: str, bucket: str, admin_password: str, **extra: str
) -> Iterator[tuple[str, int]]:
    """Runs `python -m inference_api.main`; yields (base URL, pid) once /health is 200."""
    port = free_port()
    settings = {
        "KUBECONFIG": env["KUBECONFIG"],
        "JWT_SECRET": secrets.token_urlsafe(48),
        "SERVER_UUID_KEY": secrets.token_urlsafe(48),
        "ADMIN_USERNAME": ADMIN,
        "ADMIN_PASSWORD": admin_password,
    }
    process_env = service_env(env, database_url, bucket, port, **(settings | extra))
    url = f"http://127.0.0.1:{port}"
    with http_process(
        [sys.executable, "-m", "inference_api.main"], process_env, f"{url}/health"
    ) as process:
        yield url, process.pid


def login(url: str, password: str) -> dict[str, str]:
    response = httpx.post(
        f"{url}/auth/token", json={"username": ADMIN, "password": password}, timeout=10
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _proc_status_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not found")


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size so far (VmHWM), in MiB."""
    return _proc_status_mib(pid, "VmHWM")


def reset_peak_rss(pid: int) -> None:
    """Starts a new peak-RSS measurement (Linux: writing 5 to clear_refs resets VmHWM)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def current_rss_mib(pid: int) -> float:
    return _proc_status_mib(pid, "VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank value at `fraction` (0.5 = median); NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]
