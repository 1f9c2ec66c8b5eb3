"""Limits before work, against the `inference-gateway` process: a POST is authenticated from
its headers before a byte of its body is read (and the connection closed, so the client
stops sending), a declared length over the limit is refused at once, and a chunked body is
counted as it arrives and refused at the limit — each in the API's own error shape. A raw
socket client sends the body while reading, as a client streaming an upload would, and
stops once answered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from inference_testkit.rawhttp import RawResponse, post_large_body, status_kib

from .conftest import GatewayEntryPoint, gateway_entry_point

LIMIT = 1024 * 1024
HUGE = 256 * 1024 * 1024


@pytest.fixture(scope="module")
def gateway_process(
    stack_env: dict[str, str], database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayEntryPoint]:
    log = tmp_path_factory.mktemp("limits") / "gateway.log"
    with gateway_entry_point(
        stack_env, database_url, "gateway-limits-none", log, GATEWAY_MAX_BODY_BYTES=str(LIMIT)
    ) as running:
        yield running


def _post(url: str, path: str, headers: dict[str, str], total: int, **options: Any) -> RawResponse:
    """POSTs a body of up to `total` bytes while reading, and stops sending once answered."""
    headers = {"content-type": "application/json", **headers}
    return asyncio.run(post_large_body(url, path, total, headers, timeout=20, **options))


SHAPES: dict[str, Callable[[Any], bool]] = {
    "/v1/chat/completions": lambda b: b["error"]["type"] == "invalid_request_error",
    "/v1/messages": lambda b: b["type"] == "error" and "error" in b,
    "/api/chat": lambda b: isinstance(b["error"], str),
    "/api/show": lambda b: isinstance(b["error"], str),
    "/generate": lambda b: "error_type" in b,
}


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/show"])
def test_an_unauthenticated_huge_chunked_body_is_refused_unread(
    gateway_process: GatewayEntryPoint, path: str
) -> None:
    peak_before = status_kib(gateway_process.pid, "VmHWM")
    answer = _post(gateway_process.url, path, {}, HUGE, wait_for_close=True)
    assert answer.status == 401
    assert SHAPES[path](answer.json()), answer.body
    assert answer.headers["connection"] == "close"
    assert answer.closed_by_server
    # what the sockets' buffers took before the answer, not the 256 MiB
    assert answer.sent < 32 * 1024 * 1024
    assert answer.seconds < 10
    assert status_kib(gateway_process.pid, "VmHWM") - peak_before < 8 * 1024


@pytest.mark.parametrize("path", list(SHAPES))
def test_an_authenticated_body_over_the_limit_is_413_in_the_api_s_shape(
    gateway_process: GatewayEntryPoint, path: str
) -> None:
    auth = {"authorization": f"Bearer {gateway_process.token}"}
    chunked = _post(gateway_process.url, path, auth, HUGE)
    assert chunked.status == 413
    assert SHAPES[path](chunked.json()), chunked.body
    assert f"over {LIMIT} bytes" in json.dumps(chunked.json())
    assert chunked.sent < 32 * 1024 * 1024

    declared = _post(gateway_process.url, path, auth, HUGE, chunked=False, send_body=False)
    assert declared.status == 413
    assert SHAPES[path](declared.json()), declared.body
    assert declared.sent == 0
