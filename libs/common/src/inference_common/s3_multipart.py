"""One streaming multipart path into S3, on botocore's public API (the `multipart` extra).

Bytes arrive as an async iterator of chunks (a request body: `MultipartWriter.write`) or a
blocking GET body read straight into the part buffers (`MultipartWriter.fill_from`), and
leave as a multipart upload: a bounded number of parts in flight (memory:
`(in_flight + 1) x part`, the buffers reused from file to file), no temporary file, the
SHA-256 computed as the bytes pass. A writer resumes an upload from the parts already stored
(number, ETag, size): those are read again from the stream (so the hash covers the whole
file) but not sent again.

The client is botocore's own (blocking) client, its calls run in a pool of worker threads
(`S3Client`): the event loop never waits on S3, and the bytes move through urllib3's
blocking sockets, which read and send in large pieces with the GIL released. Measured on the
2-core dev machine, this writer copying 2 GiB between two MinIOs: 2.6-2.8 s of CPU through
`fill_from` (2.9 s through chunks; 1 GiB through aiobotocore/aiohttp cost 1.50-1.78 s
against 1.49 s), and 2.2 s for minio-py's own `put_object`, which reads ahead without
bound (its process peaks about 80 MiB above its rest); a process using it rests 14 MiB
lighter than with aiohttp.

Why botocore and not minio-py: minio-py's public `put_object` cannot resume an upload (its
per-part calls are private), and obstore's streaming `put` neither exposes the upload id nor
the parts it stored. botocore exposes every multipart call publicly.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import io
import math
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

from inference_common.settings import CommonSettings

MIN_PART_BYTES = 5 * 1024**2
MAX_PART_BYTES = 5 * 1024**3
MAX_PARTS = 10_000
PART_ALIGN = 1024**2
CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class S3Location:
    """How to reach one S3 server (host:port as in the settings)."""

    endpoint: str
    access_key: str
    secret_key: str
    secure: bool = False

    @property
    def url(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.endpoint}"

    @classmethod
    def of(cls, settings: CommonSettings) -> S3Location:
        """Our own object store, from a service's settings."""
        return cls(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key.get_secret_value(),
            settings.s3_secure,
        )


@dataclass(frozen=True)
class CompletedPart:
    number: int
    etag: str
    size: int

    def as_list(self) -> list[Any]:
        return [self.number, self.etag, self.size]

    @classmethod
    def from_list(cls, value: Iterable[Any]) -> CompletedPart:
        number, etag, size = value
        return cls(int(number), str(etag), int(size))


def part_size_for(total_bytes: int, minimum: int = MIN_PART_BYTES) -> int:
    """The smallest part size ≥ `minimum` (rounded up to whole MiB) that fits the file in
    MAX_PARTS parts: a 1 TiB file gets 105 MiB parts."""
    if total_bytes > MAX_PART_BYTES * MAX_PARTS:
        raise ValueError(f"{total_bytes} bytes do not fit in {MAX_PARTS} parts")
    needed = math.ceil(total_bytes / MAX_PARTS)
    size = max(minimum, MIN_PART_BYTES, needed)
    return min(MAX_PART_BYTES, math.ceil(size / PART_ALIGN) * PART_ALIGN)


@functools.cache
def _session() -> botocore.session.Session:
    """One botocore session per process: its clients share the parsed S3 service model
    (about 12 MiB per client otherwise)."""
    return botocore.session.get_session()


class S3Client:
    """botocore's S3 client, each call awaited while it runs in one of the client's own
    worker threads: `await client.head_object(Bucket=..., Key=...)` for any S3 operation,
    `pages(...)` for a paginated one, `read(...)` for a small object's bytes.

    A cancelled call stops being awaited at once; its thread finishes the request in the
    background (bounded by the client's timeouts)."""

    def __init__(self, client: Any, workers: int) -> None:
        self.sync = client
        self.exceptions = client.exceptions
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="s3")

    def __getattr__(self, operation: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.sync, operation)

        async def call(**params: Any) -> Any:
            return await self.run(method, **params)

        return call

    async def run(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(function, *args, **kwargs))

    async def pages(self, operation: str, **params: Any) -> AsyncIterator[dict[str, Any]]:
        pages = iter(self.sync.get_paginator(operation).paginate(**params))
        while (page := await self.run(next, pages, None)) is not None:
            yield page

    async def read(self, bucket: str, key: str, limit: int) -> bytes:
        """At most `limit` bytes of an object (a manifest, a header)."""

        def fetch() -> bytes:
            body = self.sync.get_object(Bucket=bucket, Key=key)["Body"]
            try:
                data: bytes = body.read(limit)
                return data
            finally:
                body.close()

        data: bytes = await self.run(fetch)
        return data

    def release(self, body: Any) -> None:
        """Closes a response body in a worker thread, not awaited: a read blocked on a
        stalled server holds the body's lock until its timeout, and nothing on the event
        loop may wait for that."""

        def close() -> None:
            with contextlib.suppress(Exception):
                body.close()

        self._pool.submit(close)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.sync.close()


