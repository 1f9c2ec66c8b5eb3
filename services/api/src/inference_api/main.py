"""`inference-api`: runs the service with uvicorn (DATABASE_URL, S3_*, KUBECONFIG, JWT_SECRET,
ADMIN_USERNAME, ADMIN_PASSWORD, DEV_MODE, HOST, PORT from the environment)."""

from __future__ import annotations

import sys

import uvicorn
from pydantic import ValidationError

from inference_api.app import create_app
from inference_api.memory import return_large_blocks_to_the_system
from inference_api.settings import ApiSettings
from inference_common.logging import configure_logging
from inference_common.settings import SettingsError


def main() -> None:
    return_large_blocks_to_the_system()
    try:
        settings = ApiSettings()
    except (SettingsError, ValidationError) as exc:
        print(f"inference-api: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings, freeze_gc=True),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
