"""The web UI end to end in Debian's chromium (Playwright, frontend/e2e): log in, every page
checked by axe-core and captured at 1280x800 and 390x844, upload a GGUF, serve smollm2 and
watch it go Ready, chat with a streamed answer, stop, create and revoke an API key, a
non-admin without admin pages, an expired session.

The `ui_url` fixture (conftest.py) starts the UI server (this checkout's code and build) and,
behind it, an API process of this checkout on a free port (the stack's own API may run older
code), against the stack's Postgres, MinIO, apiserver and gateway. Screenshots land in
frontend/test-results/screenshots/.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path

import gguf
import numpy as np
import pytest

from inference_localstack.frontend import FRONTEND_DIR, npm_env

E2E_TIMEOUT = 900


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
    assert chromium, "chromium is missing: infra/local/bootstrap.sh --browser installs it"
    output = FRONTEND_DIR / "test-results"
    result = subprocess.run(
        [str(FRONTEND_DIR / "node_modules" / ".bin" / "playwright"), "test", "ui.spec.ts"],
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
