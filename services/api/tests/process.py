"""Runs the API as a real uvicorn process (the `inference-api` entry point) for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from inference_api.settings import ApiSettings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_env(settings: ApiSettings, port: int) -> dict[str, str]:
    admin_password = settings.admin_password.get_secret_value() if settings.admin_password else ""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "DEV_MODE": "true" if settings.dev_mode else "false",
        "DATABASE_URL": settings.database_url,
        "S3_ENDPOINT": settings.s3_endpoint,
        "S3_ACCESS_KEY": settings.s3_access_key,
        "S3_SECRET_KEY": settings.s3_secret_key.get_secret_value(),
        "MODELS_BUCKET": settings.models_bucket,
        "KUBECONFIG": settings.kubeconfig or "",
        "JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "ADMIN_USERNAME": settings.admin_username,
        "ADMIN_PASSWORD": admin_password,
        "SERVERS_NAMESPACE": settings.servers_namespace,
        "ALLOWED_NAMESPACES": f'["{settings.servers_namespace}"]',
        "RUN_MIGRATIONS": "true" if settings.run_migrations else "false",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }


@contextmanager
def api_process(settings: ApiSettings, log: Path, ready_within: float = 60.0) -> Iterator[str]:
    """Starts the API, waits (bounded) until /health answers 200, yields its base URL."""
    port = free_port()
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "inference_api.main"],
            env=settings_env(settings, port),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + ready_within
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"inference-api exited: {log.read_text()[-2000:]}")
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"inference-api not healthy: {log.read_text()[-2000:]}")
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
