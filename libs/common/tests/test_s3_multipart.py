"""The shared multipart path against the stack's MinIO: content and hash, the last short
part, a resume that sends only the parts not stored yet, and the memory a copy holds."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import tracemalloc
from collections.abc import AsyncIterator, Iterator

import pytest
from minio import Minio

from inference_common.s3_multipart import (
    PART_BUFFERS,
    BufferPool,
    CompletedPart,
    MultipartWriter,
    PartReader,
    S3Client,
    S3Location,
    abort_upload,
    complete_upload,
    multipart_etag,
    pending_uploads,
    s3_client,
    start_upload,
    stored_parts,
)

MIB = 1024**2
PART = 5 * MIB


@pytest.fixture
def bucket(s3: Minio) -> Iterator[str]:
    name = f"test-mp-{secrets.token_hex(4)}"
    s3.make_bucket(name)
    yield name
    for item in s3.list_objects(name, recursive=True):
        s3.remove_object(name, str(item.object_name))
    s3.remove_bucket(name)


@pytest.fixture
def where(stack_env: dict[str, str]) -> S3Location:
    return S3Location(
        stack_env["S3_ENDPOINT"], stack_env["S3_ACCESS_KEY"], stack_env["S3_SECRET_KEY"]
    )


async def chunks(data: bytes, size: int = 300 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _stored(s3: Minio, bucket: str, key: str) -> bytes:
    response = s3.get_object(bucket, key)
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


async def _uploaded(
    client: S3Client,
    bucket: str,
    key: str,
    data: bytes,
    *,
    in_flight: int = 2,
    buffers: BufferPool = PART_BUFFERS,
) -> tuple[MultipartWriter, list[CompletedPart]]:
    """`data` streamed into a completed multipart upload of `key` in PART-sized parts."""
    upload_id = await start_upload(client, bucket, key)
    writer = MultipartWriter(
        client, bucket, key, upload_id, PART, in_flight=in_flight, buffers=buffers
    )
    await writer.write_all(chunks(data))
    parts = await writer.flush()
    await complete_upload(client, bucket, key, upload_id, parts)
    return writer, parts


async def test_stream_is_stored_whole_and_hashed(where: S3Location, bucket: str, s3: Minio) -> None:
    data = os.urandom(23 * MIB + 17)
    async with s3_client(where) as client:
        writer, parts = await _uploaded(client, bucket, "k", data)
    assert [p.size for p in parts] == [PART] * 4 + [3 * MIB + 17]
    assert writer.sha256.hexdigest() == hashlib.sha256(data).hexdigest()
    assert writer.bytes_sent == len(data)
    assert _stored(s3, bucket, "k") == data


async def test_resume_sends_only_the_missing_parts(
    where: S3Location, bucket: str, s3: Minio
) -> None:
    data = os.urandom(18 * MIB)
    recorded: list[CompletedPart] = []

    async def record(part: CompletedPart, sent: bool) -> None:
        recorded.append(part)

    async with s3_client(where) as client:
        upload_id = await start_upload(client, bucket, "k")
        first = MultipartWriter(client, bucket, "k", upload_id, PART, in_flight=1, on_part=record)
        await first.write_all(chunks(data[: 11 * MIB]))  # two full parts; the rest is lost
        await first.flush()
        assert [p.number for p in recorded] == [1, 2, 3]
        kept = [p for p in recorded if p.size == PART]
        assert (
            sorted(await stored_parts(client, bucket, "k", upload_id), key=lambda p: p.number)[:2]
            == kept
        )

        skipped: list[int] = []

        async def note(part: CompletedPart, sent: bool) -> None:
            if not sent:
                skipped.append(part.number)

        second = MultipartWriter(
            client, bucket, "k", upload_id, PART, in_flight=2, done=kept, on_part=note
        )
        await second.write_all(chunks(data))
        await second.complete(await second.flush())
        assert await pending_uploads(client, bucket, "k") == []
    assert skipped == [1, 2]
    assert second.bytes_sent == len(data) - 2 * PART
    assert second.sha256.hexdigest() == hashlib.sha256(data).hexdigest()
    assert _stored(s3, bucket, "k") == data


async def test_abort_removes_the_upload_and_tolerates_a_second_abort(
    where: S3Location, bucket: str
) -> None:
    async with s3_client(where) as client:
        upload_id = await start_upload(client, bucket, "k")
        assert await pending_uploads(client, bucket, "k") == [("k", upload_id)]
        await abort_upload(client, bucket, "k", upload_id)
        await abort_upload(client, bucket, "k", upload_id)
        assert await pending_uploads(client, bucket, "k") == []


async def test_memory_is_bounded_by_the_parts_in_flight(where: S3Location, bucket: str) -> None:
    """At most `in_flight + 1` parts are held (the one filling and those checked or sent):
    a part's bytes are not copied again on their way to the socket."""
    data = os.urandom(16 * PART)
    in_flight = 4

    async with s3_client(where) as client:
        # botocore builds its request machinery once
        await _uploaded(client, bucket, "warm-up", data[:PART], in_flight=in_flight)
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            writer, _ = await _uploaded(client, bucket, "k", data, in_flight=in_flight)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert writer.sha256.hexdigest() == hashlib.sha256(data).hexdigest()
    assert peak - before < (in_flight + 1) * PART + 2 * MIB, f"{(peak - before) / MIB:.1f} MiB"


