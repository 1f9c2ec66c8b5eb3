"""`inference-contract`: the REST API over HTTP on PORT and, when WEBHOOK_TLS_CERT_FILE and
WEBHOOK_TLS_KEY_FILE are set, the same app over HTTPS on WEBHOOK_PORT for the apiserver.

One process, one app, one lifespan: both listeners share the database pool, the
reservations' locks and the reconcile; only the apiserver needs TLS.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from inference_common.logging import configure_logging
from inference_common.settings import SettingsError
from inference_contract.app import create_app
from inference_contract.settings import ContractSettings


def _config(app: FastAPI, host: str, port: int, **tls: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
        **tls,
    )


def _client_auth(client_ca_file: str | None) -> dict[str, Any]:
    """Only the apiserver (a client certificate from this CA) may call the webhook."""
    if client_ca_file is None:
        return {}
    return {"ssl_ca_certs": client_ca_file, "ssl_cert_reqs": ssl.CERT_REQUIRED}


def servers(settings: ContractSettings) -> list[uvicorn.Server]:
    app = create_app(settings, freeze_gc=True)
    result = [uvicorn.Server(_config(app, settings.host, settings.port))]
    if settings.webhook_tls_cert_file and settings.webhook_port is not None:
        tls = _config(
            app,
            settings.host,
            settings.webhook_port,
            ssl_certfile=settings.webhook_tls_cert_file,
            ssl_keyfile=settings.webhook_tls_key_file,
            **_client_auth(settings.webhook_client_ca_file),
            lifespan="off",  # the plain listener runs the one lifespan
        )
        result.append(uvicorn.Server(tls))
    return result


async def serve(settings: ContractSettings) -> None:
    await asyncio.gather(*(server.serve() for server in servers(settings)))


def main() -> None:
    try:
        settings = ContractSettings()
    except (SettingsError, ValidationError) as exc:
        print(f"inference-contract: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings.log_level)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
