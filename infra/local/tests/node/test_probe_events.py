"""The prober reports Unhealthy as kubelet does: readiness when a Ready container stops
answering (not while it loads), liveness on each failed check once it was Ready. Probes go
to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from inference_localstack.node.supervisor import Prober


class Health:
    def __init__(self) -> None:
        self.status = 503


@pytest.fixture
def health() -> Iterator[tuple[Health, int]]:
    state = Health()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def container(port: int) -> dict[str, Any]:
    probe = {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 0}
    return {
        "name": "llama-server",
        "ports": [{"name": "http", "containerPort": port}],
        "readinessProbe": probe,
        "livenessProbe": {**probe, "failureThreshold": 2},
    }


def test_unhealthy_is_reported_only_after_ready(health: tuple[Health, int]) -> None:
    state, port = health
    reported: list[str] = []
    prober = Prober(container(port), "127.0.0.1", reported.append)

    assert prober.ready() is False  # loading: no event
    assert prober.liveness_failed() is False  # liveness waits for the first Ready
    assert reported == []

    state.status = 200
    assert prober.ready() is True
    assert prober.liveness_failed() is False
    assert reported == []

    state.status = 500
    assert prober.ready() is False
    assert prober.ready() is False  # still failing: reported once per transition
    assert prober.liveness_failed() is False
    assert prober.liveness_failed() is True
    url = f"http://127.0.0.1:{port}/health"
    assert reported == [
        f"Readiness probe failed: GET {url} did not succeed",
        f"Liveness probe failed: GET {url} did not succeed",
        f"Liveness probe failed: GET {url} did not succeed",
    ]
