"""The `inference-api` process writes nothing but the platform's JSON log lines."""

from __future__ import annotations

from pathlib import Path

import httpx

from inference_api.settings import ApiSettings
from inference_testkit.logs import json_log

from .process import api_server


def test_the_api_logs_json_lines(api_settings: ApiSettings, tmp_path: Path) -> None:
    log = tmp_path / "api.log"
    with api_server(api_settings, log, LOG_LEVEL="INFO") as server:
        assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
    entries = json_log(log)
    assert any(e["message"] == "Application startup complete." for e in entries)
