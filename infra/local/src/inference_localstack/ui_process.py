"""Starting the UI server as a stack component (`make up`) or from a test."""

from __future__ import annotations

import sys
from pathlib import Path

from inference_localstack.components import Component
from inference_localstack.config import StackConfig


def ui_argv(port: int, dist: Path, api_url: str, gateway_url: str) -> list[str]:
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
    ]


def frontend_url(cfg: StackConfig) -> str:
    return f"http://127.0.0.1:{cfg.ports.frontend}"


def ui_component(cfg: StackConfig, dist: Path) -> Component:
    """The UI at FRONTEND_URL, in front of the stack's API and gateway."""
    return Component(
        "ui",
        ui_argv(
            cfg.ports.frontend,
            dist,
            f"http://127.0.0.1:{cfg.ports.api}",
            f"http://127.0.0.1:{cfg.ports.gateway}",
        ),
        f"{frontend_url(cfg)}/",
    )
