"""`inference-download`: runs the service with uvicorn (settings from the environment)."""

from __future__ import annotations

from inference_common import service
from inference_common.logging import configure_logging
from inference_download.app import create_app
from inference_download.settings import DownloadSettings


def main() -> None:
    settings = service.load_settings("inference-download", DownloadSettings)
    configure_logging(settings.log_level)
    service.run([service.listener(create_app(settings), settings.host, settings.port)])


if __name__ == "__main__":
    main()
