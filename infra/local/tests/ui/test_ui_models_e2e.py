"""Who may serve a model, in the web UI (Playwright in Debian's chromium,
frontend/e2e/models.spec.ts): an admin uploads a model (private) that a second user does not
see; shares it with a namespace the user may serve in, then makes it public: the user sees
it, read-only, and can pick it in the serve form; made private again, the user's serve is
refused with the contract's `model_not_allowed` message. The editor's own checks and the
API's refusal inline; axe in light and dark; screenshots at 1280 and 390.

The UI server and an API process are this checkout's (conftest.py's `checkout_ui`, with the
stack's contract service for the caller's allowed namespaces), on the stack's Postgres,
MinIO, apiserver and contract service. Nothing is served: the one serve is refused.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from inference_localstack.frontend import FRONTEND_DIR
from inference_testkit.gguf_files import write_gguf

from .browser import run_spec
from .conftest import checkout_ui

E2E_TIMEOUT = 600


@dataclass(frozen=True)
class Setup:
    ui_url: str
    api_url: str
    admin_token: str
    user: tuple[str, str]


def _admin_token(api_url: str, stack_env: dict[str, str]) -> str:
    answer = httpx.post(
        f"{api_url}/auth/token",
        json={"username": stack_env["ADMIN_USERNAME"], "password": stack_env["ADMIN_PASSWORD"]},
        timeout=30,
    )
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


@pytest.fixture(scope="module")
def setup(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    logs = tmp_path_factory.mktemp("ui-models")
    with checkout_ui(stack_env, logs, contract_url=stack_env["CONTRACT_URL"]) as ui:
        api_url = ui.api_url
        token = _admin_token(api_url, stack_env)
        user = (f"viewer-{secrets.token_hex(3)}", secrets.token_urlsafe(16))
        created = httpx.post(
            f"{api_url}/users",
            json={"username": user[0], "password": user[1], "role": "user"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        try:
            yield Setup(ui.ui_url, api_url, token, user)
        finally:
            httpx.patch(
                f"{api_url}/users/{user[0]}",
                json={"disabled": True},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )


def _delete_model(setup: Setup, name: str) -> None:
    headers = {"Authorization": f"Bearer {setup.admin_token}"}
    listed = httpx.get(
        f"{setup.api_url}/models", params={"limit": 1000}, headers=headers, timeout=30
    )
    for model in listed.json():
        if model["name"] == name:
            httpx.delete(f"{setup.api_url}/models/{model['uuid']}", headers=headers, timeout=30)


@pytest.mark.timeout(E2E_TIMEOUT + 60)
def test_model_visibility_in_chromium(
    setup: Setup, stack_env: dict[str, str], tmp_path: Path
) -> None:
    name = f"e2e-share-{secrets.token_hex(3)}:q"
    env = {
        "UI_URL": setup.ui_url,
        "ADMIN_USERNAME": stack_env["ADMIN_USERNAME"],
        "ADMIN_PASSWORD": stack_env["ADMIN_PASSWORD"],
        "E2E_USER": setup.user[0],
        "E2E_USER_PASSWORD": setup.user[1],
        "E2E_GGUF_PATH": str(write_gguf(tmp_path / "tiny.gguf", context_length=4096, tokens=64)),
        "E2E_MODEL_NAME": name,
    }
    try:
        shots = run_spec("models.spec.ts", FRONTEND_DIR / "test-results-models", env, E2E_TIMEOUT)
    finally:
        _delete_model(setup, name)
    assert "models-sharing-dark-1280.png" in shots
    for page in ("models-sharing", "models-visibility", "models-user"):
        assert f"{page}-1280.png" in shots
        assert f"{page}-390.png" in shots
