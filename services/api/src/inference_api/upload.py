"""Streams a request body into the object store with bounded memory, on the platform's one
streaming multipart path (`inference_common.s3_multipart`, botocore's public API).

The body's chunks fill the first part's buffer; a file that ends within it is stored with a
single PUT. Otherwise a multipart upload starts and a `MultipartWriter` takes over: each full
part goes to a worker thread that feeds the GGUF header parser and the file's SHA-256 in
file order (a bad header fails the upload before that part is sent), then up to
`parallel_parts` parts are sent at once while the next one fills. When every buffer is in
use the body is not read, so the client is slowed down instead of memory growing.

A bad header, a truncated file, an oversized body, a client that goes away, stalls or takes
longer than the upload's time limit, or an object store error aborts the multipart upload
(after the parts in flight have stopped), so nothing half-written is visible or left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException

from inference_common.errors import AppError, PayloadTooLargeError, UnprocessableError
from inference_common.gguf import GGUFError, GGUFHeader, GGUFStreamParser
from inference_common.s3_multipart import CONTENT_TYPE, MultipartWriter, abort_upload, start_upload

logger = logging.getLogger(__name__)


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


class _HeaderCheck:
    """The GGUF parser, fed whole parts in file order by the writer's worker thread."""

    def __init__(self, max_header_bytes: int) -> None:
        self._parser = GGUFStreamParser(max_header_bytes)

    def __call__(self, data: memoryview) -> None:
        try:
            self._parser.feed(data)
        except GGUFError as exc:
            raise UnprocessableError(str(exc)) from exc
        header = self._parser.header
        if header is not None and not header.tensor_count:
            raise UnprocessableError("GGUF file has no tensors: not a model")

    def finish(self) -> GGUFHeader:
        try:
            return self._parser.finish()
        except GGUFError as exc:
            raise UnprocessableError(str(exc)) from exc


class _Upload:
    """One upload's state: the first part's buffer, then the multipart writer."""

    def __init__(self, client: Any, bucket: str, key: str, limits: UploadLimits) -> None:
        self.client = client
        self.bucket = bucket
        self.key = key
        self.limits = limits
        self.check = _HeaderCheck(limits.max_header_bytes)
        self.first = bytearray()
        self.writer: MultipartWriter | None = None
        self._creating: asyncio.Future[str] | None = None

    async def write(self, chunk: bytes) -> None:
        if self.writer is not None:
            await self.writer.write(chunk)
            return
        self.first += chunk
        if len(self.first) >= self.limits.part_bytes:  # more than one part: multipart
            # shielded: a cancellation while it is created still finds its id to abort it
            self._creating = asyncio.ensure_future(start_upload(self.client, self.bucket, self.key))
            upload_id = await asyncio.shield(self._creating)
            self.writer = MultipartWriter(
                self.client,
                self.bucket,
                self.key,
                upload_id,
                self.limits.part_bytes,
                in_flight=self.limits.parallel_parts,
                inspect=self.check,
            )
            first, self.first = self.first, bytearray()
            await self.writer.write(first)

    async def finish(self) -> tuple[GGUFHeader, str]:
        """After the last byte: the last part, the end-of-file checks, the completion."""
        if self.writer is None:  # the whole file fits in one part: one PUT, no multipart
            sha256 = await asyncio.to_thread(self._check_whole, self.first)
            header = self.check.finish()
            await self.client.put_object(
                Bucket=self.bucket, Key=self.key, Body=self.first, ContentType=CONTENT_TYPE
            )
            return header, sha256
        parts = await self.writer.flush()
        header = self.check.finish()
        await self.writer.complete(parts)
        return header, self.writer.sha256.hexdigest()

    def _check_whole(self, data: bytearray) -> str:
        self.check(memoryview(data))
        return hashlib.sha256(data).hexdigest()

    async def abort(self) -> None:
        """After a failure: stops the parts in flight, then aborts the multipart upload."""
        if self._creating is None:
            return
        if self.writer is not None:
            await self.writer.cancel()
        [created] = await asyncio.gather(self._creating, return_exceptions=True)
        if isinstance(created, BaseException):
            return
        try:
            await abort_upload(self.client, self.bucket, self.key, created)
        except Exception:
            logger.warning("could not abort a multipart upload", exc_info=True)


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


async def _copy_body(body: AsyncIterator[bytes], upload: _Upload, idle: asyncio.Timeout) -> int:
    """Copies the body into the upload; returns its size."""
    limits = upload.limits
    loop = asyncio.get_running_loop()
    total = 0
    deadline_moved = loop.time()
    async for chunk in _read(body):
        if not chunk:
            continue
        total += len(chunk)
        if total > limits.max_bytes:
            raise PayloadTooLargeError(
                f"upload exceeds the limit of {limits.max_bytes} bytes",
                {"max_bytes": limits.max_bytes},
            )
        await upload.write(chunk)
        now = loop.time()
        if now - deadline_moved > 1:  # cheaper than a new timer per chunk
            idle.reschedule(now + limits.idle_seconds)
            deadline_moved = now
    return total


@contextlib.asynccontextmanager
async def _abandoned_after(seconds: float, why: str) -> AsyncIterator[asyncio.Timeout]:
    """A timeout whose expiry abandons the upload, saying `why`; a TimeoutError that is not
    this timer's passes through unchanged."""
    try:
        async with asyncio.timeout(seconds) as timer:
            yield timer
    except TimeoutError:
        if timer.expired():
            raise UploadAbortedError(f"{why}; upload abandoned") from None
        raise


async def _receive_body(
    body: AsyncIterator[bytes], upload: _Upload, declared_size: int | None
) -> tuple[GGUFHeader, str, int]:
    idle_seconds = upload.limits.idle_seconds
    async with _abandoned_after(idle_seconds, f"no upload data for {idle_seconds:g} s") as idle:
        total = await _copy_body(body, upload, idle)
    if declared_size is not None and total != declared_size:
        raise UploadAbortedError(
            f"request body has {total} bytes but Content-Length said {declared_size}"
        )
    header, sha256 = await upload.finish()
    return header, sha256, total


async def _receive(
    body: AsyncIterator[bytes], upload: _Upload, declared_size: int | None
) -> tuple[GGUFHeader, str, int]:
    """The whole upload within `max_seconds`, the body never idle for `idle_seconds`."""
    max_seconds = upload.limits.max_seconds
    async with _abandoned_after(max_seconds, f"upload took longer than {max_seconds:g} s"):
        received = await _receive_body(body, upload, declared_size)
    return received


async def stream_gguf_to_s3(
    body: AsyncIterator[bytes],
    client: Any,
    bucket: str,
    key: str,
    limits: UploadLimits,
    declared_size: int | None = None,
) -> StoredFile:
    """Uploads the body to bucket/key through `client` (an `s3_multipart.s3_client`);
    returns size, SHA-256 and the parsed GGUF header.

    Raises UnprocessableError (not GGUF / truncated), PayloadTooLargeError, UploadAbortedError,
    or the object store's error (botocore's); in every failure case the object does not
    exist afterwards and no incomplete multipart upload is left.
    """
    upload = _Upload(client, bucket, key, limits)
    try:
        header, sha256, size = await _receive(body, upload, declared_size)
    except BaseException:
        with contextlib.suppress(Exception):
            await asyncio.shield(upload.abort())
        raise
    return StoredFile(size=size, sha256=sha256, header=header)
