"""The UI server's pure parts: which file a URL names, which headers pass, cache rules,
which paths go to a service, what `/_/config` answers, the process's arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference_localstack.ui_process import ui_argv
from inference_localstack.ui_server import (
    cache_control,
    forward_headers,
    is_proxied,
    service_config,
    static_target,
)


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<html></html>")
    (tmp_path / "assets" / "index-abc.js").write_text("js")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    (tmp_path.parent / "secret.txt").write_text("no")
    return tmp_path


@pytest.mark.parametrize(
    ("url_path", "expected"),
    [
        pytest.param("/", "index.html", id="root"),
        pytest.param("/favicon.svg", "favicon.svg", id="file"),
        pytest.param("/assets/index-abc.js", "assets/index-abc.js", id="asset"),
        pytest.param("/servers", None, id="app route: index.html answers"),
        pytest.param("/assets", None, id="a directory is not a file"),
        pytest.param("/../secret.txt", None, id="no escape with .."),
        pytest.param("/assets/..\\..\\secret.txt", None, id="no backslash paths"),
    ],
)
def test_static_target(dist: Path, url_path: str, expected: str | None) -> None:
    found = static_target(dist, url_path)
    assert (str(found.relative_to(dist)) if found else None) == expected


@pytest.mark.parametrize(
    ("url_path", "expected"),
    [
        ("/assets/index-abc.js", "public, max-age=31536000, immutable"),
        ("/", "no-cache"),
        ("/servers", "no-cache"),
    ],
)
def test_cache_control(url_path: str, expected: str) -> None:
    assert cache_control(url_path) == expected


def test_forward_headers_drop_hop_by_hop_and_keep_the_rest() -> None:
    raw = [
        (b"host", b"127.0.0.1:5173"),
        (b"Connection", b"keep-alive"),
        (b"transfer-encoding", b"chunked"),
        (b"content-length", b"12"),
        (b"authorization", b"Bearer t"),
        (b"content-type", b"application/json"),
        (b"accept", b"text/event-stream"),
    ]
    assert forward_headers(raw) == [
        ("authorization", "Bearer t"),
        ("content-type", "application/json"),
        ("accept", "text/event-stream"),
    ]


@pytest.mark.parametrize(
    ("url_path", "expected"),
    [
        ("/_/api/models", True),
        ("/_/gateway/v1/models", True),
        ("/_/contract/usage/users/a", True),
        ("/_/download/downloads", True),
        ("/_/config", False),
        ("/_/apix/models", False),
        ("/api/tags", False),
        ("/servers", False),
    ],
)
def test_is_proxied(url_path: str, expected: bool) -> None:
    assert is_proxied(url_path) is expected


@pytest.mark.parametrize(
    ("upstreams", "expected"),
    [
        ({"api": "a", "gateway": "g"}, {"contract": False, "download": False}),
        ({"api": "a", "gateway": "g", "contract": "c"}, {"contract": True, "download": False}),
        (
            {"api": "a", "gateway": "g", "contract": "c", "download": "d"},
            {"contract": True, "download": True},
        ),
    ],
)
def test_service_config(upstreams: dict[str, str], expected: dict[str, bool]) -> None:
    assert service_config(upstreams) == {"services": {"api": True, "gateway": True, **expected}}


@pytest.mark.parametrize(
    ("optional", "tail"),
    [
        ({}, []),
        ({"contract_url": "http://c"}, ["--contract-url", "http://c"]),
        (
            {"contract_url": "http://c", "download_url": "http://d"},
            ["--contract-url", "http://c", "--download-url", "http://d"],
        ),
    ],
)
def test_ui_argv_passes_only_configured_services(optional: dict[str, str], tail: list[str]) -> None:
    argv = ui_argv(5173, Path("/d"), "http://a", "http://g", **optional)
    assert argv[argv.index("--gateway-url") + 2 :] == tail
