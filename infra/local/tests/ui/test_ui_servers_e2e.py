"""The Servers page's detail view end to end in Debian's chromium (Playwright,
frontend/e2e/servers.spec.ts): a user serves smollm2, opens its Events (the operator's
Ready), its log (llama.cpp's lines, followed across a tab switch and a visit to another
page), scales it 1→2→1 after a refusal by the contract service (the rule shown inline),
shares it with the namespace, and a member of the namespace sees it read-only. axe on each
view; screenshots at 1280 and 390 in frontend/test-results/screenshots/.

The UI and an API process of this checkout come from conftest.py's `ui_url`; the contract
service, operator, node runtime and gateway are the stack's."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from inference_localstack.frontend import FRONTEND_DIR, npm_env

E2E_TIMEOUT = 900


@pytest.mark.timeout(E2E_TIMEOUT + 60)
def test_server_detail_in_chromium(ui_url: str, stack_env: dict[str, str]) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: infra/local/bootstrap.sh --browser installs it"
    output = FRONTEND_DIR / "test-results"
    result = subprocess.run(
        [str(FRONTEND_DIR / "node_modules" / ".bin" / "playwright"), "test", "servers.spec.ts"],
        cwd=FRONTEND_DIR,
        env={
            **npm_env(),
            "UI_URL": ui_url,
            "CONTRACT_URL": stack_env["CONTRACT_URL"],
            "ADMIN_USERNAME": stack_env["ADMIN_USERNAME"],
            "ADMIN_PASSWORD": stack_env["ADMIN_PASSWORD"],
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
    shots = {p.name for p in (output / "screenshots").glob("servers-detail-*.png")}
    for view in ("events", "logs", "scaled", "shared"):
        assert {f"servers-detail-{view}-1280.png", f"servers-detail-{view}-390.png"} <= shots
