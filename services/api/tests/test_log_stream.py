"""A followed log the caller leaves (`server_story.stream`), over a real socket on 127.0.0.1:
the read waiting in its worker thread must neither block the event loop until the next log
line nor put its half-read connection back into the client's pool."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import urllib3

from inference_api.server_story import stream

QUIET_SECONDS = 20.0
"""How long the fake log stays silent after its first line (the bound of the old hang)."""
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
LINE = b"line 1\n"


class QuietLog:
    """Connection 1: a chunked log that sends one line, then nothing for QUIET_SECONDS.
    Later connections: a plain `ok`. Counts the connections it accepted; `left`: the client
    closed the log's connection (before QUIET_SECONDS)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(QUIET_SECONDS)
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self.left = False
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self) -> None:
        for _ in range(2):
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                conn.recv(65536)
                if self.accepted == 1:
                    conn.sendall(HEAD + b"%x\r\n%s\r\n" % (len(LINE), LINE))
                    conn.settimeout(QUIET_SECONDS)
                    self.left = conn.recv(1) == b""  # the client shut the log's socket
                else:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


@pytest.fixture
def quiet_log() -> Iterator[QuietLog]:
    server = QuietLog()
    server.thread.start()
    yield server
    server.listener.close()
    server.thread.join(timeout=QUIET_SECONDS + 5)


async def test_a_log_left_mid_read_ends_at_once_and_its_connection_is_not_reused(
    quiet_log: QuietLog,
) -> None:
    pool = urllib3.HTTPConnectionPool("127.0.0.1", quiet_log.port, maxsize=1, retries=False)
    response = pool.request(
        "GET", "/log", preload_content=False, timeout=urllib3.Timeout(connect=5, read=60)
    )
    got: list[bytes] = []
    first = asyncio.Event()

    async def follow() -> None:
        """What Starlette's StreamingResponse does: iterate until cancelled."""
        async for chunk in stream(response):
            got.append(chunk)
            first.set()

    task = asyncio.create_task(follow())
    await asyncio.wait_for(first.wait(), timeout=10)
    assert got == [LINE]
    began = time.monotonic()
    task.cancel()  # the caller went away while the next read waits in its thread
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - began < 2

    again = await asyncio.to_thread(pool.request, "GET", "/next", timeout=10.0)
    assert (again.status, again.data) == (200, b"ok")
    assert quiet_log.left
    assert quiet_log.accepted == 2  # a fresh connection: the log's was never pooled again
