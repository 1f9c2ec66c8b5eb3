"""The UI of this checkout on the stack, for the Playwright tests: the UI server (this
checkout's code and build) and, behind it, an API process of this checkout on a free port
(the stack's own API may run older code), against the stack's Postgres, MinIO, apiserver,
contract service, gateway and Prometheus."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from inference_localstack import platform_services
from inference_localstack.config import StackConfig
from inference_localstack.frontend import ensure_built
from inference_localstack.ui_process import ui_argv
from inference_testkit.servers import free_port, http_process


def server_uuid_key(cfg: StackConfig) -> str:
    """The key the stack's operator checks server uuids with (read, never generated); a stack
    started before the key existed runs without one (dev mode)."""
    key: str = json.loads((cfg.pki_dir / "secrets.json").read_text()).get("server_uuid_key", "")
    return key


@dataclass(frozen=True)
class CheckoutUi:
    ui_url: str
    api_url: str


@contextmanager
def checkout_ui(
    stack_env: dict[str, str], logs: Path, contract_url: str | None = None
) -> Iterator[CheckoutUi]:
    """An API process and a UI server of this checkout on the stack (the UI server also
    routes `/_/contract/` when `contract_url` is given)."""
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
        "CONTRACT_URL": stack_env["CONTRACT_URL"],
        "PROMETHEUS_URL": stack_env["PROMETHEUS_URL"],
        "HOST": "127.0.0.1",
        "PORT": str(api_port),
        "RUN_MIGRATIONS": "false",  # the stack's API migrated the database
        "WATCH_MODELSERVES": "false",  # the stack's API mirrors status already
    }
    api_argv = [str(Path(sys.executable).parent / "inference-api")]
    api_url = f"http://127.0.0.1:{api_port}"
    with http_process(api_argv, api_env, f"{api_url}/health", logs / "api.log"):
        ui_port = free_port()
        ui_url = f"http://127.0.0.1:{ui_port}"
        argv = ui_argv(
            ui_port, ensure_built(), api_url, stack_env["GATEWAY_URL"], contract_url=contract_url
        )
        with http_process(argv, dict(os.environ), f"{ui_url}/", logs / "ui.log"):
            yield CheckoutUi(ui_url, api_url)


@pytest.fixture(scope="module")
def ui_url(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with checkout_ui(stack_env, tmp_path_factory.mktemp("ui-e2e")) as ui:
        yield ui.ui_url
