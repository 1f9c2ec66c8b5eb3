"""`inference-download`: runs the service with uvicorn (settings from the environment)."""

from __future__ import annotations

import sys

import uvicorn
from pydantic import ValidationError

from inference_common.logging import configure_logging
from inference_common.settings import SettingsError
from inference_download.app import create_app
from inference_download.settings import DownloadSettings


def main() -> None:
    try:
        settings = DownloadSettings()
    except (SettingsError, ValidationError) as exc:
        print(f"inference-download: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
