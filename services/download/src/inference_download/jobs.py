"""The download_jobs rows: one short transaction per change, so progress is durable."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inference_common.db import unit_of_work
from inference_common.tables import DownloadJob
from inference_download.manifest import Manifest, target_keys
from inference_download.progress import TERMINAL


def now() -> datetime:
    return datetime.now(UTC)


def initial_files(model_uuid: UUID, manifest: Manifest) -> list[dict[str, Any]]:
    return [
        {
            "key": f.key,
            "size_bytes": f.size_bytes,
            "sha256": f.sha256,
            "target_key": target,
            "source_etag": None,
            "upload_id": None,
            "parts": [],
            "bytes_done": 0,
            "state": "pending",
        }
        for f, target in zip(manifest.files, target_keys(model_uuid, manifest), strict=True)
    ]


def fresh_columns(model_uuid: UUID, manifest: Manifest) -> dict[str, Any]:
    return {
        "manifest": manifest.model_dump(),
        "phase": "Queued",
        "bytes_done": 0,
        "bytes_total": manifest.total_bytes,
        "bytes_sent": 0,
        "bytes_resumed": 0,
        "files": initial_files(model_uuid, manifest),
        "attempts": 0,
        "error_class": None,
        "error_message": None,
        "started_at": None,
        "last_progress_at": None,
    }


class Jobs:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def get(self, model_uuid: UUID) -> DownloadJob | None:
        async with unit_of_work(self.sessions) as session:
            return await session.get(DownloadJob, model_uuid)

    async def list(self, owner_id: UUID | None) -> Sequence[DownloadJob]:
        query = select(DownloadJob).order_by(DownloadJob.created_at.desc())
        if owner_id is not None:
            query = query.where(DownloadJob.owner_id == owner_id)
        async with unit_of_work(self.sessions) as session:
            return (await session.scalars(query)).all()

    async def unfinished(self) -> Sequence[DownloadJob]:
        async with unit_of_work(self.sessions) as session:
            query = select(DownloadJob).where(DownloadJob.phase.not_in(TERMINAL))
            return (await session.scalars(query)).all()

    async def not_done(self) -> Sequence[DownloadJob]:
        async with unit_of_work(self.sessions) as session:
            query = select(DownloadJob).where(DownloadJob.phase != "Done")
            return (await session.scalars(query)).all()

    async def create_or_get(
        self,
        model_uuid: UUID,
        manifest: Manifest,
        owner_id: UUID,
        endpoint: str,
        bucket: str,
    ) -> tuple[DownloadJob, bool]:
        """One row per model, whoever asks at the same time; a Failed or Cancelled job is
        started afresh. True when this call (re)started it."""
        columns = fresh_columns(model_uuid, manifest)
        async with unit_of_work(self.sessions) as session:
            inserted = await session.scalar(
                insert(DownloadJob)
                .values(
                    model_uuid=model_uuid,
                    source_endpoint=endpoint,
                    source_bucket=bucket,
                    owner_id=owner_id,
                    **columns,
                )
                .on_conflict_do_nothing(index_elements=["model_uuid"])
                .returning(DownloadJob.model_uuid)
            )
            if inserted is None:
                restarted = await session.scalar(
                    update(DownloadJob)
                    .where(
                        DownloadJob.model_uuid == model_uuid,
                        DownloadJob.phase.in_(("Failed", "Cancelled")),
                    )
                    .values(owner_id=owner_id, **columns)
                    .returning(DownloadJob.model_uuid)
                )
                inserted = restarted
        job = await self.get(model_uuid)
        assert job is not None
        return job, inserted is not None

    async def set(self, model_uuid: UUID, **values: Any) -> None:
        async with unit_of_work(self.sessions) as session:
            await session.execute(
                update(DownloadJob).where(DownloadJob.model_uuid == model_uuid).values(**values)
            )
