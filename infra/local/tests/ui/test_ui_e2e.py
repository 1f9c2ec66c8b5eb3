"""The web UI end to end in Debian's chromium (Playwright, frontend/e2e): log in, every page
checked by axe-core and captured at 1280x800 and 390x844, upload a GGUF, serve smollm2 and
watch it go Ready, chat with a streamed answer, stop, create and revoke an API key, a
non-admin without admin pages, an expired session.

The test starts the UI server (this checkout's code and build) and, behind it, an API
process of this checkout on a free port (the stack's own API may run older code), against
the stack's Postgres, MinIO, apiserver and gateway. Screenshots land in
frontend/test-results/screenshots/.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from inference_localstack import platform_services
from inference_localstack.config import StackConfig
from inference_localstack.frontend import FRONTEND_DIR, ensure_built
from inference_localstack.ui_process import ui_argv
from inference_testkit.gguf_files import write_gguf
from inference_testkit.servers import free_port, http_process

from .browser import run_spec

E2E_TIMEOUT = 900


def server_uuid_key(cfg: StackConfig) -> str:
    """The key the stack's operator checks server uuids with (read, never generated); a stack
    started before the key existed runs without one (dev mode)."""
    key: str = json.loads((cfg.pki_dir / "secrets.json").read_text()).get("server_uuid_key", "")
    return key


@pytest.fixture(scope="module")
def ui_url(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    logs = tmp_path_factory.mktemp("ui-e2e")
    cfg = StackConfig()
    api_port = free_port()
    api_env = {
        **os.environ,
        **platform_services.local_placement(),
        # The API's own identity; UI_E2E_KUBECONFIG overrides it for a stack whose RBAC
        # predates the API's node and pod list rights.
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
        "HOST": "127.0.0.1",
        "PORT": str(api_port),
        "RUN_MIGRATIONS": "false",  # the stack's API migrated the database
        "WATCH_MODELSERVES": "false",  # the stack's API mirrors status already
    }
    api_argv = [str(Path(sys.executable).parent / "inference-api")]
    api_url = f"http://127.0.0.1:{api_port}"
    with http_process(api_argv, api_env, f"{api_url}/health", logs / "api.log"):
        dist = ensure_built()
        ui_port = free_port()
        ui_url = f"http://127.0.0.1:{ui_port}"
        argv = ui_argv(ui_port, dist, api_url, stack_env["GATEWAY_URL"])
        with http_process(argv, dict(os.environ), f"{ui_url}/", logs / "ui.log"):
            yield ui_url


@pytest.fixture
def tiny_gguf(tmp_path: Path) -> Path:
    """A small valid GGUF, unique per run (the registry refuses a file it already holds)."""
    return write_gguf(tmp_path / "tiny.gguf", context_length=4096, tokens=64)


@pytest.mark.timeout(E2E_TIMEOUT + 60)
def test_ui_end_to_end_in_chromium(ui_url: str, stack_env: dict[str, str], tiny_gguf: Path) -> None:
    env = {
        "UI_URL": ui_url,
        "ADMIN_USERNAME": stack_env["ADMIN_USERNAME"],
        "ADMIN_PASSWORD": stack_env["ADMIN_PASSWORD"],
        "E2E_GGUF_PATH": str(tiny_gguf),
    }
    shots = run_spec("ui.spec.ts", FRONTEND_DIR / "test-results", env, E2E_TIMEOUT)
    for page in ("login", "models", "servers", "playground", "gpus", "keys", "users"):
        assert f"{page}-1280.png" in shots
        assert f"{page}-390.png" in shots
