"""Writes the OpenAPI documents (JSON) of the API, the gateway, the contract service and the
download service without running a server.

The apps are built by their factories; nothing starts (lifespans run only under a server).
Usage: uv run --no-sync python frontend/scripts/dump_openapi.py <out-dir>
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from inference_api.app import create_app as create_api
from inference_api.settings import ApiSettings
from inference_contract.app import create_app as create_contract
from inference_contract.settings import ContractSettings
from inference_download.app import create_app as create_download
from inference_download.settings import DownloadSettings
from inference_gateway.app import create_app as create_gateway
from inference_gateway.settings import GatewaySettings


def documents() -> dict[str, dict[str, Any]]:
    api = create_api(ApiSettings(dev_mode=True, admin_password=None))
    gateway = create_gateway(GatewaySettings(dev_mode=True), watch=False)
    contract = create_contract(ContractSettings(dev_mode=True))
    download = create_download(DownloadSettings(dev_mode=True))
    return {
        "api": api.openapi(),
        "gateway": gateway.openapi(),
        "contract": contract.openapi(),
        "download": download.openapi(),
    }


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "openapi")
    out.mkdir(parents=True, exist_ok=True)
    for name, doc in documents().items():
        (out / f"{name}.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
