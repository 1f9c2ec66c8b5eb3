"""Console entry point `inference-gateway`: serves the gateway with uvicorn
(GATEWAY_HOST/GATEWAY_PORT, default 127.0.0.1:8203)."""

from __future__ import annotations

from inference_common import service
from inference_common.logging import configure_logging
from inference_gateway.app import create_app
from inference_gateway.settings import GatewaySettings


def main() -> None:
    settings = service.load_settings("inference-gateway", GatewaySettings)
    configure_logging(settings.log_level)
    app = create_app(settings)
    # uvicorn's default, kept: X-Forwarded-* from 127.0.0.1 (FORWARDED_ALLOW_IPS) is believed
    service.run([service.listener(app, settings.host, settings.port, proxy_headers=True)])


if __name__ == "__main__":
    main()
