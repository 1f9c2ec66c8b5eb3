"""The UI server as a process (`python -m inference_localstack.ui_server`) writes nothing
but the platform's JSON log lines: here the warning of an unreachable upstream."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from inference_testkit.logs import json_log
from inference_testkit.servers import free_port, http_process


def test_the_ui_server_logs_json_lines(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html><title>ui</title>")
    port = free_port()
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    argv = [
        sys.executable,
        "-m",
        "inference_localstack.ui_server",
        *("--port", str(port), "--dist", str(dist)),
        *("--api-url", dead, "--gateway-url", dead),
    ]
    log = tmp_path / "ui.log"
    url = f"http://127.0.0.1:{port}"
    with http_process(argv, {"PATH": "", "HOME": str(tmp_path)}, f"{url}/", log=log):
        assert httpx.get(f"{url}/_/api/health", timeout=10).status_code == 502
    entries = json_log(log)
    assert [e["level"] for e in entries if "unreachable" in e["message"]] == ["warning"]
