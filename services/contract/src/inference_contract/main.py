"""`inference-contract`: the REST API over HTTP on PORT and, when WEBHOOK_TLS_CERT_FILE and
WEBHOOK_TLS_KEY_FILE are set, the same app over HTTPS on WEBHOOK_PORT for the apiserver.

One process, one app, one lifespan: both listeners share the database pool, the
reservations' locks and the reconcile; only the apiserver needs TLS.
"""

from __future__ import annotations

import ssl
from typing import Any

import uvicorn

from inference_common import service
from inference_common.logging import configure_logging
from inference_contract.app import create_app
from inference_contract.settings import ContractSettings


def _client_auth(client_ca_file: str | None) -> dict[str, Any]:
    """Only the apiserver (a client certificate from this CA) may call the webhook."""
    if client_ca_file is None:
        return {}
    return {"ssl_ca_certs": client_ca_file, "ssl_cert_reqs": ssl.CERT_REQUIRED}


def listeners(settings: ContractSettings) -> list[uvicorn.Config]:
    app = create_app(settings, freeze_gc=True)
    result = [service.listener(app, settings.host, settings.port)]
    if settings.webhook_tls_cert_file and settings.webhook_port is not None:
        tls = service.listener(
            app,
            settings.host,
            settings.webhook_port,
            ssl_certfile=settings.webhook_tls_cert_file,
            ssl_keyfile=settings.webhook_tls_key_file,
            **_client_auth(settings.webhook_client_ca_file),
            lifespan="off",  # the plain listener runs the one lifespan
        )
        result.append(tls)
    return result


def main() -> None:
    settings = service.load_settings("inference-contract", ContractSettings)
    configure_logging(settings.log_level)
    service.run(listeners(settings))


if __name__ == "__main__":
    main()
