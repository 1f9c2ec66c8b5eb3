"""Runs a Playwright spec of `frontend/e2e` in Chromium against a UI a test serves."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from inference_localstack.frontend import FRONTEND_DIR, npm_env


def run_spec(spec: str, output: Path, env: dict[str, str], timeout: float) -> list[str]:
    """Asserts the spec passed with nothing skipped; returns the screenshots it took."""
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: infra/local/bootstrap.sh --browser installs it"
    result = subprocess.run(
        [str(FRONTEND_DIR / "node_modules" / ".bin" / "playwright"), "test", spec],
        cwd=FRONTEND_DIR,
        env={
            **npm_env(),
            **env,
            "E2E_OUTPUT_DIR": str(output),
            "CHROMIUM_PATH": chromium,
            "CI": "1",
            "NO_COLOR": "1",
        },
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-3000:]
    assert " passed" in result.stdout
    assert " skipped" not in result.stdout, result.stdout[-3000:]
    return sorted(p.name for p in (output / "screenshots").glob("*.png"))
