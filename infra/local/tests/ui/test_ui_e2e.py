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
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import gguf
import httpx
import numpy as np
import pytest

from inference_localstack import platform_services
from inference_localstack.config import StackConfig
from inference_localstack.frontend import FRONTEND_DIR, ensure_built, npm_env
from inference_localstack.ui_process import ui_argv

E2E_TIMEOUT = 900


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{url} exited ({proc.returncode}): {log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} not healthy within {within}s: {log.read_text()[-3000:]}")


def started(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


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
    api = started([str(Path(sys.executable).parent / "inference-api")], api_env, logs / "api.log")
    ui = None
    try:
        wait_healthy(f"http://127.0.0.1:{api_port}/health", api, logs / "api.log")
        dist = ensure_built()
        ui_port = free_port()
        ui = started(
            ui_argv(ui_port, dist, f"http://127.0.0.1:{api_port}", stack_env["GATEWAY_URL"]),
            dict(os.environ),
            logs / "ui.log",
        )
        wait_healthy(f"http://127.0.0.1:{ui_port}/", ui, logs / "ui.log")
        yield f"http://127.0.0.1:{ui_port}"
    finally:
        if ui is not None:
            stop(ui)
        stop(api)


@pytest.fixture
def tiny_gguf(tmp_path: Path) -> Path:
    """A small valid GGUF, unique per run (the registry refuses a file it already holds)."""
    path = tmp_path / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(4096)
    writer.add_file_type(1)
    writer.add_tokenizer_model("llama")
    writer.add_token_list([f"tok{i}" for i in range(64)])
    writer.add_string("test.nonce", secrets.token_hex(8))
    writer.add_tensor("a", np.ones((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.timeout(E2E_TIMEOUT + 60)
def test_ui_end_to_end_in_chromium(ui_url: str, stack_env: dict[str, str], tiny_gguf: Path) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: infra/local/bootstrap.sh browser installs it"
    output = FRONTEND_DIR / "test-results"
    result = subprocess.run(
        [str(FRONTEND_DIR / "node_modules" / ".bin" / "playwright"), "test"],
        cwd=FRONTEND_DIR,
        env={
            **npm_env(),
            "UI_URL": ui_url,
            "ADMIN_USERNAME": stack_env["ADMIN_USERNAME"],
            "ADMIN_PASSWORD": stack_env["ADMIN_PASSWORD"],
            "E2E_GGUF_PATH": str(tiny_gguf),
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
    assert " passed" in result.stdout
    assert " skipped" not in result.stdout, result.stdout[-3000:]
    shots = sorted(p.name for p in (output / "screenshots").glob("*.png"))
    for page in ("login", "models", "servers", "playground", "gpus", "keys", "users"):
        assert f"{page}-1280.png" in shots
        assert f"{page}-390.png" in shots
