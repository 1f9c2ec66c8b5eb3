"""The local kubelet's container-log API: pure selection (table-driven) and the real TLS
server on 127.0.0.1 with the stack's certificates made in a temporary state folder."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from inference_localstack import pki
from inference_localstack.config import StackConfig
from inference_localstack.node import logserver
from inference_localstack.node.logserver import LogQuery, LogTarget

LOG = b"--- start 1\nold-1\nold-2\n--- start 2\nnew-1\nnew-2\nnew-3\n"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/containerLogs/ns/pod-a/llama", LogTarget("ns", "pod-a", "llama")),
        ("/containerLogs/ns/pod-a/llama?tailLines=3", LogTarget("ns", "pod-a", "llama")),
        ("/containerLogs/ns/pod-a", None),
        ("/containerLogs/ns/../llama", None),
        ("/containerLogs/NS/pod/c", None),
        ("/logs/ns/pod/c", None),
        ("/containerLogs/ns/pod/c/extra", None),
    ],
)
def test_parse_target(path: str, expected: LogTarget | None) -> None:
    assert logserver.parse_target(path) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/x", LogQuery()),
        ("/x?follow=true&tailLines=5", LogQuery(follow=True, tail_lines=5)),
        ("/x?previous=1&limitBytes=10", LogQuery(previous=True, limit_bytes=10)),
        ("/x?follow=false&tailLines=0", LogQuery(tail_lines=0)),
    ],
)
def test_parse_query(path: str, expected: LogQuery) -> None:
    assert logserver.parse_query(path) == expected


@pytest.mark.parametrize("path", ["/x?tailLines=-1", "/x?tailLines=a", "/x?follow=maybe"])
def test_parse_query_refuses_bad_values(path: str) -> None:
    with pytest.raises(logserver.BadLogQueryError):
        logserver.parse_query(path)


@pytest.mark.parametrize(
    ("data", "query", "expected"),
    [
        (LOG, LogQuery(), b"new-1\nnew-2\nnew-3\n"),
        (LOG, LogQuery(tail_lines=2), b"new-2\nnew-3\n"),
        (LOG, LogQuery(tail_lines=0), b""),
        (LOG, LogQuery(tail_lines=10), b"new-1\nnew-2\nnew-3\n"),
        (LOG, LogQuery(previous=True), b"old-1\nold-2\n"),
        (LOG, LogQuery(limit_bytes=7), b"new-1\nn"),
        (b"--- start 1\nonly\n", LogQuery(previous=True), None),
        (b"no marker\n", LogQuery(), b"no marker\n"),
        (b"", LogQuery(), b""),
    ],
)
def test_select_run(data: bytes, query: LogQuery, expected: bytes | None) -> None:
    assert logserver.select_run(data, query) == expected


@dataclass
class Served:
    base: str
    log_dir: Path
    config: StackConfig


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    config = StackConfig(state_dir=tmp_path / "state")
    config.pki_dir.mkdir(parents=True)
    pki.ensure_certificates(config)
    pki.ensure_etcd_certificates(config)
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    cert, key = pki.kubelet_serving_cert(config)
    server = logserver.serve(
        ("127.0.0.1", 0), log_dir, cert, key, config.pki_dir / "ca.crt", pki.KUBELET_CLIENT_CN
    )
    try:
        yield Served(f"https://127.0.0.1:{server.server_address[1]}", log_dir, config)
    finally:
        server.stop()


def client_for(
    config: StackConfig, cert: tuple[Path, Path], ca: Path | None = None
) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(ca or config.pki_dir / "ca.crt"))
    context.load_cert_chain(*cert)
    return httpx.Client(verify=context, timeout=10.0)


def apiserver_client(served: Served) -> httpx.Client:
    return client_for(served.config, pki.kubelet_client_cert(served.config))


def test_tail_of_the_current_run(served: Served) -> None:
    (served.log_dir / "pod_ns_p_c.log").write_bytes(LOG)
    with apiserver_client(served) as http:
        reply = http.get(f"{served.base}/containerLogs/ns/p/c", params={"tailLines": 2})
    assert reply.status_code == 200
    assert reply.text == "new-2\nnew-3\n"


def test_missing_log_and_previous_are_clear_errors(served: Served) -> None:
    (served.log_dir / "pod_ns_p_c.log").write_bytes(b"--- start 1\nonly\n")
    with apiserver_client(served) as http:
        missing = http.get(f"{served.base}/containerLogs/ns/other/c")
        previous = http.get(f"{served.base}/containerLogs/ns/p/c", params={"previous": "true"})
        bad = http.get(f"{served.base}/containerLogs/ns/p/c", params={"tailLines": "x"})
    assert missing.status_code == 404
    assert "no log on this node" in missing.text
    assert previous.status_code == 400
    assert "previous terminated container" in previous.text
    assert bad.status_code == 400
    assert "tailLines" in bad.text


def test_follow_streams_appended_lines_until_the_next_run(served: Served) -> None:
    log = served.log_dir / "pod_ns_p_c.log"
    log.write_bytes(b"--- start 1\nfirst\n")

    def append() -> None:
        time.sleep(0.5)
        with log.open("ab") as f:
            f.write(b"second\n")
            f.flush()
            time.sleep(0.5)
            f.write(b"--- start 2\nnot-followed\n")

    writer = threading.Thread(target=append)
    writer.start()
    started = time.monotonic()
    with (
        apiserver_client(served) as http,
        http.stream("GET", f"{served.base}/containerLogs/ns/p/c", params={"follow": "true"}) as s,
    ):
        body = b"".join(s.iter_bytes())
    writer.join()
    assert body == b"first\nsecond\n"
    assert time.monotonic() - started < 8


def test_other_client_certificates_are_refused(served: Served, tmp_path: Path) -> None:
    (served.log_dir / "pod_ns_p_c.log").write_bytes(LOG)
    url = f"{served.base}/containerLogs/ns/p/c"
    same_ca_other_name = client_for(served.config, pki.etcd_client_cert(served.config))
    with same_ca_other_name as http:
        reply = http.get(url)
    assert reply.status_code == 403

    other = StackConfig(state_dir=tmp_path / "other")
    other.pki_dir.mkdir(parents=True)
    pki.ensure_certificates(other)
    foreign = client_for(other, pki.kubelet_client_cert(other), served.config.pki_dir / "ca.crt")
    with foreign as http, pytest.raises(httpx.HTTPError):
        http.get(url)

    bare = httpx.Client(
        verify=ssl.create_default_context(cafile=str(served.config.pki_dir / "ca.crt"))
    )
    with bare as http, pytest.raises(httpx.HTTPError):
        http.get(url)
