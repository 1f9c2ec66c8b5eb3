"""The Servers page's detail view end to end in Debian's chromium (Playwright,
frontend/e2e/servers.spec.ts): a user serves smollm2, opens its Events (the operator's
Ready), its log (llama.cpp's lines, followed across a tab switch and a visit to another
page), scales it 1→2→1 after a refusal by the contract service (the rule shown inline),
shares it with the namespace, and a member of the namespace sees it read-only. axe on each
view; screenshots at 1280 and 390 in frontend/test-results/screenshots/.

The UI and an API process of this checkout come from conftest.py's `ui_url`; the contract
service, operator, node runtime and gateway are the stack's."""

from __future__ import annotations

import pytest

from inference_localstack.frontend import FRONTEND_DIR

from .browser import run_spec

E2E_TIMEOUT = 900


@pytest.mark.timeout(E2E_TIMEOUT + 60)
def test_server_detail_in_chromium(ui_url: str, stack_env: dict[str, str]) -> None:
    env = {
        "UI_URL": ui_url,
        "CONTRACT_URL": stack_env["CONTRACT_URL"],
        "ADMIN_USERNAME": stack_env["ADMIN_USERNAME"],
        "ADMIN_PASSWORD": stack_env["ADMIN_PASSWORD"],
    }
    shots = set(run_spec("servers.spec.ts", FRONTEND_DIR / "test-results", env, E2E_TIMEOUT))
    for view in ("events", "logs", "scaled", "shared"):
        assert {f"servers-detail-{view}-1280.png", f"servers-detail-{view}-390.png"} <= shots
