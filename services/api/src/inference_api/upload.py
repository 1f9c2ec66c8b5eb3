"""Streams a request body into MinIO with bounded memory.

The event loop gathers the body's chunks into ~1 MiB batches and queues a bounded number of
them (no copying); a worker thread runs the (blocking) MinIO multipart upload, pulling the
batches through a file-like reader that joins them into parts (the one copy), feeds the GGUF
header parser, and hands them to a second thread that computes the file's SHA-256 alongside
the upload. A bad header, a truncated file, an oversized body or a client that goes away
raises inside the reader, so MinIO aborts the upload and nothing is left behind.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import threading
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

from minio import Minio

from inference_api.gguf import GGUFError, GGUFHeader, GGUFStreamParser
from inference_common.errors import AppError, PayloadTooLargeError, UnprocessableError

BATCH_BYTES = 1024 * 1024
IDLE_TIMEOUT_SECONDS = 120
MAX_PENDING_HASH_BATCHES = 2


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    part_bytes: int
    prefetch_bytes: int
    max_header_bytes: int


@dataclass(frozen=True)
class StoredFile:
    size: int
    sha256: str
    header: GGUFHeader


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_EOF = None
_Batch = list[bytes]
_Item = _Batch | _Failure | None


class UploadAbortedError(Exception):
    """The body could not be read (the client went away or sent less than it declared)."""


class _Hasher:
    """SHA-256 of the whole file, computed in its own thread (hashlib releases the GIL), in
    order, with a bounded number of batches waiting."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="upload-sha256")
        self._slots = threading.BoundedSemaphore(MAX_PENDING_HASH_BATCHES)

    def _update(self, batch: _Batch) -> None:
        try:
            for chunk in batch:
                self._hash.update(chunk)
        finally:
            self._slots.release()

    def add(self, batch: _Batch) -> None:
        self._slots.acquire()
        self._executor.submit(self._update, batch)

    def hexdigest(self) -> str:
        self._executor.shutdown(wait=True)
        return self._hash.hexdigest()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class _BatchReader:
    """File-like `read(n)` for the MinIO client, running in a worker thread."""

    def __init__(
        self,
        queue: asyncio.Queue[_Item],
        loop: asyncio.AbstractEventLoop,
        parser: GGUFStreamParser,
        declared_size: int | None,
    ) -> None:
        self._queue = queue
        self._loop = loop
        self._parser = parser
        self._declared_size = declared_size
        self.hasher = _Hasher()
        self._pending: deque[memoryview] = deque()
        self._eof = False
        self._delivered = 0
        self.size = 0
        self.header: GGUFHeader | None = None

    def _next_batch(self) -> _Batch | None:
        waiting = asyncio.run_coroutine_threadsafe(self._queue.get(), self._loop)
        try:
            item = waiting.result(timeout=IDLE_TIMEOUT_SECONDS)
        except concurrent.futures.TimeoutError:
            waiting.cancel()
            raise UploadAbortedError(
                f"no upload data for {IDLE_TIMEOUT_SECONDS} s; upload abandoned"
            ) from None
        if isinstance(item, _Failure):
            raise item.error
        if item is None:
            self._at_end()
            return None
        self.hasher.add(item)
        for chunk in item:
            self.size += len(chunk)
            try:
                self._parser.feed(chunk)  # O(1) once the header is parsed
            except GGUFError as exc:
                raise UnprocessableError(str(exc)) from exc
        return item

    def _at_end(self) -> None:
        if self._declared_size is not None and self.size != self._declared_size:
            raise UploadAbortedError(
                f"request body has {self.size} bytes but Content-Length said {self._declared_size}"
            )
        try:
            self.header = self._parser.finish()
        except GGUFError as exc:
            raise UnprocessableError(str(exc)) from exc

    def read(self, size: int = -1) -> bytes:
        pieces: list[memoryview] = []
        have = 0
        while size < 0 or have < size:
            if not self._pending:
                if self._eof:
                    break
                batch = self._next_batch()
                if batch is None:
                    self._eof = True
                    break
                self._pending.extend(memoryview(chunk) for chunk in batch)
                continue
            view = self._pending.popleft()
            if size >= 0 and len(view) > size - have:
                self._pending.appendleft(view[size - have :])
                view = view[: size - have]
            pieces.append(view)
            have += len(view)
        self._delivered += have
        if self._declared_size is not None and self._delivered >= self._declared_size:
            # MinIO stops reading at the declared length: check the end of the body (and the
            # GGUF checks that need it) before handing over the last bytes.
            self._expect_end()
        return b"".join(pieces)

    def _expect_end(self) -> None:
        while not self._eof:
            if self._pending or self._next_batch() is not None:
                raise UploadAbortedError("request body is longer than its Content-Length")
            self._eof = True


