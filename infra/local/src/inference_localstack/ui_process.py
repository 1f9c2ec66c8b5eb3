"""Starting the UI server as a stack component (`make up`) or from a test."""

from __future__ import annotations

import sys
from pathlib import Path

from inference_localstack.components import Component
from inference_localstack.config import StackConfig


def ui_argv(
    port: int,
    dist: Path,
    api_url: str,
    gateway_url: str,
    *,
    contract_url: str | None = None,
    download_url: str | None = None,
) -> list[str]:
    optional = {"--contract-url": contract_url, "--download-url": download_url}
    return [
        sys.executable,
        "-m",
        "inference_localstack.ui_server",
        "--port",
        str(port),
        "--dist",
        str(dist),
        "--api-url",
        api_url,
        "--gateway-url",
        gateway_url,
        *(part for flag, url in optional.items() if url for part in (flag, url)),
    ]


def frontend_url(cfg: StackConfig) -> str:
    return f"http://127.0.0.1:{cfg.ports.frontend}"


def ui_component(cfg: StackConfig, dist: Path) -> Component:
    """The UI at FRONTEND_URL, in front of the stack's API, gateway, contract and download
    services."""
    return Component(
        "ui",
        ui_argv(
            cfg.ports.frontend,
            dist,
            f"http://127.0.0.1:{cfg.ports.api}",
            f"http://127.0.0.1:{cfg.ports.gateway}",
            contract_url=f"http://127.0.0.1:{cfg.ports.contract}",
            download_url=f"http://127.0.0.1:{cfg.ports.download}",
        ),
        f"{frontend_url(cfg)}/",
    )
