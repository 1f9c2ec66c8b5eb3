"""Copies one job's files from the source into our bucket, verifies, then registers.

Every stored part is recorded before the next progress step, so a restart resumes from the
parts already in our bucket (when the source's ETag and size are unchanged). A file is read
from its first byte on every attempt (the SHA-256 and the GGUF header need every byte); parts
already stored are not sent again. A verified file records all its parts (`completing`)
before its upload is completed, so a restart in between completes it or recognises the object
(`_finish_completion`) instead of copying the file again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from botocore.exceptions import ClientError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from inference_common.db import unit_of_work
from inference_common.errors import NotFoundError, UnavailableError, UnprocessableError
from inference_common.gguf import GGUFError, GGUFHeader, GGUFStreamParser, model_columns
from inference_common.s3_multipart import (
    MISSING_OBJECT_CODES,
    CompletedPart,
    MultipartWriter,
    S3Client,
    abort_upload,
    complete_upload,
    multipart_etag,
    part_size_for,
    read_object,
    s3_error_code,
    start_upload,
    stored_parts,
)
from inference_common.tables import DownloadJob, Model
from inference_download import metrics
from inference_download.failures import JobError, classify
from inference_download.jobs import Jobs, initial_files, now
from inference_download.manifest import source_key
from inference_download.recorder import ThrottledSave
from inference_download.source import read_manifest

HEADER_LIMIT = 256 * 1024**2


@dataclass
class CopyContext:
    source: S3Client
    target: S3Client
    source_bucket: str
    target_bucket: str
    jobs: Jobs
    part_bytes: int
    parallel_parts: int
    cluster_name: str
    on_change: Callable[[UUID], None]
    on_progress: Callable[[UUID], None]  # bytes moved: live streams hear of it throttled
    progress_save_seconds: float  # progress rows at most this often per job
    touch: Callable[[UUID], None]  # the stall watchdog's heartbeat (from worker threads too)


def origin(cluster_name: str, model_uuid: UUID) -> str:
    """The registry's `source` of an imported model: the cluster and its uuid there."""
    return f"{cluster_name}:{model_uuid}"


