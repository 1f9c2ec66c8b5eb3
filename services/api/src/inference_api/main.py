"""`inference-api`: runs the service with uvicorn (DATABASE_URL, S3_*, KUBECONFIG, JWT_SECRET,
ADMIN_USERNAME, ADMIN_PASSWORD, DEV_MODE, HOST, PORT from the environment)."""

from __future__ import annotations

from inference_api.app import create_app
from inference_api.memory import return_large_blocks_to_the_system
from inference_api.settings import ApiSettings
from inference_common import service
from inference_common.logging import configure_logging


def main() -> None:
    return_large_blocks_to_the_system()
    settings = service.load_settings("inference-api", ApiSettings)
    configure_logging(settings.log_level)
    app = create_app(settings, freeze_gc=True)
    service.run([service.listener(app, settings.host, settings.port)])


if __name__ == "__main__":
    main()
