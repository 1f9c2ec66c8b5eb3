"""The init container's command against the stack's real MinIO: fetch, cache hit, mismatch,
missing object — run as a subprocess exactly as the pod runs it."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from minio import Minio

from inference_common.model_fetch import EXIT_MISMATCH, EXIT_NOT_FOUND
from inference_common.s3 import ensure_bucket
from inference_common.settings import MODELS_BUCKET

DATA = os.urandom(3 << 20)
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def object_key(s3: Minio) -> Iterator[str]:
    ensure_bucket(s3, MODELS_BUCKET)
    key = f"tests/model-fetch-{secrets.token_hex(4)}.gguf"
    s3.put_object(MODELS_BUCKET, key, io.BytesIO(DATA), len(DATA))
    yield key
    s3.remove_object(MODELS_BUCKET, key)


def run(stack_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "S3_ENDPOINT": stack_env["S3_ENDPOINT"],
        "S3_ACCESS_KEY": stack_env["S3_ACCESS_KEY"],
        "S3_SECRET_KEY": stack_env["S3_SECRET_KEY"],
    }
    return subprocess.run(
        [sys.executable, "-m", "inference_common.model_fetch", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_fetch_verify_and_cache(stack_env: dict[str, str], object_key: str, tmp_path: Path) -> None:
    dest = tmp_path / f"{SHA}.gguf"
    argv = ["s3", "--bucket", MODELS_BUCKET, "--key", object_key, "--sha256", SHA]
    first = run(stack_env, *argv, "--dest", str(dest), "--size", str(len(DATA)))
    assert first.returncode == 0, first.stderr
    assert "model fetched" in first.stderr
    assert dest.read_bytes() == DATA
    second = run(stack_env, *argv, "--dest", str(dest))
    assert second.returncode == 0, second.stderr
    assert "model cached" in second.stderr


def test_fetch_refuses_wrong_checksum(
    stack_env: dict[str, str], object_key: str, tmp_path: Path
) -> None:
    dest = tmp_path / "m.gguf"
    result = run(
        stack_env,
        *("s3", "--bucket", MODELS_BUCKET, "--key", object_key, "--sha256", "0" * 64),
        *("--dest", str(dest)),
    )
    assert result.returncode == EXIT_MISMATCH
    assert "sha256 mismatch" in result.stderr
    assert not dest.exists()


def test_fetch_missing_object(stack_env: dict[str, str], tmp_path: Path) -> None:
    result = run(
        stack_env,
        *("s3", "--bucket", MODELS_BUCKET, "--key", "no/such.gguf", "--sha256", SHA),
        *("--dest", str(tmp_path / "m.gguf")),
    )
    assert result.returncode == EXIT_NOT_FOUND
    assert "NoSuchKey" in result.stderr
