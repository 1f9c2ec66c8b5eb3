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

from pathlib import Path

import pytest

from inference_localstack.frontend import FRONTEND_DIR
from inference_testkit.gguf_files import write_gguf

from .browser import run_spec

E2E_TIMEOUT = 900


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
