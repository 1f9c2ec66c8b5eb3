"""Runs jobs: at most `max_concurrent_jobs` copies, retries with bounded backoff, a stall
watchdog, cancellation that leaves nothing behind, and resume of unfinished jobs at start."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from contextlib import AsyncExitStack
from typing import Any
from uuid import UUID

from inference_common.errors import UnavailableError
from inference_common.s3_multipart import abort_upload, pending_uploads, s3_client
from inference_common.tables import DownloadJob
from inference_download import metrics
from inference_download.engine import CopyContext, JobCopy
from inference_download.failures import JobError, backoff_seconds
from inference_download.jobs import Jobs
from inference_download.progress import TERMINAL, ChangeBoard
from inference_download.settings import DownloadSettings

logger = logging.getLogger(__name__)


class Runner:
    def __init__(self, settings: DownloadSettings, jobs: Jobs, board: ChangeBoard) -> None:
        self.settings = settings
        self.jobs = jobs
        self.board = board
        self.source: Any = None
        self.target: Any = None
        self._stack = AsyncExitStack()
        self._tasks: dict[UUID, asyncio.Task[None]] = {}
        self._heartbeat: dict[UUID, float] = {}
        self._slots = asyncio.Semaphore(settings.max_concurrent_jobs)
        self._watchdog: asyncio.Task[None] | None = None

    async def start(self) -> None:
        connections = self.settings.parallel_parts * self.settings.max_concurrent_jobs + 4
        self.source = await self._stack.enter_async_context(
            s3_client(self.settings.source(), connections)
        )
        self.target = await self._stack.enter_async_context(
            s3_client(self.settings.target(), connections)
        )
        try:
            await self._abort_orphans()
        except Exception:  # our store down at start: the jobs' own retries report it
            logger.warning("could not look for orphaned uploads", exc_info=True)
        for job in await self.jobs.unfinished():
            self.ensure(job.model_uuid)
        self._watchdog = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        """Stops copies where they are (a restart resumes them)."""
        tasks = [*self._tasks.values(), *([self._watchdog] if self._watchdog else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._stack.aclose()

    def context(self) -> CopyContext:
        return CopyContext(
            source=self.source,
            target=self.target,
            source_bucket=self.settings.quant_bucket,
            target_bucket=self.settings.models_bucket,
            jobs=self.jobs,
            part_bytes=self.settings.part_bytes,
            parallel_parts=self.settings.parallel_parts,
            cluster_name=self.settings.quant_cluster_name,
            on_change=self.board.changed,
            on_progress=self.board.progressed,
            progress_save_seconds=self.settings.progress_save_seconds,
            touch=self._touch,
        )

    def _touch(self, model_uuid: UUID) -> None:
        self._heartbeat[model_uuid] = time.monotonic()

    def ensure(self, model_uuid: UUID) -> None:
        """Starts the job's task unless it runs already (one copy per model)."""
        task = self._tasks.get(model_uuid)
        if task is not None and not task.done():
            return
        task = asyncio.create_task(self._run(model_uuid))
        self._tasks[model_uuid] = task
        task.add_done_callback(lambda _: self._tasks.pop(model_uuid, None))

    async def cancel(self, model_uuid: UUID) -> None:
        task = self._tasks.get(model_uuid)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        job = await self.jobs.get(model_uuid)
        if job is None or job.phase == "Done":  # registered before the cancel landed
            return
        await self.jobs.set(
            model_uuid, phase="Cancelled", error_class="cancelled", error_message="cancelled"
        )
        metrics.job_finished("Cancelled", "cancelled")
        self.board.changed(model_uuid)
        try:
            await self._clean(job)
        except Exception as exc:  # the next start removes what is left
            raise UnavailableError(
                f"cancelled; cleaning up failed ({type(exc).__name__}), retried at the next start"
            ) from exc

    async def _run(self, model_uuid: UUID) -> None:
        async with self._slots:
            with metrics.DOWNLOADS_IN_FLIGHT.track_inprogress():
                await self._attempts(model_uuid)

    async def _copy(self, job: DownloadJob) -> None:
        copy = JobCopy(self.context(), job)
        sent_before, started = copy.bytes_sent, time.monotonic()
        await copy.run()
        metrics.job_finished("Done", None)
        metrics.copy_run_ended(copy.bytes_sent - sent_before, time.monotonic() - started)

    async def _attempts(self, model_uuid: UUID) -> None:
        attempts = 0
        while True:
            try:
                job = await self.jobs.get(model_uuid)
                if job is None or job.phase in TERMINAL:
                    return
                attempts = job.attempts
                self._touch(model_uuid)
                await self._copy(job)
                return
            except JobError as exc:
                error = exc
            except Exception as exc:  # the database went away, or a bug: bounded retries
                logger.exception("job %s", model_uuid)
                error = JobError("internal", f"{type(exc).__name__}: {exc}", permanent=False)
            finally:
                self._heartbeat.pop(model_uuid, None)
            attempts += 1
            if error.permanent or attempts >= self.settings.max_attempts:
                await self._fail(model_uuid, error, attempts)
                return
            await self._retry_later(model_uuid, error, attempts)

    async def _retry_later(self, model_uuid: UUID, error: JobError, attempts: int) -> None:
        delay = backoff_seconds(
            attempts, self.settings.retry_base_seconds, self.settings.retry_max_seconds
        )
        logger.warning("job %s: %s; retrying in %.0f s", model_uuid, error.message, delay)
        try:
            await self.jobs.set(
                model_uuid,
                attempts=attempts,
                error_class=error.error_class,
                error_message=f"{error.message} (retrying in {delay:.0f} s)",
            )
            self.board.changed(model_uuid)
        except Exception:
            logger.warning("could not record the retry of job %s", model_uuid, exc_info=True)
        await asyncio.sleep(delay)

    async def _fail(self, model_uuid: UUID, error: JobError, attempts: int | None = None) -> None:
        """Cleans up and records the failure; logged when even that is impossible (the job
        then resumes at the next start)."""
        try:
            job = await self.jobs.get(model_uuid)
            if job is not None:
                await self._clean(job)
            await self.jobs.set(
                model_uuid,
                phase="Failed",
                attempts=attempts if attempts is not None else (job.attempts + 1 if job else 1),
                error_class=error.error_class,
                error_message=error.message,
            )
            metrics.job_finished("Failed", error.error_class)
            self.board.changed(model_uuid)
        except Exception:
            logger.exception("could not record the failure of job %s", model_uuid)

    async def _clean(self, job: DownloadJob) -> None:
        """Nothing stays behind: incomplete uploads aborted, stored files removed."""
        bucket = self.settings.models_bucket
        for entry in job.files:
            for key, upload_id in await pending_uploads(self.target, bucket, entry["target_key"]):
                await abort_upload(self.target, bucket, key, upload_id)
            await self.target.delete_object(Bucket=bucket, Key=entry["target_key"])
        files = [
            {**f, "upload_id": None, "parts": [], "bytes_done": 0, "state": "removed"}
            for f in job.files
        ]
        await self.jobs.set(job.model_uuid, files=files, bytes_done=0)

    async def _abort_orphans(self) -> None:
        """Incomplete uploads under a job's keys that its row does not record (a crash
        between starting an upload and saving its id); whatever a failed or cancelled job
        could not remove."""
        bucket = self.settings.models_bucket
        for job in await self.jobs.not_done():
            if job.phase in ("Failed", "Cancelled"):
                if any(f.get("state") != "removed" for f in job.files):
                    await self._clean(job)
                continue
            for entry in job.files:
                kept = entry.get("upload_id")
                for key, upload_id in await pending_uploads(
                    self.target, bucket, entry["target_key"]
                ):
                    if upload_id != kept:
                        logger.info("aborting orphaned upload of %s", key)
                        await abort_upload(self.target, bucket, key, upload_id)

    async def _watch(self) -> None:
        """Fails a job that made no progress (no byte read, no part stored) for too long."""
        interval = min(5.0, self.settings.stall_seconds / 4)
        while True:
            await asyncio.sleep(interval)
            cutoff = time.monotonic() - self.settings.stall_seconds
            for model_uuid, beat in list(self._heartbeat.items()):
                task = self._tasks.get(model_uuid)
                if beat < cutoff and task is not None and not task.done():
                    logger.warning("job %s stalled", model_uuid)
                    metrics.DOWNLOAD_STALLS.inc()
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    message = f"no progress for {self.settings.stall_seconds:.0f} s"
                    await self._fail(model_uuid, JobError("stalled", message))
