"""Streams a request body into MinIO as a multipart upload, with bounded memory.

The event loop copies the body's chunks into part buffers (a fixed number of them, allocated
on demand); each full part goes first to a checker thread, which feeds the GGUF header parser
and the file's SHA-256 in file order, then to a small pool that uploads up to
`parallel_parts` parts at once while the next one fills. When every buffer is in use the
loop stops reading the body, so the client is slowed down instead of memory growing.

A file that fits in one part is stored with a single PUT. A bad header, a truncated file, an
oversized body, a client that goes away, stalls or takes longer than the upload's time
limit, or an object store error aborts the
multipart upload (after the parts in flight have finished), so nothing half-written is
visible or left behind; the pools are shut down in every case.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from minio import Minio
from minio.datatypes import Part
from starlette.exceptions import HTTPException

from inference_common.errors import AppError, PayloadTooLargeError, UnprocessableError
from inference_common.gguf import GGUFError, GGUFHeader, GGUFStreamParser

logger = logging.getLogger(__name__)

HEADER_FEED_BYTES = 1024 * 1024  # the parser copies what it is fed until the header is read
CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    part_bytes: int
    parallel_parts: int
    max_header_bytes: int
    max_seconds: float = 6 * 3600.0  # the whole upload
    idle_seconds: float = 120.0  # without a byte of the body

    @property
    def buffers(self) -> int:
        """Part buffers one upload may hold: one filling, the others checked or sent."""
        return self.parallel_parts + 1


@dataclass(frozen=True)
class StoredFile:
    size: int
    sha256: str
    header: GGUFHeader


class UploadAbortedError(Exception):
    """The body could not be read (the client went away, stalled, or sent less than it
    declared)."""


class _Checker:
    """The GGUF parser and the SHA-256, fed in file order by one thread (hashlib releases
    the GIL, so hashing overlaps the event loop and the part uploads)."""

    def __init__(self, max_header_bytes: int) -> None:
        self._parser = GGUFStreamParser(max_header_bytes)
        self._hash = hashlib.sha256()

    def feed(self, data: memoryview) -> None:
        offset = 0
        while self._parser.header is None and offset < len(data):
            self._feed_parser(data[offset : offset + HEADER_FEED_BYTES])
            offset += HEADER_FEED_BYTES
        if offset < len(data):
            self._feed_parser(data[offset:])  # O(1) once the header is parsed
        self._hash.update(data)

    def _feed_parser(self, data: memoryview) -> None:
        try:
            self._parser.feed(data)
        except GGUFError as exc:
            raise UnprocessableError(str(exc)) from exc
        header = self._parser.header
        if header is not None and not header.tensor_count:
            raise UnprocessableError("GGUF file has no tensors: not a model")

    def finish(self) -> tuple[GGUFHeader, str]:
        try:
            header = self._parser.finish()
        except GGUFError as exc:
            raise UnprocessableError(str(exc)) from exc
        return header, self._hash.hexdigest()


class _MultipartUpload:
    """One upload's buffers, threads and multipart state; used from the event loop only
    (the threads receive part views and return results)."""

    def __init__(self, s3: Minio, bucket: str, key: str, limits: UploadLimits) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.key = key
        self.limits = limits
        self.checker = _Checker(limits.max_header_bytes)
        self._check_pool = ThreadPoolExecutor(1, thread_name_prefix="upload-check")
        self._part_pool = ThreadPoolExecutor(limits.parallel_parts, thread_name_prefix="upload")
        self._free: list[bytearray] = []
        self._allocated = 0
        self._changed = asyncio.Event()
        self._error: BaseException | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._parts: dict[int, str] = {}
        self._next_part = 1
        self._upload_id: str | None = None  # set by the thread that creates it
        self._created: asyncio.Future[str] | None = None

    # event loop ------------------------------------------------------------------------------

    async def take_buffer(self) -> bytearray:
        while True:
            self.raise_failure()
            if self._free:
                return self._free.pop()
            if self._allocated < self.limits.buffers:
                self._allocated += 1
                return bytearray(self.limits.part_bytes)
            self._changed.clear()
            await self._changed.wait()

    def raise_failure(self) -> None:
        if self._error is not None:
            raise self._error

    def _release(self, buffer: bytearray) -> None:
        self._free.append(buffer)
        self._changed.set()

    def submit(self, buffer: bytearray, length: int) -> None:
        """Checks (in order) and then uploads a part; the buffer comes back when it is sent."""
        loop = asyncio.get_running_loop()
        data = memoryview(buffer)[:length]
        checked = loop.run_in_executor(self._check_pool, self.checker.feed, data)
        number = self._next_part
        self._next_part += 1
        task = asyncio.create_task(self._send(number, buffer, data, checked))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(
        self, number: int, buffer: bytearray, data: memoryview, checked: asyncio.Future[None]
    ) -> None:
        try:
            await checked
            upload_id = await self._multipart_id()
            loop = asyncio.get_running_loop()
            etag = await loop.run_in_executor(
                self._part_pool, self._put_part, upload_id, number, data
            )
            self._parts[number] = etag
        except BaseException as exc:
            if self._error is None:
                self._error = exc
            self._changed.set()
            if not isinstance(exc, Exception):
                raise
        else:
            self._release(buffer)

    async def _multipart_id(self) -> str:
        """Created once, by the first part to be sent; shielded, so a part cancelled while
        waiting for it does not cancel it for the others."""
        if self._created is None:
            self.raise_failure()
            self._created = asyncio.get_running_loop().run_in_executor(
                self._part_pool, self._create
            )
        return await asyncio.shield(self._created)

    async def finish(self, buffer: bytearray, length: int) -> tuple[GGUFHeader, str]:
        """After the last byte: the last part, the end-of-file checks, the completion."""
        loop = asyncio.get_running_loop()
        if self._next_part == 1:  # the whole file fits in one part: one PUT, no multipart
            data = memoryview(buffer)[:length]
            await loop.run_in_executor(self._check_pool, self.checker.feed, data)
            header, sha256 = await loop.run_in_executor(self._check_pool, self.checker.finish)
            await loop.run_in_executor(self._part_pool, self._put_whole, data)
            return header, sha256
        if length:
            self.submit(buffer, length)
        ended = loop.run_in_executor(self._check_pool, self.checker.finish)
        try:
            header, sha256 = await ended
        finally:
            await self.wait_for_parts()
        self.raise_failure()
        assert self._created is not None  # a part was sent
        upload_id = await self._created
        parts = [Part(number, etag) for number, etag in sorted(self._parts.items())]
        await loop.run_in_executor(self._part_pool, self._complete, upload_id, parts)
        return header, sha256

    async def wait_for_parts(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def abort(self) -> None:
        """After a failure: lets the parts in flight end, then aborts the multipart upload."""
        for task in self._tasks:
            task.cancel()
        await self.wait_for_parts()
        # Threads may still be sending a part whose task was cancelled: wait for them.
        await asyncio.to_thread(self._part_pool.shutdown, wait=True, cancel_futures=True)
        if self._upload_id is not None:
            try:
                await asyncio.to_thread(self._abort, self._upload_id)
            except Exception:
                logger.warning("could not abort a multipart upload", exc_info=True)

    def close(self) -> None:
        self._check_pool.shutdown(wait=False, cancel_futures=True)
        self._part_pool.shutdown(wait=False, cancel_futures=True)

    # worker threads (minio's multipart calls are not public API, but stable since 7.0) -------

    def _create(self) -> str:
        upload_id = self.s3._create_multipart_upload(
            self.bucket, self.key, {"Content-Type": CONTENT_TYPE}
        )
        self._upload_id = upload_id  # here, so abort() sees it even if no task awaited it
        return upload_id

    def _put_part(self, upload_id: str, number: int, data: memoryview) -> str:
        return self.s3._upload_part(
            self.bucket,
            self.key,
            data,  # type: ignore[arg-type]  # sent and hashed as a buffer, never copied
            None,
            upload_id,
            number,
        )

    def _complete(self, upload_id: str, parts: list[Part]) -> None:
        self.s3._complete_multipart_upload(self.bucket, self.key, upload_id, parts)

    def _abort(self, upload_id: str) -> None:
        self.s3._abort_multipart_upload(self.bucket, self.key, upload_id)

    def _put_whole(self, data: memoryview) -> None:
        self.s3.put_object(
            self.bucket, self.key, io.BytesIO(data), len(data), content_type=CONTENT_TYPE
        )


async def _read(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The body's chunks; a broken stream (client disconnect, protocol error) becomes
    UploadAbortedError."""
    try:
        async for chunk in body:
            yield chunk
    except (AppError, HTTPException):  # the body limit's 413 among them
        raise
    except Exception as exc:
        raise UploadAbortedError(f"request body could not be read: {exc}") from exc