async def _produce(body: AsyncIterator[bytes], queue: asyncio.Queue[_Item], max_bytes: int) -> None:
    batch: _Batch = []
    batched = 0
    total = 0
    try:
        async for chunk in body:
            if not chunk:
                continue
            total += len(chunk)
            if total > max_bytes:
                raise PayloadTooLargeError(
                    f"upload exceeds the limit of {max_bytes} bytes", {"max_bytes": max_bytes}
                )
            batch.append(chunk)
            batched += len(chunk)
            if batched >= BATCH_BYTES:
                await queue.put(batch)
                batch, batched = [], 0
    except AppError as exc:
        await queue.put(_Failure(exc))
        return
    except Exception as exc:  # the body stream broke: client disconnect, protocol error
        await queue.put(_Failure(UploadAbortedError(f"request body could not be read: {exc}")))
        return
    if batch:
        await queue.put(batch)
    await queue.put(_EOF)


async def stream_gguf_to_s3(
    body: AsyncIterator[bytes],
    s3: Minio,
    bucket: str,
    key: str,
    limits: UploadLimits,
    executor: Executor | None = None,
    declared_size: int | None = None,
) -> StoredFile:
    """Uploads the body to bucket/key; returns size, SHA-256 and the parsed GGUF header.

    Raises UnprocessableError (not GGUF / truncated), PayloadTooLargeError, UploadAbortedError;
    in every failure case the object does not exist afterwards.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[_Item] = asyncio.Queue(
        maxsize=max(1, limits.prefetch_bytes // BATCH_BYTES)
    )
    reader = _BatchReader(queue, loop, GGUFStreamParser(limits.max_header_bytes), declared_size)
    producer = asyncio.create_task(_produce(body, queue, limits.max_bytes))

    def put() -> str:
        try:
            s3.put_object(
                bucket,
                key,
                reader,  # type: ignore[arg-type]  # duck-typed: only read() is used
                length=-1 if declared_size is None else declared_size,
                part_size=limits.part_bytes,
                content_type="application/octet-stream",
                num_parallel_uploads=1,  # its thread pool leaks its threads when a read fails
            )
        except BaseException:
            reader.hasher.close()
            raise
        return reader.hasher.hexdigest()

    uploading = loop.run_in_executor(executor, put)
    try:
        sha256 = await asyncio.shield(uploading)
    except asyncio.CancelledError:
        # The request went away: make the reader fail so MinIO aborts, then let it finish.
        producer.cancel()
        _fail_reader(queue, UploadAbortedError("request cancelled"))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(uploading), 30)
        raise
    finally:
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await producer
    if reader.header is None:  # cannot happen: the reader checks the end before the last bytes
        await asyncio.to_thread(s3.remove_object, bucket, key)
        raise UnprocessableError("upload ended before its GGUF header was checked")
    return StoredFile(size=reader.size, sha256=sha256, header=reader.header)


def _fail_reader(queue: asyncio.Queue[_Item], error: BaseException) -> None:
    while True:
        try:
            queue.put_nowait(_Failure(error))
            return
        except asyncio.QueueFull:
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