class JobCopy:
    def __init__(self, ctx: CopyContext, job: DownloadJob) -> None:
        self.ctx = ctx
        self.uuid = job.model_uuid
        self.job = job
        self.files: list[dict[str, Any]] = [dict(f) for f in job.files]
        self.bytes_sent = job.bytes_sent
        self.bytes_resumed = job.bytes_resumed

    async def _save(self, *, progress: bool = False, **values: Any) -> None:
        await self.ctx.jobs.set(self.uuid, files=self.files, **values)
        (self.ctx.on_progress if progress else self.ctx.on_change)(self.uuid)

    def _done_bytes(self) -> int:
        return sum(int(f["bytes_done"]) for f in self.files)

    async def run(self) -> None:
        await self._save(phase="Copying", started_at=now(), last_progress_at=now())
        await self._refresh_manifest()
        await self._refuse_duplicate()
        headers: list[GGUFHeader] = []
        for index, entry in enumerate(self.files):
            if entry["state"] == "completing":
                await self._finish_completion(entry)
            if entry["state"] == "stored":  # verified and completed before a restart
                headers.append(await self._stored_header(entry["target_key"]))
            else:
                headers.append(await self._copy_file(index))
        await self._save(phase="Registering", bytes_done=self._done_bytes())
        await self._register(headers[0])
        self.ctx.on_change(self.uuid)

    async def _refuse_duplicate(self) -> None:
        """A model whose bytes are registered already is not copied a second time: the
        manifest's SHA-256 names it before a byte moves, and the error says where it is."""
        sha256 = self.files[0]["sha256"]
        async with self.ctx.jobs.sessions() as session:
            existing = (
                await session.execute(
                    select(Model.uuid, Model.name).where(
                        Model.sha256 == sha256, Model.uuid != self.uuid
                    )
                )
            ).first()
        if existing is not None:
            raise JobError(
                "duplicate",
                f"identical bytes are registered as model {existing.name!r} ({existing.uuid});"
                " import refused",
            )

    async def _copy_file(self, index: int) -> GGUFHeader:
        entry = self.files[index]
        key = source_key(self.uuid, entry["key"])
        try:
            head = await self.ctx.source.head_object(Bucket=self.ctx.source_bucket, Key=key)
        except Exception as exc:
            raise classify(exc, f"source file {key}") from exc
        etag, size = str(head["ETag"]), int(head["ContentLength"])
        if size != entry["size_bytes"]:
            raise JobError(
                "size_mismatch",
                f"{key}: {size} bytes in the source, manifest says {entry['size_bytes']}",
            )
        done = await self._prepare_upload(entry, etag, size)
        part_bytes = int(entry["part_bytes"])
        parser = GGUFStreamParser(HEADER_LIMIT)

        last_progress_at = now()

        async def save_progress() -> None:
            await self._save(
                progress=True,
                bytes_done=self._done_bytes(),
                bytes_sent=self.bytes_sent,
                bytes_resumed=self.bytes_resumed,
                last_progress_at=last_progress_at,
            )

        recorder = ThrottledSave(save_progress, self.ctx.progress_save_seconds)

        async def on_part(part: CompletedPart, sent: bool) -> None:
            nonlocal last_progress_at
            if sent:
                entry["parts"] = [*entry["parts"], part.as_list()]
                self.bytes_sent += part.size
                metrics.DOWNLOAD_BYTES.inc(part.size)
            else:
                self.bytes_resumed += part.size
            entry["bytes_done"] = int(entry["bytes_done"]) + part.size
            last_progress_at = now()
            self.ctx.touch(self.uuid)
            recorder.mark()

        writer = MultipartWriter(
            self.ctx.target,
            self.ctx.target_bucket,
            entry["target_key"],
            entry["upload_id"],
            part_bytes,
            in_flight=self.ctx.parallel_parts,
            done=done,
            on_part=on_part,
        )
        entry["bytes_done"] = 0

        def parse_header(fresh: memoryview) -> None:
            try:
                parser.feed(fresh)
            except GGUFError as exc:
                raise JobError("not_gguf", f"{key}: {exc}") from exc

        try:
            response = await self.ctx.source.get_object(Bucket=self.ctx.source_bucket, Key=key)
            try:
                await writer.fill_from(
                    self.ctx.source,
                    response["Body"],
                    seen=parse_header,
                    heartbeat=lambda: self.ctx.touch(self.uuid),
                )
            finally:
                self.ctx.source.release(response["Body"])
            parts = await writer.flush()
            await recorder.flush()
        except (JobError, asyncio.CancelledError):
            await writer.cancel()
            await recorder.cancel()
            raise
        except Exception as exc:
            await writer.cancel()
            await recorder.cancel()
            raise classify(exc, f"copy of {key}") from exc
        return await self._verify(entry, key, writer, parser, parts)

    async def _refresh_manifest(self) -> None:
        """A manifest that changed since the job began (the model was re-published) starts
        the copy over: what was stored of the old files is removed."""
        try:
            manifest = await read_manifest(self.ctx.source, self.ctx.source_bucket, self.uuid)
        except NotFoundError as exc:
            raise JobError("not_found", exc.message) from exc
        except UnprocessableError as exc:
            raise JobError("bad_manifest", exc.message) from exc
        except UnavailableError as exc:
            raise JobError("unavailable", exc.message, permanent=False) from exc
        current = manifest.model_dump()
        if current == self.job.manifest:
            return
        for entry in self.files:
            if entry.get("upload_id"):
                await abort_upload(
                    self.ctx.target, self.ctx.target_bucket, entry["target_key"], entry["upload_id"]
                )
            if entry.get("state") in ("completing", "stored"):
                await self.ctx.target.delete_object(
                    Bucket=self.ctx.target_bucket, Key=entry["target_key"]
                )
        self.files = initial_files(self.uuid, manifest)
        self.job.manifest = current
        await self._save(manifest=current, bytes_total=manifest.total_bytes, bytes_done=0)

    async def _stored_header(self, target_key: str) -> GGUFHeader:
        parser = GGUFStreamParser(HEADER_LIMIT)
        try:
            chunks = read_object(self.ctx.target, self.ctx.target_bucket, target_key)
            async with contextlib.aclosing(chunks):
                async for chunk in chunks:
                    parser.feed(chunk)
                    if parser.header is not None:
                        return parser.header
        except GGUFError as exc:
            raise JobError("not_gguf", f"{target_key}: {exc}") from exc
        except Exception as exc:
            raise classify(exc, f"reading {target_key}") from exc
        raise JobError("not_gguf", f"{target_key}: no GGUF header")

    async def _still_stored(self, entry: dict[str, Any]) -> list[CompletedPart] | None:
        """The parts our bucket holds for the recorded upload; None when the upload is gone.
        Parts stored after the last progress row count too: the upload is ours and the
        source unchanged, so part N holds the same bytes the stream's part N would."""
        try:
            stored = await stored_parts(
                self.ctx.target, self.ctx.target_bucket, entry["target_key"], entry["upload_id"]
            )
        except ClientError as exc:
            if s3_error_code(exc) == "NoSuchUpload":
                return None
            raise classify(exc, "our object store") from exc
        except Exception as exc:
            raise classify(exc, "our object store") from exc
        return sorted(stored, key=lambda p: p.number)

    async def _prepare_upload(
        self, entry: dict[str, Any], etag: str, size: int
    ) -> list[CompletedPart]:
        """The parts to keep: those of the recorded upload when the source is unchanged. A
        resumed upload keeps its part size (a changed setting would shift the parts); a new
        one records its part size with its upload id, before any part is stored."""
        if entry["upload_id"] and entry["source_etag"] == etag and entry.get("part_bytes"):
            kept = await self._still_stored(entry)
            if kept is not None:
                entry["parts"] = [p.as_list() for p in kept]
                return kept
        elif entry["upload_id"]:  # the source changed: start over
            await abort_upload(
                self.ctx.target, self.ctx.target_bucket, entry["target_key"], entry["upload_id"]
            )
        try:
            upload_id = await start_upload(
                self.ctx.target, self.ctx.target_bucket, entry["target_key"]
            )
        except Exception as exc:
            raise classify(exc, "our object store") from exc
        entry.update(
            upload_id=upload_id,
            source_etag=etag,
            part_bytes=part_size_for(size, self.ctx.part_bytes),
            parts=[],
            bytes_done=0,
            state="copying",
        )
        await self._save()
        return []

    async def _verify(
        self,
        entry: dict[str, Any],
        key: str,
        writer: MultipartWriter,
        parser: GGUFStreamParser,
        parts: list[CompletedPart],
    ) -> GGUFHeader:
        await self._save(phase="Verifying")
        if writer.size != entry["size_bytes"]:
            raise JobError("size_mismatch", f"{key}: read {writer.size} bytes")
        digest = writer.sha256.hexdigest()
        if digest != entry["sha256"]:
            raise JobError(
                "checksum_mismatch", f"{key}: sha256 {digest}, manifest says {entry['sha256']}"
            )
        try:
            header = parser.finish()
        except GGUFError as exc:
            raise JobError("not_gguf", f"{key}: {exc}") from exc
        # every part, before the upload is completed: a restart that finds the upload gone
        # knows the object these parts make (its ETag) and does not copy the file again
        entry.update(state="completing", parts=[p.as_list() for p in parts])
        await self._save()
        try:
            await writer.complete(parts)
        except Exception as exc:
            raise classify(exc, "completing the upload") from exc
        await self._mark_stored(entry)
        return header

    async def _mark_stored(self, entry: dict[str, Any]) -> None:
        entry.update(state="stored", upload_id=None, parts=[], bytes_done=entry["size_bytes"])
        await self._save(
            phase="Copying",
            bytes_done=self._done_bytes(),
            bytes_resumed=self.bytes_resumed,
            last_progress_at=now(),
        )

    async def _finish_completion(self, entry: dict[str, Any]) -> None:
        """A file verified before a restart, its upload completed or not: stored once the
        upload is completed now or the object in our bucket is the one its parts make.
        Anything else leaves it to be copied again (resuming from the parts still held)."""
        parts = sorted((CompletedPart.from_list(p) for p in entry["parts"]), key=lambda p: p.number)
        if not await self._completed(entry, parts):
            entry["state"] = "copying"
            return
        self.bytes_resumed += int(entry["size_bytes"])
        await self._mark_stored(entry)

    async def _completed(self, entry: dict[str, Any], parts: list[CompletedPart]) -> bool:
        if sum(p.size for p in parts) != entry["size_bytes"]:
            return False
        held = await self._still_stored(entry)
        if held is None:  # completed before the restart, or gone
            return await self._holds(entry["target_key"], entry["size_bytes"], parts)
        if [(p.number, p.etag) for p in held] != [(p.number, p.etag) for p in parts]:
            return False
        try:
            await complete_upload(
                self.ctx.target,
                self.ctx.target_bucket,
                entry["target_key"],
                entry["upload_id"],
                parts,
            )
        except Exception as exc:
            raise classify(exc, "completing the upload") from exc
        return True

    async def _holds(self, key: str, size: int, parts: list[CompletedPart]) -> bool:
        try:
            head = await self.ctx.target.head_object(Bucket=self.ctx.target_bucket, Key=key)
        except ClientError as exc:
            if s3_error_code(exc) in MISSING_OBJECT_CODES:
                return False
            raise classify(exc, "our object store") from exc
        except Exception as exc:
            raise classify(exc, "our object store") from exc
        return int(head["ContentLength"]) == size and (
            str(head["ETag"]).strip('"') == multipart_etag(parts)
        )

    async def _register(self, header: GGUFHeader) -> None:
        """Publish last: the row appears only once every file is stored and verified, in
        the transaction that marks the job Done (a cancel or crash sees both or neither)."""
        manifest = self.job.manifest
        try:
            async with unit_of_work(self.ctx.jobs.sessions) as session:
                session.add(
                    Model(
                        uuid=self.uuid,
                        name=manifest["name"],
                        object_key=self.files[0]["target_key"],
                        size_bytes=sum(int(f["size_bytes"]) for f in self.files),
                        sha256=self.files[0]["sha256"],
                        source=origin(self.ctx.cluster_name, self.uuid),
                        state="ready",
                        owner_id=self.job.owner_id,
                        **model_columns(header),
                    )
                )
                await session.flush()
                await session.execute(
                    update(DownloadJob)
                    .where(DownloadJob.model_uuid == self.uuid)
                    .values(phase="Done", error_class=None, error_message=None, files=self.files)
                )
        except IntegrityError as exc:
            raise JobError(
                "conflict",
                f"model {manifest['name']!r} or an identical file is already registered",
            ) from exc
