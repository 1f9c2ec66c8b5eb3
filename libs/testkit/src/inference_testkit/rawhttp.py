"""A request whose body keeps coming while the answer is read, on a plain socket: what a
client sending a huge body sees when the server answers early (HTTP clients stop at the
first failed write and lose that answer). Loopback only, bounded in bytes and time."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    sent: int  # body bytes written before the answer came
    seconds: float


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def post_large_body(
    url: str,
    path: str,
    total: int,
    headers: dict[str, str] | None = None,
    *,
    chunked: bool = True,
    send_body: bool = True,
    timeout: float = 60.0,  # noqa: ASYNC109
) -> RawResponse:
    """POSTs `total` bytes (chunked, or with Content-Length) until the answer arrives."""
    parts = urlsplit(url)
    assert parts.hostname in ("127.0.0.1", "localhost")
    assert parts.port is not None
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    head = f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{framing}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items()) + "\r\n"
    writer.write(head.encode("latin-1"))
    sent = 0
    answered = asyncio.Event()

    async def send() -> None:
        nonlocal sent
        piece = b"x" * (256 * 1024)
        frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece
        with contextlib.suppress(ConnectionError):
            while send_body and sent < total and not answered.is_set():
                writer.write(frame)
                await writer.drain()
                sent += len(piece)
                await asyncio.sleep(0)  # drain() need not suspend: let the answer be read
            if chunked and send_body and not answered.is_set():
                writer.write(b"0\r\n\r\n")
                await writer.drain()

    sender = asyncio.create_task(send())
    try:
        async with asyncio.timeout(timeout):
            status, response_headers, body = await _read_response(reader)
            answered.set()
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sender
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return RawResponse(status, response_headers, body, sent, time.monotonic() - started)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")
