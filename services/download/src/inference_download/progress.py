"""What a job looks like from outside (pure), and change notifications for live streams."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from inference_common.tables import DownloadJob

PHASES = ("Queued", "Copying", "Verifying", "Registering", "Done", "Failed", "Cancelled")
TERMINAL = frozenset({"Done", "Failed", "Cancelled"})


class FileProgress(BaseModel):
    key: str
    size_bytes: int
    bytes_done: int
    state: str


class JobError(BaseModel):
    error_class: str
    message: str


class JobSnapshot(BaseModel):
    model_uuid: UUID
    name: str | None
    quantization: str | None
    phase: str
    bytes_done: int
    bytes_total: int
    bytes_sent: int
    bytes_resumed: int
    files: list[FileProgress]
    rate_bytes_per_second: float | None
    eta_seconds: float | None
    attempts: int
    error: JobError | None
    owner_id: UUID | None
    started_at: datetime | None
    last_progress_at: datetime | None
    created_at: datetime


def rate_and_eta(
    done: int, total: int, started: datetime | None, last: datetime | None
) -> tuple[float | None, float | None]:
    """Average rate of the current run and the time left at that rate."""
    if started is None or last is None or done <= 0:
        return None, None
    elapsed = (last - started).total_seconds()
    if elapsed <= 0:
        return None, None
    rate = done / elapsed
    return rate, max(0, total - done) / rate


def snapshot(job: DownloadJob) -> JobSnapshot:
    manifest: dict[str, Any] = job.manifest or {}
    rate, eta = rate_and_eta(job.bytes_done, job.bytes_total, job.started_at, job.last_progress_at)
    if job.phase in TERMINAL:
        rate, eta = None, None
    return JobSnapshot(
        model_uuid=job.model_uuid,
        name=manifest.get("name"),
        quantization=manifest.get("quantization"),
        phase=job.phase,
        bytes_done=job.bytes_done,
        bytes_total=job.bytes_total,
        bytes_sent=job.bytes_sent,
        bytes_resumed=job.bytes_resumed,
        files=[
            FileProgress(
                key=f["key"],
                size_bytes=f["size_bytes"],
                bytes_done=f.get("bytes_done", 0),
                state=f.get("state", "pending"),
            )
            for f in job.files or []
        ],
        rate_bytes_per_second=rate,
        eta_seconds=eta,
        attempts=job.attempts,
        error=JobError(error_class=job.error_class, message=job.error_message or "")
        if job.error_class
        else None,
        owner_id=job.owner_id,
        started_at=job.started_at,
        last_progress_at=job.last_progress_at,
        created_at=job.created_at,
    )


class ChangeBoard:
    """Wakes the live streams of a job when it changed (within this process).

    A phase or error change wakes them at once; progress of the bytes at most every
    `progress_interval` seconds: a copy stores dozens of parts a second, and every wake is a
    database read and a snapshot per stream, CPU that the copy itself would otherwise get.
    Every change counts a job's version: a stream passes the version it read at, so a change
    between its read and its wait is not missed (it would wait for the keep-alive instead).
    """

    def __init__(self, progress_interval: float = 0.25) -> None:
        self.progress_interval = progress_interval
        self._versions: dict[UUID, int] = {}
        self._events: dict[UUID, asyncio.Event] = {}
        self._last_woken: dict[UUID, float] = {}
        self._pending: dict[UUID, asyncio.TimerHandle] = {}

    def version(self, model_uuid: UUID) -> int:
        return self._versions.get(model_uuid, 0)

    def changed(self, model_uuid: UUID) -> None:
        pending = self._pending.pop(model_uuid, None)
        if pending is not None:
            pending.cancel()
        self._versions[model_uuid] = self.version(model_uuid) + 1
        event = self._events.pop(model_uuid, None)
        if event is not None:
            self._last_woken[model_uuid] = time.monotonic()
            event.set()
        else:
            self._last_woken.pop(model_uuid, None)

    def progressed(self, model_uuid: UUID) -> None:
        """Bytes moved: the streams hear of it now, or once the interval since their last
        wake has passed (one wake for all the progress in between)."""
        if model_uuid in self._pending:
            return
        last = self._last_woken.get(model_uuid)
        due = 0.0 if last is None else last + self.progress_interval - time.monotonic()
        if due <= 0:
            self.changed(model_uuid)
        else:
            loop = asyncio.get_running_loop()
            self._pending[model_uuid] = loop.call_later(due, self.changed, model_uuid)

    async def wait(self, model_uuid: UUID, seen: int, within: float) -> None:
        """Returns once the job changed after version `seen`, or after `within` seconds."""
        if self.version(model_uuid) != seen:
            return
        event = self._events.setdefault(model_uuid, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), within)
