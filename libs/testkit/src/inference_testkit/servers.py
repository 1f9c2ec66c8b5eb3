"""Servers a test or benchmark starts as processes of its own: a free loopback port, a
bounded wait until the server answers, and a clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx


def service_process_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a platform service that a test or benchmark runs as a process: of
    ours only PATH and HOME (no stray setting leaks in), production mode, warnings and up;
    `settings` add to it or override it."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "DEV_MODE": "false",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        **settings,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(log: Path | None) -> str:
    return log.read_text(errors="replace")[-2000:] if log and log.exists() else ""


def wait_http_ok(
    url: str,
    process: subprocess.Popen[bytes] | None = None,
    timeout: float = 60.0,
    log: Path | None = None,
) -> None:
    """Waits (bounded) until GET url answers 200; fails at once when `process` exits."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}: {_tail(log)}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f}s: {_tail(log)}")
        time.sleep(0.2)


def stop_process(process: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def http_process(
    argv: Sequence[str],
    env: Mapping[str, str],
    health_url: str,
    log: Path | None = None,
    ready_within: float = 60.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Runs argv (an argument list, no shell) until the block ends; yields it once
    `health_url` answers 200. Output goes to `log` when given."""
    with (log or Path(os.devnull)).open("ab") as out:
        process = subprocess.Popen(list(argv), env=dict(env), stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_http_ok(health_url, process, ready_within, log)
            yield process
        finally:
            stop_process(process)
