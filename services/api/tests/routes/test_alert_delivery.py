"""Alertmanager, configured by the stack's own function, delivers an alert to a real API
process's receiver with the bearer token from its token file; admins then see it."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path
from typing import Any

import httpx
import yaml

from inference_api.settings import ApiSettings
from inference_localstack import observability
from inference_localstack.stack import toolchain_bin_dir
from inference_testkit.servers import free_port, stop_process, wait_http_ok
from inference_testkit.waiting import wait_for

from ..conftest import ADMIN
from ..process import api_server


def test_an_alert_sent_to_alertmanager_reaches_the_api(
    api_settings: ApiSettings, tmp_path: Path
) -> None:
    token = secrets.token_urlsafe(24)
    with api_server(api_settings, tmp_path / "api.log", ALERT_WEBHOOK_TOKEN=token) as api:
        (tmp_path / "webhook.token").write_text(token)
        config = observability.alertmanager_config(
            f"{api.url}{observability.ALERT_WEBHOOK_PATH}",
            tmp_path / "webhook.token",
            group_wait="1s",
        )
        (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        component = observability.alertmanager(
            toolchain_bin_dir(build=False),
            tmp_path / "alertmanager.yml",
            tmp_path / "data",
            port,
        )
        with (tmp_path / "alertmanager.log").open("wb") as log:
            process = subprocess.Popen(component.argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_http_ok(component.health_url, process, 60, tmp_path / "alertmanager.log")
            marker = secrets.token_hex(4)
            sent = httpx.post(
                f"http://127.0.0.1:{port}/api/v2/alerts",
                json=[
                    {
                        "labels": {"alertname": "LlamaCppTargetDown", "server_uuid": marker},
                        "annotations": {"summary": "test"},
                    }
                ],
                timeout=10,
            )
            assert sent.status_code == 200, sent.text
            password = api_settings.admin_password.get_secret_value()  # type: ignore[union-attr]
            login = httpx.post(
                f"{api.url}/auth/token", json={"username": ADMIN, "password": password}
            )
            admin = {"Authorization": f"Bearer {login.json()['access_token']}"}

            def delivered() -> dict[str, Any] | None:
                alerts = httpx.get(f"{api.url}/alerts", headers=admin, timeout=10).json()
                return next((a for a in alerts if a["labels"].get("server_uuid") == marker), None)

            alert = wait_for(delivered, timeout=60, interval=0.5, what="the alert at the API")
            assert alert["name"] == "LlamaCppTargetDown"
            assert alert["status"] == "firing"
        finally:
            stop_process(process, grace=10)
