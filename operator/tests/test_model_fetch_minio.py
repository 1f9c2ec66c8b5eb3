"""The init container's command and its credential against the stack's real MinIO: a URL the
operator signs with its read-only user fetches its one object (verified, then cached) and
nothing else, and that user can neither list, write nor delete. Run as a subprocess exactly
as the pod runs it."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from minio import Minio
from minio.error import S3Error

from inference_common.model_fetch import EXIT_MISMATCH, EXIT_NOT_FOUND, EXIT_STORAGE
from inference_common.modelserve import ModelServeSpec
from inference_common.s3 import ensure_bucket
from inference_common.settings import MODELS_BUCKET, QUANT_BUCKET
from inference_localstack.object_store_users import ScopedUser
from inference_testkit.waiting import wait_for
from modelserve_operator.childmeta import Owner
from modelserve_operator.fetchurl import FetchUrlSigner

DATA = os.urandom(3 << 20)
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def object_key(s3: Minio) -> Iterator[str]:
    ensure_bucket(s3, MODELS_BUCKET)
    key = f"tests/model-fetch-{secrets.token_hex(4)}.gguf"
    s3.put_object(MODELS_BUCKET, key, io.BytesIO(DATA), len(DATA))
    yield key
    s3.remove_object(MODELS_BUCKET, key)


@pytest.fixture
def reader_client(stack_env: dict[str, str], model_reader: ScopedUser) -> Minio:
    return Minio(
        stack_env["S3_ENDPOINT"],
        access_key=model_reader.access_key,
        secret_key=model_reader.secret_key,
        secure=False,
        region="us-east-1",
    )


def url_of(client: Minio, key: str, lifetime: timedelta = timedelta(hours=12)) -> str:
    spec = {
        "model": {
            "name": "m",
            "source": {"s3": {"bucket": MODELS_BUCKET, "key": key}},
            "sha256": SHA,
        }
    }
    owner = Owner("m", "ns", secrets.token_hex(8), "u", ModelServeSpec.model_validate(spec))
    signer = FetchUrlSigner(client, lifetime, "")
    fetch = signer.url_for(owner, signer.window(owner, time.time()))
    assert fetch is not None
    return fetch.url


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "MODEL_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "inference_common.model_fetch", "url", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def http_status(url: str, method: str = "GET") -> int:
    request = urllib.request.Request(url, method=method)  # noqa: S310 - the stack's MinIO
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def test_fetch_verify_and_cache(reader_client: Minio, object_key: str, tmp_path: Path) -> None:
    url = url_of(reader_client, object_key)
    dest = tmp_path / f"{SHA}.gguf"
    first = run(url, "--sha256", SHA, "--dest", str(dest), "--size", str(len(DATA)))
    assert first.returncode == 0, first.stderr
    assert "model fetched" in first.stderr
    assert "X-Amz-Signature" not in first.stderr  # the URL is a credential: never logged
    assert dest.read_bytes() == DATA
    second = run(url, "--sha256", SHA, "--dest", str(dest))
    assert second.returncode == 0, second.stderr
    assert "model cached" in second.stderr


def test_fetch_refuses_wrong_checksum(
    reader_client: Minio, object_key: str, tmp_path: Path
) -> None:
    dest = tmp_path / "m.gguf"
    result = run(url_of(reader_client, object_key), "--sha256", "0" * 64, "--dest", str(dest))
    assert result.returncode == EXIT_MISMATCH
    assert "sha256 mismatch" in result.stderr
    assert not dest.exists()


def test_fetch_missing_object(reader_client: Minio, tmp_path: Path) -> None:
    url = url_of(reader_client, f"no/such-{secrets.token_hex(4)}.gguf")
    result = run(url, "--sha256", SHA, "--dest", str(tmp_path / "m.gguf"))
    assert result.returncode == EXIT_NOT_FOUND
    assert "HTTP 404" in result.stderr


def test_an_altered_url_is_refused(reader_client: Minio, object_key: str, tmp_path: Path) -> None:
    url = url_of(reader_client, object_key).replace("X-Amz-Signature=", "X-Amz-Signature=0")
    result = run(url, "--sha256", SHA, "--dest", str(tmp_path / "m.gguf"))
    assert result.returncode == EXIT_STORAGE
    assert "HTTP 403" in result.stderr
    assert "X-Amz-Signature" not in result.stderr


def test_the_url_opens_its_one_object_only(
    s3: Minio, reader_client: Minio, object_key: str
) -> None:
    other = f"tests/model-fetch-other-{secrets.token_hex(4)}.gguf"
    s3.put_object(MODELS_BUCKET, other, io.BytesIO(b"other"), 5)
    try:
        url = url_of(reader_client, object_key)
        assert http_status(url) == 200
        assert http_status(with_path(url, f"/{MODELS_BUCKET}/{other}")) == 403
        assert http_status(with_path(url, f"/{MODELS_BUCKET}/")) == 403  # no listing
        assert http_status(with_path(url, f"/{MODELS_BUCKET}")) == 403
        assert http_status(url, method="DELETE") == 403
        assert s3.stat_object(MODELS_BUCKET, object_key).size == len(DATA)
    finally:
        s3.remove_object(MODELS_BUCKET, other)


def test_an_expired_url_is_refused(reader_client: Minio, object_key: str) -> None:
    url = url_of(reader_client, object_key, lifetime=timedelta(seconds=2))
    assert http_status(url) in {200, 403}  # signed at its window's start: maybe gone already
    wait_for(lambda: http_status(url) == 403, timeout=10, what="the URL to expire")


def test_the_operators_key_can_only_read(s3: Minio, reader_client: Minio, object_key: str) -> None:
    response = reader_client.get_object(MODELS_BUCKET, object_key)
    try:
        assert response.read() == DATA
    finally:
        response.close()
        response.release_conn()
    denied = [
        lambda: reader_client.put_object(MODELS_BUCKET, "tests/x.gguf", io.BytesIO(b"x"), 1),
        lambda: reader_client.remove_object(MODELS_BUCKET, object_key),
        lambda: list(reader_client.list_objects(MODELS_BUCKET, prefix="tests/")),
        lambda: reader_client.get_object(QUANT_BUCKET, "anything"),
        lambda: reader_client.make_bucket(f"optr-{secrets.token_hex(4)}"),
    ]
    for attempt in denied:
        with pytest.raises(S3Error) as info:
            attempt()
        assert info.value.code == "AccessDenied"
    assert s3.stat_object(MODELS_BUCKET, object_key).size == len(DATA)


def test_two_pods_on_one_node_share_the_cache(
    reader_client: Minio, object_key: str, tmp_path: Path
) -> None:
    """Two init containers started together on one shared directory (a node's hostPath):
    the object is downloaded once, the other one reuses the verified file."""
    url = url_of(reader_client, object_key)
    dest = tmp_path / f"{SHA}.gguf"
    env = {"PATH": os.environ.get("PATH", ""), "MODEL_URL": url}
    command = [sys.executable, "-m", "inference_common.model_fetch", "url", "--sha256", SHA]
    pods = [
        subprocess.Popen(
            [*command, "--dest", str(dest)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    logs = [pod.communicate(timeout=60)[1] for pod in pods]
    assert [pod.returncode for pod in pods] == [0, 0], logs
    assert sum("model fetched" in log for log in logs) == 1, logs
    assert sum("model cached: the verified file is reused" in log for log in logs) == 1, logs
    assert dest.read_bytes() == DATA
    assert sorted(p.name for p in tmp_path.iterdir()) == [dest.name, f"{dest.name}.verified"]
