"""The UI image's static server: files as they are, index.html for client-side routes,
/healthz for probes, no directory listings."""

from __future__ import annotations

import http.server
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from images.frontend.serve import SpaHandler


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "index.html").write_text("<app/>")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "main.js").write_text("run()")
    handler = partial(SpaHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - 127.0.0.1 only
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", (200, "<app/>")),
        ("/assets/main.js", (200, "run()")),
        ("/servers/abc", (200, "<app/>")),
        ("/healthz", (200, "ok\n")),
        ("/assets/", (404, "")),
    ],
)
def test_serves(server: str, path: str, expected: tuple[int, str]) -> None:
    assert _get(server + path) == expected
