"""Console entry point `inference-gateway`: serves the gateway with uvicorn
(GATEWAY_HOST/GATEWAY_PORT, default 127.0.0.1:8203)."""

from __future__ import annotations

import uvicorn

from inference_common.logging import configure_logging
from inference_gateway.app import create_app
from inference_gateway.settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
