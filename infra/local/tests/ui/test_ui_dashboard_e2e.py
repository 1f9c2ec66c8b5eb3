"""The Dashboard and the GPUs page's live data end to end in Debian's chromium (Playwright,
frontend/e2e/dashboard.spec.ts): the platform health score, and after chats through the
stack's gateway to a server of the test's own, non-empty request, TTFT and token panels read
from the stack's real Prometheus; the local node and the simulated ones "not reported" on
the GPUs page; a non-admin's dashboard; axe (light and dark) and screenshots at 1280 and 390.

The UI and an API process of this checkout (`PROMETHEUS_URL`: the stack's) come from
conftest.py's `ui_url`.
"""

from __future__ import annotations

import pytest

from inference_localstack.config import StackConfig
from inference_localstack.frontend import FRONTEND_DIR

from .browser import run_spec

E2E_TIMEOUT = 900


@pytest.mark.timeout(E2E_TIMEOUT + 60)
def test_dashboard_and_gpus_in_chromium(ui_url: str, stack_env: dict[str, str]) -> None:
    env = {
        "UI_URL": ui_url,
        "ADMIN_USERNAME": stack_env["ADMIN_USERNAME"],
        "ADMIN_PASSWORD": stack_env["ADMIN_PASSWORD"],
        "E2E_LOCAL_NODE": StackConfig().local_node_name,
    }
    shots = run_spec("dashboard.spec.ts", FRONTEND_DIR / "test-results-dashboard", env, E2E_TIMEOUT)
    for page in ("dashboard", "gpus"):
        for size in ("1280", "390", "dark-1280"):
            assert f"{page}-{size}.png" in shots