async def _receive_body(
    body: AsyncIterator[bytes], upload: _MultipartUpload, declared_size: int | None
) -> tuple[GGUFHeader, str, int]:
    limits = upload.limits
    try:
        async with asyncio.timeout(limits.idle_seconds) as idle:
            total, buffer, filled = await _copy_body(body, upload, idle)
    except TimeoutError:
        if idle.expired():
            raise UploadAbortedError(
                f"no upload data for {limits.idle_seconds:g} s; upload abandoned"
            ) from None
        raise
    if declared_size is not None and total != declared_size:
        raise UploadAbortedError(
            f"request body has {total} bytes but Content-Length said {declared_size}"
        )
    header, sha256 = await upload.finish(buffer, filled)
    return header, sha256, total


async def _copy_body(
    body: AsyncIterator[bytes], upload: _MultipartUpload, idle: asyncio.Timeout
) -> tuple[int, bytearray, int]:
    """Copies the body into parts (each sent once full); returns the body's size and the
    last, partly filled, part."""
    limits = upload.limits
    part_bytes = limits.part_bytes
    loop = asyncio.get_running_loop()
    buffer = await upload.take_buffer()
    filled = 0
    total = 0
    deadline_moved = loop.time()
    async for chunk in _read(body):
        size = len(chunk)
        if not size:
            continue
        total += size
        if total > limits.max_bytes:
            raise PayloadTooLargeError(
                f"upload exceeds the limit of {limits.max_bytes} bytes",
                {"max_bytes": limits.max_bytes},
            )
        view = memoryview(chunk)
        while view:
            taken = min(len(view), part_bytes - filled)
            buffer[filled : filled + taken] = view[:taken]
            filled += taken
            view = view[taken:]
            if filled == part_bytes:
                upload.submit(buffer, filled)
                buffer = await upload.take_buffer()
                filled = 0
        upload.raise_failure()
        now = loop.time()
        if now - deadline_moved > 1:  # cheaper than a new timer per chunk
            idle.reschedule(now + limits.idle_seconds)
            deadline_moved = now
    return total, buffer, filled


