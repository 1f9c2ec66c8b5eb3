"""The local kubelet's API as far as `kubectl logs` needs it: `GET /containerLogs/{namespace}/
{pod}/{container}` over TLS, for the apiserver's kubelet-client certificate only. The source
is the log file the supervisor writes per container, where each run of the container starts
with a `--- start <time>` line: the current run is what follows the last one, `previous=true`
the run before it (as kubelet keeps one terminated instance)."""

from __future__ import annotations

import logging
import re
import select
import ssl
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

logger = logging.getLogger("local-kubelet")

START_MARKER = b"--- start "
FOLLOW_POLL_SECONDS = 0.25
HANDSHAKE_TIMEOUT_SECONDS = 10.0
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


class BadLogQueryError(ValueError):
    """A query the endpoint refuses with 400, its message shown by `kubectl logs`."""


@dataclass(frozen=True)
class LogQuery:
    follow: bool = False
    tail_lines: int | None = None
    previous: bool = False
    limit_bytes: int | None = None


@dataclass(frozen=True)
class LogTarget:
    namespace: str
    pod: str
    container: str

    def file_name(self) -> str:
        return f"pod_{self.namespace}_{self.pod}_{self.container}.log"


def parse_target(path: str) -> LogTarget | None:
    """`/containerLogs/ns/pod/container` → its target; None for any other path or a name
    that is not a Kubernetes object name (so no path can leave the log folder)."""
    parts = urlsplit(path).path.split("/")
    if len(parts) != 5 or parts[0] != "" or parts[1] != "containerLogs":
        return None
    namespace, pod, container = parts[2:]
    if not all(_NAME.match(name) for name in (namespace, pod, container)):
        return None
    return LogTarget(namespace, pod, container)


def _flag(values: Mapping[str, list[str]], name: str) -> bool:
    value = values.get(name, ["false"])[-1].lower()
    if value not in ("true", "false", "1", "0", ""):
        raise BadLogQueryError(f"{name}: expected true or false, got {value!r}")
    return value in ("true", "1")


def _count(values: Mapping[str, list[str]], name: str) -> int | None:
    if name not in values:
        return None
    raw = values[name][-1]
    if not raw.isdigit():
        raise BadLogQueryError(f"{name}: expected a whole number >= 0, got {raw!r}")
    return int(raw)


def parse_query(path: str) -> LogQuery:
    values = parse_qs(urlsplit(path).query, keep_blank_values=True)
    return LogQuery(
        follow=_flag(values, "follow"),
        tail_lines=_count(values, "tailLines"),
        previous=_flag(values, "previous"),
        limit_bytes=_count(values, "limitBytes"),
    )


def runs(data: bytes) -> list[bytes]:
    """The log of each run of the container, oldest first, without the start markers."""
    found: list[bytes] = []
    current: list[bytes] = []
    started = False
    for line in data.splitlines(keepends=True):
        if line.startswith(START_MARKER):
            if started or current:
                found.append(b"".join(current))
            current, started = [], True
            continue
        current.append(line)
    if started or current:
        found.append(b"".join(current))
    return found


def select_run(data: bytes, query: LogQuery) -> bytes | None:
    """The requested run's text, cut to `tailLines` and `limitBytes`; None when a previous
    run is asked for and there is none."""
    found = runs(data)
    index = -2 if query.previous else -1
    if len(found) < (2 if query.previous else 1):
        return None if query.previous else b""
    text = found[index]
    if query.tail_lines is not None:
        lines = text.splitlines(keepends=True)
        text = b"".join(lines[-query.tail_lines :] if query.tail_lines else [])
    if query.limit_bytes is not None:
        text = text[: query.limit_bytes]
    return text


def peer_common_name(cert: Mapping[str, Any] | None) -> str | None:
    for rdn in (cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


def follow_file(path: Path, offset: int, stop: threading.Event) -> Iterator[bytes]:
    """Bytes appended to `path` after `offset`, as they come, until the container starts a
    new run (a start marker: kubelet ends a follow when its container exits), the file goes
    or `stop` is set. Yields b"" on every idle poll so the caller can check its client."""
    while not stop.is_set():
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return
        if size > offset:
            with path.open("rb") as f:
                f.seek(offset)
                chunk = f.read(size - offset)
            offset = size
            marker = chunk.find(b"\n" + START_MARKER)
            if chunk.startswith(START_MARKER):
                return
            if marker >= 0:
                yield chunk[: marker + 1]
                return
            yield chunk
        else:
            yield b""
            stop.wait(FOLLOW_POLL_SECONDS)


def tls_context(cert: Path, key: Path, client_ca: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    context.load_verify_locations(client_ca)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


class KubeletServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        log_dir: Path,
        context: ssl.SSLContext,
        allowed_client: str,
    ) -> None:
        super().__init__(address, _Handler)
        self.log_dir = log_dir
        self.allowed_client = allowed_client
        self.stopping = threading.Event()
        self.socket = context.wrap_socket(
            self.socket, server_side=True, do_handshake_on_connect=False
        )

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A refused handshake (no or a foreign certificate) is the client's problem: logged
        briefly instead of socketserver's traceback."""
        logger.info("kubelet API: connection from %s failed", client_address[0], exc_info=False)

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: KubeletServer
    timeout = HANDSHAKE_TIMEOUT_SECONDS

    def setup(self) -> None:
        self.request.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
        self.request.do_handshake()
        super().setup()

    def handle(self) -> None:
        try:
            super().handle()
        except (ssl.SSLError, OSError):
            return

    def _plain(self, status: int, message: str) -> None:
        body = (message + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if peer_common_name(self.request.getpeercert()) != self.server.allowed_client:
            self._plain(403, "Forbidden: only the apiserver's kubelet client may call")
            return
        target = parse_target(self.path)
        if target is None:
            self._plain(404, f"404 page not found: {urlsplit(self.path).path}")
            return
        try:
            query = parse_query(self.path)
        except BadLogQueryError as exc:
            self._plain(400, str(exc))
            return
        path = self.server.log_dir / target.file_name()
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self._plain(
                404,
                f'container "{target.container}" in pod "{target.pod}" has no log on this node',
            )
            return
        text = select_run(data, query)
        if text is None:
            self._plain(
                400,
                f'previous terminated container "{target.container}" in pod "{target.pod}" '
                "not found",
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        if not query.follow:
            self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)
        if query.follow and not query.previous:
            self._follow(path, len(data))

    def _follow(self, path: Path, offset: int) -> None:
        self.wfile.flush()
        self.request.settimeout(None)
        for chunk in follow_file(path, offset, self.server.stopping):
            if chunk:
                self.wfile.write(chunk)
                self.wfile.flush()
            elif self._client_gone():
                return

    def _client_gone(self) -> bool:
        """The client sends nothing after its request: anything readable is its goodbye."""
        readable, _, _ = select.select([self.request], [], [], 0)
        return bool(readable)

    def log_message(self, format: str, *args: Any) -> None:
        return


def serve(
    address: tuple[str, int],
    log_dir: Path,
    cert: Path,
    key: Path,
    client_ca: Path,
    allowed_client: str,
) -> KubeletServer:
    """Starts the server on a thread of its own and returns it (`stop()` ends it)."""
    server = KubeletServer(address, log_dir, tls_context(cert, key, client_ca), allowed_client)
    threading.Thread(target=server.serve_forever, name="kubelet-api", daemon=True).start()
    return server
