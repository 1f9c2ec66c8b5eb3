"""The `inference-download` process writes nothing but the platform's JSON log lines."""

from __future__ import annotations

from pathlib import Path

import httpx

from inference_testkit.logs import json_log
from inference_testkit.servers import free_port

from .conftest import Users, download_service, service_env


def test_the_download_service_logs_json_lines(
    stack_env: dict[str, str],
    database_url: str,
    source_bucket: str,
    target_bucket: str,
    users: Users,
    tmp_path: Path,
) -> None:
    env = service_env(stack_env, database_url, source_bucket, target_bucket, users, free_port())
    log = tmp_path / "download.log"
    with download_service(env, log) as (url, _):
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200
    entries = json_log(log)
    assert any(e["message"] == "Application startup complete." for e in entries)
