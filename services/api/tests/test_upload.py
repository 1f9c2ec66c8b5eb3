"""The multipart upload pipeline against the stack's MinIO: every failure after parts were
sent aborts the multipart upload (no object, no incomplete upload) and ends its threads."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from minio import Minio

from inference_api.upload import StoredFile, UploadAbortedError, UploadLimits, stream_gguf_to_s3
from inference_common.errors import PayloadTooLargeError, UnprocessableError
from inference_common.s3_multipart import S3Location, s3_client
from inference_localstack.embedded_model import embedded_model_path

MiB = 1024 * 1024
LIMITS = UploadLimits(
    max_bytes=1 << 40, part_bytes=5 * MiB, parallel_parts=2, max_header_bytes=64 * MiB
)


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    data = embedded_model_path().read_bytes()  # ~94 MiB: many 5 MiB parts
    assert len(data) > 40 * MiB
    return data


@pytest.fixture
async def client(stack_env: dict[str, str]) -> AsyncIterator[Any]:
    """The API's own kind of client: the shared multipart path's (unsigned payloads)."""
    where = S3Location(
        stack_env["S3_ENDPOINT"], stack_env["S3_ACCESS_KEY"], stack_env["S3_SECRET_KEY"]
    )
    async with s3_client(where) as uploads:
        yield uploads


async def chunks(data: bytes, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def upload_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("upload")]


async def no_upload_threads_left() -> None:
    deadline = time.monotonic() + 10
    while upload_threads():
        assert time.monotonic() < deadline, upload_threads()
        await asyncio.sleep(0.05)


def left_behind(s3: Minio, bucket: str, key: str) -> tuple[list[str], list[str]]:
    objects = [str(o.object_name) for o in s3.list_objects(bucket, prefix=key)]
    incomplete = [str(u.object_name) for u in s3._list_multipart_uploads(bucket).uploads]
    return objects, [name for name in incomplete if name == key]


async def test_the_stored_bytes_are_the_file(
    client: Any, s3: Minio, models_bucket: str, model_bytes: bytes
) -> None:
    key = f"models/test-{secrets.token_hex(4)}.gguf"
    stored = await stream_gguf_to_s3(
        chunks(model_bytes, 100_000), client, models_bucket, key, LIMITS, len(model_bytes)
    )
    try:
        assert isinstance(stored, StoredFile)
        assert stored.size == len(model_bytes)
        assert stored.sha256 == hashlib.sha256(model_bytes).hexdigest()
        assert stored.header.architecture == "llama"
        kept = s3.get_object(models_bucket, key)
        try:
            assert hashlib.sha256(kept.read()).hexdigest() == stored.sha256
        finally:
            kept.close()
            kept.release_conn()
        assert s3.stat_object(models_bucket, key).size == len(model_bytes)
    finally:
        s3.remove_object(models_bucket, key)
    await no_upload_threads_left()


async def _disconnecting(data: bytes) -> AsyncIterator[bytes]:
    async for chunk in chunks(data[: 30 * MiB]):
        yield chunk
    raise ConnectionResetError("client went away")


async def _stalling(data: bytes) -> AsyncIterator[bytes]:
    async for chunk in chunks(data[: 12 * MiB]):
        yield chunk
    await asyncio.sleep(30)


Case = tuple[Callable[[bytes], AsyncIterator[bytes]], UploadLimits, bool, type[Exception], str]

CASES: dict[str, Case] = {
    "client-disconnects": (_disconnecting, LIMITS, False, UploadAbortedError, "went away"),
    "client-stalls": (_stalling, LIMITS, False, UploadAbortedError, "no upload data"),
    "over-the-size-limit": (
        chunks,
        UploadLimits(25 * MiB, 5 * MiB, 2, 64 * MiB),
        False,
        PayloadTooLargeError,
        "exceeds",
    ),
    "shorter-than-content-length": (
        lambda data: chunks(data[: 31 * MiB]),
        LIMITS,
        True,
        UploadAbortedError,
        "Content-Length",
    ),
    "truncated-gguf": (
        lambda data: chunks(data[: 31 * MiB]),
        LIMITS,
        False,
        UnprocessableError,
        "truncated",
    ),
}


@pytest.mark.parametrize("case", CASES.keys())
async def test_failures_after_parts_were_sent_leave_nothing(
    case: str,
    client: Any,
    s3: Minio,
    models_bucket: str,
    model_bytes: bytes,
) -> None:
    body, limits, declare, error, message = CASES[case]
    # Only the stall case waits for the idle limit; the others keep a margin for a loaded machine.
    limits = dataclasses.replace(limits, idle_seconds=1.0 if case == "client-stalls" else 30.0)
    key = f"models/test-{secrets.token_hex(4)}.gguf"
    with pytest.raises(error, match=message):
        await stream_gguf_to_s3(
            body(model_bytes),
            client,
            models_bucket,
            key,
            limits,
            len(model_bytes) if declare else None,
        )
    assert left_behind(s3, models_bucket, key) == ([], [])
    await no_upload_threads_left()


async def test_a_cancelled_upload_is_aborted_before_the_cancellation_ends(
    client: Any, s3: Minio, models_bucket: str, model_bytes: bytes
) -> None:
    key = f"models/test-{secrets.token_hex(4)}.gguf"
    task = asyncio.create_task(
        stream_gguf_to_s3(_stalling(model_bytes), client, models_bucket, key, LIMITS)
    )
    deadline = time.monotonic() + 30
    while not left_behind(s3, models_bucket, key)[1]:  # a multipart upload exists
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert left_behind(s3, models_bucket, key) == ([], [])
    await no_upload_threads_left()


async def test_object_store_errors_end_the_upload(client: Any, model_bytes: bytes) -> None:
    missing = f"missing-{secrets.token_hex(4)}"
    with pytest.raises(ClientError, match="NoSuchBucket"):
        await stream_gguf_to_s3(chunks(model_bytes), client, missing, "models/x.gguf", LIMITS)
    await no_upload_threads_left()


def test_limits_bound_the_buffers() -> None:
    assert LIMITS.buffers == 3


async def test_small_files_are_one_put(
    client: Any, s3: Minio, models_bucket: str, tmp_path: Path
) -> None:
    from .gguf_files import gguf_bytes

    data = gguf_bytes(tmp_path, tokens=50)
    key = f"models/test-{secrets.token_hex(4)}.gguf"
    stored = await stream_gguf_to_s3(chunks(data, 1000), client, models_bucket, key, LIMITS)
    try:
        assert stored.size == len(data)
        assert s3.stat_object(models_bucket, key).size == len(data)
        # One PUT, so the ETag is the plain MD5 of the file (a multipart ETag ends in -N).
        assert "-" not in str(s3.stat_object(models_bucket, key).etag)
    finally:
        s3.remove_object(models_bucket, key)
