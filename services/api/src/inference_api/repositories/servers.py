"""Servers: the API's record of each ModelServe, its status mirrored by the watch."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from inference_api.mirror import MirroredServer
from inference_common.modelserve import Phase
from inference_common.tables import Model, Server


class ServerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, **values: Any) -> Server:
        row = Server(**values)
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def get(self, server_uuid: UUID) -> Server | None:
        return await self.session.get(Server, server_uuid)

    async def list(
        self, owner_id: UUID | None, include_stopped: bool, limit: int, offset: int
    ) -> Sequence[Server]:
        query = select(Server)
        if owner_id is not None:
            query = query.where(Server.owner_id == owner_id)
        if not include_stopped:
            query = query.where(Server.stopped_at.is_(None))
        query = query.order_by(Server.created_at.desc(), Server.uuid).limit(limit).offset(offset)
        result = await self.session.execute(query)
        return result.scalars().all()

    async def mark_stopped(self, row: Server, when: datetime) -> None:
        if row.stopped_at is None:
            row.stopped_at = when
        row.phase = Phase.STOPPED.value
        row.ready_replicas = 0
        await self.session.flush()
        await self.session.refresh(row)  # updated_at is set by the database

    async def upsert_mirror(self, mirrored: MirroredServer) -> None:
        """Inserts a server first seen in Kubernetes (kubectl) or updates the status columns
        of a known one. A stopped record stays stopped."""
        known_model = (
            select(Model.uuid).where(Model.uuid == mirrored.model_uuid).scalar_subquery()
            if mirrored.model_uuid is not None
            else None
        )
        values: dict[str, Any] = {
            "uuid": mirrored.server_uuid,
            "name": mirrored.name,
            "namespace": mirrored.namespace,
            "model_uuid": known_model,
            "model_name": mirrored.model_name,
            "owner_id": None,
            "replicas": mirrored.replicas,
            "gpu": mirrored.gpu,
            "runtime": mirrored.runtime,
            "phase": mirrored.phase,
            "ready_replicas": mirrored.ready_replicas,
            "endpoint": mirrored.endpoint,
            "conditions": mirrored.conditions,
            "stopped_at": func.now() if mirrored.deleted else None,
        }
        statement = insert(Server).values(**values)
        excluded = statement.excluded
        stopped = Server.stopped_at.is_not(None)
        statement = statement.on_conflict_do_update(
            index_elements=[Server.uuid],
            set_={
                "phase": case((stopped, Phase.STOPPED.value), else_=excluded.phase),
                "ready_replicas": case((stopped, 0), else_=excluded.ready_replicas),
                "replicas": excluded.replicas,
                "endpoint": excluded.endpoint,
                "conditions": excluded.conditions,
                "stopped_at": func.coalesce(Server.stopped_at, excluded.stopped_at),
                "updated_at": func.now(),
            },
        )
        await self.session.execute(statement)

    async def stop_missing(self, present: Collection[UUID], created_before: datetime) -> int:
        """After a full list: records whose ModelServe is gone are stopped."""
        conditions = [Server.stopped_at.is_(None), Server.created_at < created_before]
        if present:
            conditions.append(Server.uuid.not_in(list(present)))
        statement = (
            update(Server)
            .where(*conditions)
            .values(
                stopped_at=func.now(),
                phase=Phase.STOPPED.value,
                ready_replicas=0,
                updated_at=func.now(),
            )
        )
        result = await self.session.execute(statement)
        return int(getattr(result, "rowcount", 0) or 0)
