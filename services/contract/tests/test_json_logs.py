"""The `inference-contract` process writes nothing but the platform's JSON log lines."""

from __future__ import annotations

from pathlib import Path

import httpx

from inference_contract.settings import ContractSettings
from inference_testkit.logs import json_log

from .conftest import contract_process


def test_the_contract_service_logs_json_lines(
    contract_settings: ContractSettings, tmp_path: Path
) -> None:
    log = tmp_path / "contract.log"
    with contract_process(contract_settings, log, LOG_LEVEL="INFO") as url:
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200
    entries = json_log(log)
    assert any(e["message"] == "Application startup complete." for e in entries)