async def _receive(
    body: AsyncIterator[bytes], upload: _MultipartUpload, declared_size: int | None
) -> tuple[GGUFHeader, str, int]:
    """The whole upload within `max_seconds`, the body never idle for `idle_seconds`."""
    limits = upload.limits
    try:
        async with asyncio.timeout(limits.max_seconds) as whole:
            return await _receive_body(body, upload, declared_size)
    except TimeoutError:
        if whole.expired():
            raise UploadAbortedError(
                f"upload took longer than {limits.max_seconds:g} s; upload abandoned"
            ) from None
        raise


async def stream_gguf_to_s3(
    body: AsyncIterator[bytes],
    s3: Minio,
    bucket: str,
    key: str,
    limits: UploadLimits,
    declared_size: int | None = None,
) -> StoredFile:
    """Uploads the body to bucket/key; returns size, SHA-256 and the parsed GGUF header.

    Raises UnprocessableError (not GGUF / truncated), PayloadTooLargeError, UploadAbortedError,
    or the object store's error; in every failure case the object does not exist afterwards
    and no incomplete multipart upload is left.
    """
    upload = _MultipartUpload(s3, bucket, key, limits)
    try:
        header, sha256, size = await _receive(body, upload, declared_size)
    except BaseException:
        with contextlib.suppress(Exception):
            await asyncio.shield(upload.abort())
        raise
    finally:
        upload.close()
    return StoredFile(size=size, sha256=sha256, header=header)
