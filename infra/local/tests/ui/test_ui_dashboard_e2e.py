"""The Dashboard and the GPUs page's live data end to end in Debian's chromium (Playwright,
frontend/e2e/dashboard.spec.ts): the platform health score, and after chats through the
stack's gateway to a server of the test's own, non-empty request, TTFT and token panels read
from the stack's real Prometheus; the local node and the simulated ones "not reported" on
the GPUs page; a non-admin's dashboard; axe (light and dark) and screenshots at 1280 and 390.

The test starts an API process of this checkout (`PROMETHEUS_URL`: the stack's) and a UI
server in front of it and the stack's gateway, as test_ui_e2e.py does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from inference_localstack import platform_services
from inference_localstack.config import StackConfig
from inference_localstack.frontend import FRONTEND_DIR, ensure_built, npm_env
from inference_localstack.ui_process import ui_argv
from inference_testkit.servers import free_port, http_process

E2E_TIMEOUT = 900


def server_uuid_key(cfg: StackConfig) -> str:
    """The stack operator's key for server uuids (read, never generated; as test_ui_e2e.py)."""
    key: str = json.loads((cfg.pki_dir / "secrets.json").read_text()).get("server_uuid_key", "")
    return key


@pytest.fixture(scope="module")
def ui_url(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    logs = tmp_path_factory.mktemp("ui-dashboard")
    cfg = StackConfig()
    api_port = free_port()
    api_env = {
        **os.environ,
        **platform_services.local_placement(),
        "KUBECONFIG": os.environ.get("UI_E2E_KUBECONFIG") or str(cfg.pki_dir / "api.kubeconfig"),
        "DEV_MODE": "true",
        "DATABASE_URL": stack_env["DATABASE_URL"],
        "S3_ENDPOINT": stack_env["S3_ENDPOINT"],
        "S3_ACCESS_KEY": stack_env["S3_ACCESS_KEY"],
        "S3_SECRET_KEY": stack_env["S3_SECRET_KEY"],
        "S3_SECURE": "false",
        "JWT_SECRET": stack_env["JWT_SECRET"],
        "SERVER_UUID_KEY": stack_env.get("SERVER_UUID_KEY") or server_uuid_key(cfg),
        "ADMIN_USERNAME": stack_env["ADMIN_USERNAME"],
        "ADMIN_PASSWORD": stack_env["ADMIN_PASSWORD"],
        "SERVERS_NAMESPACE": platform_services.SERVERS_NAMESPACE,
        "PROMETHEUS_URL": stack_env["PROMETHEUS_URL"],
        "HOST": "127.0.0.1",
        "PORT": str(api_port),
        "RUN_MIGRATIONS": "false",
        "WATCH_MODELSERVES": "false",
    }
    api_url = f"http://127.0.0.1:{api_port}"
    api_argv = [str(Path(sys.executable).parent / "inference-api")]
    with http_process(api_argv, api_env, f"{api_url}/health", logs / "api.log"):
        ui_port = free_port()
        url = f"http://127.0.0.1:{ui_port}"
        argv = ui_argv(ui_port, ensure_built(), api_url, stack_env["GATEWAY_URL"])
        with http_process(argv, dict(os.environ), f"{url}/", logs / "ui.log"):
            yield url


@pytest.mark.timeout(E2E_TIMEOUT + 60)
def test_dashboard_and_gpus_in_chromium(ui_url: str, stack_env: dict[str, str]) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: infra/local/bootstrap.sh --browser installs it"
    output = FRONTEND_DIR / "test-results-dashboard"
    result = subprocess.run(
        [str(FRONTEND_DIR / "node_modules" / ".bin" / "playwright"), "test", "dashboard.spec.ts"],
        cwd=FRONTEND_DIR,
        env={
            **npm_env(),
            "UI_URL": ui_url,
            "ADMIN_USERNAME": stack_env["ADMIN_USERNAME"],
            "ADMIN_PASSWORD": stack_env["ADMIN_PASSWORD"],
            "E2E_LOCAL_NODE": StackConfig().local_node_name,
            "E2E_OUTPUT_DIR": str(output),
            "CHROMIUM_PATH": chromium,
            "CI": "1",
            "NO_COLOR": "1",
        },
        capture_output=True,
        text=True,
        timeout=E2E_TIMEOUT,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-3000:]
    assert "3 passed" in result.stdout, result.stdout[-3000:]
    shots = sorted(p.name for p in (output / "screenshots").glob("*.png"))
    for page in ("dashboard", "gpus"):
        for size in ("1280", "390", "dark-1280"):
            assert f"{page}-{size}.png" in shots
