"""Runs the API as a real uvicorn process (the `inference-api` entry point) for tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from inference_api.settings import ApiSettings
from inference_testkit.servers import free_port, http_process, service_process_env


def settings_env(settings: ApiSettings, port: int) -> dict[str, str]:
    admin_password = settings.admin_password.get_secret_value() if settings.admin_password else ""
    return service_process_env(
        settings.database_url,
        DEV_MODE="true" if settings.dev_mode else "false",
        S3_ENDPOINT=settings.s3_endpoint,
        S3_ACCESS_KEY=settings.s3_access_key,
        S3_SECRET_KEY=settings.s3_secret_key.get_secret_value(),
        MODELS_BUCKET=settings.models_bucket,
        KUBECONFIG=settings.kubeconfig or "",
        JWT_SECRET=settings.jwt_secret.get_secret_value(),
        SERVER_UUID_KEY=settings.server_uuid_key.get_secret_value(),
        ADMIN_USERNAME=settings.admin_username,
        ADMIN_PASSWORD=admin_password,
        SERVERS_NAMESPACE=settings.servers_namespace,
        CONTRACT_URL=settings.contract_url,
        RUN_MIGRATIONS="true" if settings.run_migrations else "false",
        PORT=str(port),
    )


@contextmanager
def contract_server(settings: ApiSettings, log: Path, **env: str) -> Iterator[str]:
    """Starts the contract service (`inference-contract`) the API at `settings` decides
    with: the API's database and JWT secret, its namespace allowed, no webhook, no watch.
    `env`: more of its settings. Yields its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    contract_env = service_process_env(
        settings.database_url,
        KUBECONFIG=settings.kubeconfig or "",
        JWT_SECRET=settings.jwt_secret.get_secret_value(),
        JWT_ISSUER=settings.jwt_issuer,
        JWT_AUDIENCE=settings.jwt_audience,
        RUN_MIGRATIONS="false",
        WATCH_MODELSERVES="false",
        ALLOWED_NAMESPACES=f'["{settings.servers_namespace}"]',
        PORT=str(port),
        **env,
    )
    with http_process(
        [sys.executable, "-m", "inference_contract.main"], contract_env, f"{url}/health", log=log
    ):
        yield url


@dataclass(frozen=True)
class ApiServer:
    url: str
    pid: int


@contextmanager
def api_server(
    settings: ApiSettings, log: Path, ready_within: float = 60.0, **env: str
) -> Iterator[ApiServer]:
    """Starts the API (`env`: more settings), waits (bounded) until /health answers 200."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with http_process(
        [sys.executable, "-m", "inference_api.main"],
        {**settings_env(settings, port), **env},
        f"{url}/health",
        log=log,
        ready_within=ready_within,
    ) as process:
        yield ApiServer(url, process.pid)


@contextmanager
def api_process(settings: ApiSettings, log: Path, ready_within: float = 60.0) -> Iterator[str]:
    """Starts the API, waits (bounded) until /health answers 200, yields its base URL."""
    with api_server(settings, log, ready_within) as server:
        yield server.url