async def test_a_second_file_reuses_the_first_ones_part_buffers(
    where: S3Location, bucket: str, s3: Minio
) -> None:
    """The pool gives the next writer the buffers the last one gave back (new ones, after
    the first file's were freed, came from the heap and stayed resident), the last, short
    part's included."""
    data = os.urandom(6 * PART + 123)
    pool = BufferPool(limit_bytes=4 * PART)

    async with s3_client(where) as client:
        await _uploaded(client, bucket, "first", data, buffers=pool)
        assert pool.free(PART) == 3  # in_flight + 1
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            second, _ = await _uploaded(client, bucket, "second", data, buffers=pool)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert pool.free(PART) == 3
    assert second.sha256.hexdigest() == hashlib.sha256(data).hexdigest()
    assert _stored(s3, bucket, "second") == data
    assert peak - before < PART, f"{(peak - before) / MIB:.1f} MiB allocated"


def test_the_pool_keeps_no_more_than_its_limit() -> None:
    pool = BufferPool(limit_bytes=10)
    given = [bytearray(4) for _ in range(3)]
    pool.give(given)
    assert pool.free(4) == 2  # the third would pass the limit
    assert pool.take(4) is given[1]
    assert pool.take(4) is given[0]
    assert all(pool.take(4) is not b for b in given)  # a new one
    assert len(pool.take(5)) == 5
    pool.give([bytearray(4), bytearray(4), bytearray(4)])
    assert pool.free(4) == 2


@pytest.mark.parametrize(("size", "reads"), [(10, [4, 4, 4]), (0, [3]), (7, [100])])
def test_a_part_reader_gives_the_first_bytes_of_its_buffer(size: int, reads: list[int]) -> None:
    buffer = bytearray(b"abcdefghijklmnop")
    reader = PartReader(buffer, size)
    assert len(reader) == size
    got = b"".join(reader.read(n) for n in reads)
    assert got == bytes(buffer[:size])
    assert reader.read(5) == b""
    assert reader.seek(0) == 0
    assert reader.read() == bytes(buffer[:size])
    assert reader.seek(-2, io.SEEK_END) == max(0, size - 2)
    assert reader.tell() == max(0, size - 2)


async def test_a_get_body_is_read_into_the_parts_and_every_buffer_goes_back(
    where: S3Location, bucket: str, s3: Minio
) -> None:
    """`fill_from`: a body that ends on a part boundary (the last buffer taken gets no byte)
    is stored whole, hashed, seen in order, and all `in_flight + 1` buffers are given back."""
    data = os.urandom(4 * PART)
    s3.put_object(bucket, "source", io.BytesIO(data), len(data))
    pool = BufferPool(limit_bytes=8 * PART)
    seen = bytearray()
    beats = 0

    def heartbeat() -> None:
        nonlocal beats
        beats += 1

    async with s3_client(where) as client:
        upload_id = await start_upload(client, bucket, "copy")
        writer = MultipartWriter(client, bucket, "copy", upload_id, PART, in_flight=2, buffers=pool)
        body = (await client.get_object(Bucket=bucket, Key="source"))["Body"]
        try:
            await writer.fill_from(client, body, seen=seen.extend, heartbeat=heartbeat)
        finally:
            client.release(body)
        parts = await writer.flush()
        await writer.complete(parts)
    assert [p.size for p in parts] == [PART] * 4
    assert bytes(seen) == data
    assert beats >= 4 * PART // MIB  # at least one a MiB
    assert writer.sha256.hexdigest() == hashlib.sha256(data).hexdigest()
    assert _stored(s3, bucket, "copy") == data
    assert pool.free(PART) == 3


@pytest.mark.parametrize(
    ("etags", "expected"),
    [
        (["d41d8cd98f00b204e9800998ecf8427e"], "59adb24ef3cdbe0297f05b395827453f-1"),
        (['"d41d8cd98f00b204e9800998ecf8427e"'], "59adb24ef3cdbe0297f05b395827453f-1"),
        (
            ["0cc175b9c0f1b6a831c399e269772661", "92eb5ffee6ae2fec3ad71c777531578f"],
            "96e024ba2074fe77e8e965ba43a704be-2",
        ),
    ],
    ids=["one part", "quoted as S3 sends it", "two parts"],
)
def test_multipart_etag_of_parts(etags: list[str], expected: str) -> None:
    parts = [CompletedPart(i, etag, 1) for i, etag in enumerate(etags, 1)]
    assert multipart_etag(parts) == expected


async def test_the_completed_objects_etag_is_the_one_its_parts_make(
    where: S3Location, bucket: str
) -> None:
    data = os.urandom(2 * PART + 123)
    async with s3_client(where) as client:
        _, parts = await _uploaded(client, bucket, "e", data)
        head = await client.head_object(Bucket=bucket, Key="e")
    assert len(parts) == 3
    assert str(head["ETag"]).strip('"') == multipart_etag(parts)
    assert multipart_etag(parts[:2]) != multipart_etag(parts)
