"""Limits before work, against the `inference-gateway` process: a POST is authenticated from
its headers before a byte of its body is read (and the connection closed, so the client
stops sending), a declared length over the limit is refused at once, and a chunked body is
counted as it arrives and refused at the limit — each in the API's own error shape. A raw
socket client sends the body while reading, as a client streaming an upload would, and
stops once answered."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from .conftest import gateway_entry_point

LIMIT = 1024 * 1024
HUGE = 256 * 1024 * 1024
CHUNK = 256 * 1024


@dataclass
class GatewayProcess:
    port: int
    pid: int
    token: str

    def memory_kib(self, field_name: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field_name} for {self.pid}")


@pytest.fixture(scope="module")
def gateway_process(
    stack_env: dict[str, str], database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    log = tmp_path_factory.mktemp("limits") / "gateway.log"
    with gateway_entry_point(
        stack_env, database_url, "gateway-limits-none", log, GATEWAY_MAX_BODY_BYTES=str(LIMIT)
    ) as running:
        port = urlsplit(running.url).port
        assert port is not None
        yield GatewayProcess(port, running.pid, running.token)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    sent: int  # body bytes written before the answer came
    seconds: float
    closed_by_gateway: bool


def _parse(received: bytes) -> tuple[int, dict[str, str], Any] | None:
    """Status, headers and JSON body once the whole answer is in."""
    raw_head, found, raw_body = received.partition(b"\r\n\r\n")
    if not found:
        return None
    status_line, *lines = raw_head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
    length = int(headers["content-length"])
    if len(raw_body) < length:
        return None
    return int(status_line.split()[1]), headers, json.loads(raw_body[:length])


def _post(port: int, path: str, headers: dict[str, str], total: int) -> Answer:
    """POSTs a chunked body of up to `total` bytes while reading, stops sending once the
    gateway answers, reads the whole answer and, when it says `connection: close`, waits
    for the gateway to close. Bounded: 20 s."""
    deadline = time.monotonic() + 20
    started = time.monotonic()
    head = {"host": "127.0.0.1", "content-type": "application/json", **headers}
    frame = f"{CHUNK:x}\r\n".encode() + b" " * CHUNK + b"\r\n"
    received = bytearray()
    sent = pending = 0  # whole chunks sent; bytes of the current frame sent
    closed = False
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\n".encode()
            + b"".join(f"{k}: {v}\r\n".encode() for k, v in head.items())
            + b"\r\n"
        )
        sock.setblocking(False)
        answered = None
        while time.monotonic() < deadline:
            sending = answered is None and sent < total
            readable, writable, _ = select.select([sock], [sock] if sending else [], [], 1.0)
            if readable:
                try:
                    data = sock.recv(1 << 16)
                except ConnectionResetError:
                    data = b""
                if not data:
                    closed = True
                    break
                received += data
                answered = answered or _parse(bytes(received))
                if answered and answered[1].get("connection") != "close":
                    break
            elif writable:
                try:
                    pending += sock.send(frame[pending:])
                except (BrokenPipeError, ConnectionResetError):
                    sent = total  # the gateway stopped reading: read what it answered
                    continue
                if pending == len(frame):
                    sent, pending = sent + CHUNK, 0
        seconds = time.monotonic() - started
    assert answered is not None, f"no answer to POST {path}: {bytes(received)[:300]!r}"
    status, answer_headers, body = answered
    return Answer(status, answer_headers, body, sent, seconds, closed)


SHAPES: dict[str, Callable[[Any], bool]] = {
    "/v1/chat/completions": lambda b: b["error"]["type"] == "invalid_request_error",
    "/v1/messages": lambda b: b["type"] == "error" and "error" in b,
    "/api/chat": lambda b: isinstance(b["error"], str),
    "/api/show": lambda b: isinstance(b["error"], str),
    "/generate": lambda b: "error_type" in b,
}


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/show"])
def test_an_unauthenticated_huge_chunked_body_is_refused_unread(
    gateway_process: GatewayProcess, path: str
) -> None:
    peak_before = gateway_process.memory_kib("VmHWM")
    answer = _post(gateway_process.port, path, {"transfer-encoding": "chunked"}, HUGE)
    assert answer.status == 401
    assert SHAPES[path](answer.body), answer.body
    assert answer.headers["connection"] == "close"
    assert answer.closed_by_gateway
    # what the sockets' buffers took before the answer, not the 256 MiB
    assert answer.sent < 32 * 1024 * 1024
    assert answer.seconds < 10
    assert gateway_process.memory_kib("VmHWM") - peak_before < 8 * 1024


@pytest.mark.parametrize("path", list(SHAPES))
def test_an_authenticated_body_over_the_limit_is_413_in_the_api_s_shape(
    gateway_process: GatewayProcess, path: str
) -> None:
    auth = {"authorization": f"Bearer {gateway_process.token}"}
    chunked = _post(gateway_process.port, path, {**auth, "transfer-encoding": "chunked"}, HUGE)
    assert chunked.status == 413
    assert SHAPES[path](chunked.body), chunked.body
    assert f"over {LIMIT} bytes" in json.dumps(chunked.body)
    assert chunked.sent < 32 * 1024 * 1024

    declared = _post(gateway_process.port, path, {**auth, "content-length": str(HUGE)}, 0)
    assert declared.status == 413
    assert SHAPES[path](declared.body), declared.body
    assert declared.sent == 0
