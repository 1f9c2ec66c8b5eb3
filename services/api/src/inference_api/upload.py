"""Streams a request body into MinIO with bounded memory.

The event loop reads the body into ~1 MiB blocks and queues a bounded number of them; a
worker thread runs the (blocking) MinIO multipart upload, pulling blocks through a
file-like reader that hashes them (SHA-256) and feeds the GGUF header parser on the way.
A bad header, a truncated file, an oversized body or a client that goes away raises inside
the reader, so MinIO aborts the upload and nothing is left behind.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from dataclasses import dataclass

from minio import Minio

from inference_api.gguf import GGUFError, GGUFHeader, GGUFStreamParser
from inference_common.errors import AppError, PayloadTooLargeError, UnprocessableError

BLOCK_BYTES = 1024 * 1024
IDLE_TIMEOUT_SECONDS = 120


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
_Item = bytes | _Failure | None


class UploadAbortedError(Exception):
    """The body could not be read (the client went away)."""


class _BlockReader:
    """File-like `read(n)` for the MinIO client, running in a worker thread."""

    def __init__(
        self,
        queue: asyncio.Queue[_Item],
        loop: asyncio.AbstractEventLoop,
        parser: GGUFStreamParser,
    ) -> None:
        self._queue = queue
        self._loop = loop
        self._parser = parser
        self._hash = hashlib.sha256()
        self._leftover = memoryview(b"")
        self._eof = False
        self.size = 0
        self.header: GGUFHeader | None = None

    def _next_block(self) -> bytes | None:
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
            try:
                self.header = self._parser.finish()
            except GGUFError as exc:
                raise UnprocessableError(str(exc)) from exc
            return None
        self.size += len(item)
        self._hash.update(item)
        try:
            self._parser.feed(item)
        except GGUFError as exc:
            raise UnprocessableError(str(exc)) from exc
        return item

    def read(self, size: int = -1) -> bytes:
        pieces: list[bytes | memoryview] = []
        have = 0
        if self._leftover:
            piece = self._leftover if size < 0 else self._leftover[:size]
            pieces.append(piece)
            have = len(piece)
            self._leftover = self._leftover[have:]
        while (size < 0 or have < size) and not self._eof:
            block = self._next_block()
            if block is None:
                self._eof = True
                break
            view = memoryview(block)
            take = len(view) if size < 0 else min(len(view), size - have)
            pieces.append(view[:take])
            self._leftover = view[take:]
            have += take
        return b"".join(pieces)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


async def _produce(body: AsyncIterator[bytes], queue: asyncio.Queue[_Item], max_bytes: int) -> None:
    buffer = bytearray()
    total = 0
    try:
        async for chunk in body:
            total += len(chunk)
            if total > max_bytes:
                raise PayloadTooLargeError(
                    f"upload exceeds the limit of {max_bytes} bytes", {"max_bytes": max_bytes}
                )
            buffer += chunk
            if len(buffer) >= BLOCK_BYTES:
                await queue.put(bytes(buffer))
                buffer.clear()
    except AppError as exc:
        await queue.put(_Failure(exc))
        return
    except Exception as exc:  # the body stream broke: client disconnect, protocol error
        await queue.put(_Failure(UploadAbortedError(f"request body could not be read: {exc}")))
        return
    if buffer:
        await queue.put(bytes(buffer))
    await queue.put(_EOF)


async def stream_gguf_to_s3(
    body: AsyncIterator[bytes],
    s3: Minio,
    bucket: str,
    key: str,
    limits: UploadLimits,
    executor: Executor | None = None,
) -> StoredFile:
    """Uploads the body to bucket/key; returns size, SHA-256 and the parsed GGUF header.

    Raises UnprocessableError (not GGUF / truncated), PayloadTooLargeError, UploadAbortedError;
    in every failure case the object does not exist afterwards.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[_Item] = asyncio.Queue(
        maxsize=max(1, limits.prefetch_bytes // BLOCK_BYTES)
    )
    reader = _BlockReader(queue, loop, GGUFStreamParser(limits.max_header_bytes))
    producer = asyncio.create_task(_produce(body, queue, limits.max_bytes))

    def put() -> None:
        s3.put_object(
            bucket,
            key,
            reader,  # type: ignore[arg-type]  # duck-typed: only read() is used
            length=-1,
            part_size=limits.part_bytes,
            content_type="application/octet-stream",
            num_parallel_uploads=1,
        )

    uploading = loop.run_in_executor(executor, put)
    try:
        await asyncio.shield(uploading)
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
    assert reader.header is not None  # set at end of file, else put() raised
    return StoredFile(size=reader.size, sha256=reader.sha256, header=reader.header)


def _fail_reader(queue: asyncio.Queue[_Item], error: BaseException) -> None:
    while True:
        try:
            queue.put_nowait(_Failure(error))
            return
        except asyncio.QueueFull:
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