@asynccontextmanager
async def s3_client(location: S3Location, max_connections: int = 10) -> AsyncIterator[S3Client]:
    """An S3 client with `max_connections` connections and as many worker threads.
    Checksums only where the API requires them: the SHA-256 computed here covers the whole
    file instead of a CRC per part. Bodies are sent as `UNSIGNED-PAYLOAD` (botocore's public
    `payload_signing_enabled` setting; without it, plain HTTP signs a SHA-256 of every part):
    headers, query and credentials stay signed, and an altered body is caught by the file's
    recorded SHA-256, which every reader of a model file checks (the download service before
    it registers, the serving init container before it loads)."""
    config = Config(
        max_pool_connections=max_connections,
        s3={"addressing_style": "path", "payload_signing_enabled": False},
        retries={"max_attempts": 1, "mode": "standard"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        connect_timeout=10,
        read_timeout=60,
    )

    def create() -> Any:
        return _session().create_client(
            "s3",
            endpoint_url=location.url,
            aws_access_key_id=location.access_key,
            aws_secret_access_key=location.secret_key,
            region_name="us-east-1",
            config=config,
        )

    client = S3Client(await asyncio.to_thread(create), max_connections)
    try:
        yield client
    finally:
        client.close()


MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404"})
"""What S3 answers for an absent object (a HEAD has no body: only the status)."""


def s3_error_code(exc: ClientError) -> str:
    """The S3 error code of a botocore `ClientError` ("" when it has none)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


async def start_upload(client: S3Client, bucket: str, key: str) -> str:
    response = await client.create_multipart_upload(
        Bucket=bucket, Key=key, ContentType=CONTENT_TYPE
    )
    return str(response["UploadId"])


async def abort_upload(client: S3Client, bucket: str, key: str, upload_id: str) -> None:
    """Aborts; an upload that is already gone is fine."""
    try:
        await client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except client.exceptions.NoSuchUpload:
        return


async def complete_upload(
    client: S3Client, bucket: str, key: str, upload_id: str, parts: list[CompletedPart]
) -> None:
    await client.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]},
    )


def multipart_etag(parts: Iterable[CompletedPart]) -> str:
    """The ETag S3 (and MinIO) give the object these parts complete: the MD5 of the parts'
    binary MD5s, then the part count. Tells whether an object is the one an upload made."""
    digests = [bytes.fromhex(p.etag.strip('"')) for p in parts]
    md5 = hashlib.md5(b"".join(digests), usedforsecurity=False)
    return f"{md5.hexdigest()}-{len(digests)}"


async def pending_uploads(client: S3Client, bucket: str, prefix: str) -> list[tuple[str, str]]:
    """(key, upload id) of the incomplete multipart uploads under `prefix`."""
    found: list[tuple[str, str]] = []
    async for page in client.pages("list_multipart_uploads", Bucket=bucket, Prefix=prefix):
        found.extend((u["Key"], u["UploadId"]) for u in page.get("Uploads", []))
    return found


async def stored_parts(
    client: S3Client, bucket: str, key: str, upload_id: str
) -> list[CompletedPart]:
    """The parts the server holds for an upload (to check the recorded ones against)."""
    parts: list[CompletedPart] = []
    async for page in client.pages("list_parts", Bucket=bucket, Key=key, UploadId=upload_id):
        parts.extend(
            CompletedPart(p["PartNumber"], str(p["ETag"]).strip('"'), p["Size"])
            for p in page.get("Parts", [])
        )
    return parts


class BufferPool:
    """Part buffers kept from one writer to the next (per size, at most `limit_bytes` in
    all). A writer that allocated its own buffers for every file made the process grow: once
    glibc had unmapped the first file's buffers it raised its mmap threshold past their size
    (its dynamic threshold), so the next file's buffers came from the heap, whose freed
    pages stay resident; the download service's peak grew by about a part per import."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._free: dict[int, list[bytearray]] = {}
        self._held = 0

    def take(self, size: int) -> bytearray:
        free = self._free.get(size)
        if free:
            self._held -= size
            return free.pop()
        return bytearray(size)

    def free(self, size: int) -> int:
        """How many buffers of `size` wait to be taken."""
        return len(self._free.get(size, ()))

    def give(self, buffers: Iterable[bytearray]) -> None:
        for buffer in buffers:
            if self._held + len(buffer) <= self.limit_bytes:
                self._free.setdefault(len(buffer), []).append(buffer)
                self._held += len(buffer)


PART_BUFFERS = BufferPool(64 * 1024**2)


class PartReader(io.RawIOBase):
    """The first `size` bytes of a buffer as a seekable file, without a copy (botocore takes
    bytes, a bytearray or a file as a body; a memoryview it refuses)."""

    def __init__(self, buffer: bytearray, size: int) -> None:
        super().__init__()
        self._buffer = buffer
        self._size = size
        self._at = 0

    def __len__(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        count = min(len(target), self._size - self._at)
        with memoryview(self._buffer) as whole:
            target[:count] = whole[self._at : self._at + count]
        self._at += count
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._at, io.SEEK_END: self._size}[whence]
        self._at = min(max(0, base + offset), self._size)
        return self._at

    def tell(self) -> int:
        return self._at


PartCallback = Callable[[CompletedPart, bool], Awaitable[None]]
Inspector = Callable[[memoryview], None]


class MultipartWriter:
    """Cuts a stream into parts and uploads them, `in_flight` at a time at most.

    `done`: parts stored earlier under the same upload id, skipped when the stream's part
    has the same size. `on_part(part, sent)` runs (in part order of completion) after each
    part is stored or skipped; `sent` is False for a skipped one.

    Each part is checked in a worker thread, one part at a time in file order, while the
    next one fills: `inspect(part)` (a caller's check, such as a GGUF header parser; what it
    raises fails the upload before that part is sent) and then the SHA-256 (hashlib releases
    the GIL for large buffers; on the event loop it would cost about 1.5 ms per MiB).
    `sha256` covers the whole stream once `flush()` has returned.

    Memory: at most `in_flight + 1` part buffers (the part filling and the parts being
    checked or sent), taken from `buffers` (shared by the process's writers) and given back
    by `flush()` and `cancel()`. Chunks are copied into the filling buffer, the one copy of
    the bytes: a full part goes out as that `bytearray`, which the HTTP connection sends in
    one `sendall` from the client's worker thread (botocore turns a `bytes` body into a
    `BytesIO`, which http.client sends 16 KiB at a time: 512 system calls per 8 MiB part).
    The last, shorter part is read from its buffer as a file (sent 16 KiB at a time): a copy
    would raise the peak by a part, and a buffer cut to its length would be freed, which
    moves glibc's threshold and puts the next file's new buffer on the heap.
    """

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        key: str,
        upload_id: str,
        part_bytes: int,
        *,
        in_flight: int = 2,
        done: Iterable[CompletedPart] = (),
        on_part: PartCallback | None = None,
        inspect: Inspector | None = None,
        buffers: BufferPool = PART_BUFFERS,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.key = key
        self.upload_id = upload_id
        self.part_bytes = part_bytes
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.bytes_sent = 0
        self._done = {p.number: p for p in done}
        self._parts: dict[int, CompletedPart] = {}
        self._on_part = on_part
        self._inspect = inspect
        self._slots = asyncio.Semaphore(in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._filling: bytearray | None = None
        self._filled = 0
        self._buffers = buffers
        self._spare: list[bytearray] = []  # full-size buffers nobody reads any more
        self._next_number = 1
        self._report_lock = asyncio.Lock()
        self._checking: asyncio.Future[None] | None = None

    async def write_all(self, chunks: AsyncIterator[bytes]) -> None:
        async for chunk in chunks:
            await self.write(chunk)

    async def fill_from(
        self,
        reader: S3Client,
        body: Any,
        seen: Callable[[memoryview], None] | None = None,
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        """Reads a blocking response body (botocore's, of a GET) straight into the part
        buffers until it ends, up to a part per call in `reader`'s worker threads: the event
        loop does no work per chunk and the bytes are not copied again. `seen(view)` gets the
        bytes of each call in stream order, on the event loop (a header parser);
        `heartbeat()` runs in the worker after every MiB read (a stall watchdog's)."""
        while True:
            if self._filling is None:
                self._filling = self._take_buffer()
            start = self._filled
            wanted = self.part_bytes - start
            try:
                read = await reader.run(
                    read_into, body, memoryview(self._filling)[start:], heartbeat=heartbeat
                )
            except BaseException:
                self._filling, self._filled = None, 0  # a worker may still write into it
                raise
            self._filled += read
            self.size += read
            if seen is not None and read:
                with memoryview(self._filling) as whole, whole[start : start + read] as fresh:
                    seen(fresh)
            if self._filled == self.part_bytes:
                await self._emit()
            if read < wanted:
                return

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        view = memoryview(chunk).cast("B")
        self.size += len(view)
        while view:
            if self._filling is None:
                self._filling = self._take_buffer()
            taken = min(len(view), self.part_bytes - self._filled)
            self._filling[self._filled : self._filled + taken] = view[:taken]
            self._filled += taken
            view = view[taken:]
            if self._filled == self.part_bytes:
                await self._emit()

    async def _emit(self) -> None:
        """Hands the filled buffer to a check and an upload (the last, shorter part is read
        from its buffer through a `PartReader`: no copy, and the buffer keeps its size)."""
        body, size = self._filling or bytearray(), self._filled
        self._filling, self._filled = None, 0
        payload: bytearray | PartReader = body if size == len(body) else PartReader(body, size)
        checked = await self._check(body, size)
        number = self._next_number
        self._next_number += 1
        earlier = self._done.get(number)
        if earlier is not None and earlier.size == size:
            self._parts[number] = earlier
            checked.add_done_callback(lambda _: self._recycle(body))
            await self._report(earlier, sent=False)
            return
        await self._raise_failed()
        await self._slots.acquire()
        task = asyncio.create_task(self._send(number, payload, body, size, checked))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _take_buffer(self) -> bytearray:
        return self._spare.pop() if self._spare else self._buffers.take(self.part_bytes)

    def _recycle(self, body: bytearray) -> None:
        """Keeps a full-size buffer that is neither checked nor sent any more for the next
        part (a failed upload's buffer is dropped instead: its connection may hold it)."""
        if len(body) == self.part_bytes:
            self._spare.append(body)

    def _give_back(self) -> None:
        """The idle buffers to the pool: the spares and the one filling, if any (`fill_from`
        drops one a worker may still write into)."""
        if self._filling is not None:
            self._recycle(self._filling)
            self._filling, self._filled = None, 0
        self._buffers.give(self._spare)
        self._spare = []

    def _inspect_and_hash(self, body: bytearray, size: int) -> None:
        with memoryview(body) as whole, whole[:size] as part:
            if self._inspect is not None:
                self._inspect(part)
            self.sha256.update(part)

    async def _check(self, body: bytearray, size: int) -> asyncio.Future[None]:
        """Waits for the previous part's check (file order; its failure is raised here),
        then starts this one's."""
        if self._checking is not None:
            await self._checking
        self._checking = asyncio.ensure_future(
            asyncio.to_thread(self._inspect_and_hash, body, size)
        )
        return self._checking

    async def _send(
        self,
        number: int,
        payload: bytearray | PartReader,
        body: bytearray,
        size: int,
        checked: asyncio.Future[None],
    ) -> None:
        try:
            if self._inspect is not None:
                await asyncio.shield(checked)  # an inspected part is sent only once it passed
            response = await self.client.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=payload,
            )
            part = CompletedPart(number, str(response["ETag"]).strip('"'), size)
            self.bytes_sent += size
            self._parts[number] = part
            await asyncio.shield(checked)  # before the slot is free: the next part reuses it
            self._recycle(body)
            await self._report(part, sent=True)
        finally:
            self._slots.release()

    async def _report(self, part: CompletedPart, *, sent: bool) -> None:
        if self._on_part is not None:
            async with self._report_lock:
                await self._on_part(part, sent)

    async def _raise_failed(self) -> None:
        for task in list(self._tasks):
            if task.done() and task.exception() is not None:
                await self._drain()
                task.result()

    async def _drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def flush(self) -> list[CompletedPart]:
        """Sends the last (short) part and waits for every part; raises the first failure."""
        if self._filled or self._next_number == 1:
            await self._emit()
        if self._checking is not None:
            await self._checking
        tasks = list(self._tasks)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        self._give_back()  # with the buffer taken for bytes that never came (the stream
        # ended on a part boundary)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [self._parts[n] for n in sorted(self._parts)]

    async def cancel(self) -> None:
        """Stops the parts in flight (their slots are released; their buffers are dropped,
        the idle ones given back)."""
        for task in list(self._tasks):
            task.cancel()
        await self._drain()
        if self._checking is not None:
            await asyncio.gather(self._checking, return_exceptions=True)
        self._give_back()

    async def complete(self, parts: list[CompletedPart]) -> None:
        await complete_upload(self.client, self.bucket, self.key, self.upload_id, parts)


def read_into(
    body: Any,
    view: memoryview,
    piece: int = 1024**2,
    heartbeat: Callable[[], None] | None = None,
) -> int:
    """Fills `view` from a blocking body, `piece` bytes at a time (urllib3 reads into a
    temporary of the asked size); returns the bytes read, fewer only at the body's end."""
    filled = 0
    with view:
        while filled < len(view):
            with view[filled : filled + piece] as target:
                count = int(body.readinto(target))
            if not count:
                break
            filled += count
            if heartbeat is not None:
                heartbeat()
    return filled


async def read_object(
    client: S3Client, bucket: str, key: str, chunk_bytes: int = 1024**2
) -> AsyncGenerator[bytes, None]:
    """The object's bytes, streamed (each chunk read in a worker thread)."""
    response = await client.get_object(Bucket=bucket, Key=key)
    body = response["Body"]
    try:
        while chunk := await client.run(body.read, chunk_bytes):
            yield chunk
    finally:
        client.release(body)
