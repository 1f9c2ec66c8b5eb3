"""Servers: the API's record of each ModelServe, its status mirrored by the watch."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import case, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from inference_api.mirror import MirroredServer
from inference_common.modelserve import Phase
from inference_common.tables import Model, Server

# The API's view of a server, rendered as JSON by Postgres in one statement: listing 1,000
# servers costs one query and no per-row Python (reasons are derived when status is written).
_SERVER_JSON = """
json_build_object(
    'server_uuid', p.uuid, 'name', p.name, 'namespace', p.namespace,
    'model_uuid', p.model_uuid, 'model_name', p.model_name, 'owner_id', p.owner_id,
    'replicas', p.replicas, 'ready_replicas', p.ready_replicas, 'phase', p.phase,
    'reasons', p.reasons,
    'endpoint', p.endpoint, 'runtime', p.runtime, 'gpu', p.gpu,
    'created_at', p.created_at, 'updated_at', p.updated_at, 'stopped_at', p.stopped_at
)"""


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

    async def list_json(
        self, owner_id: UUID | None, include_stopped: bool, limit: int, offset: int
    ) -> str:
        """The page of servers as a JSON array (newest first)."""
        where = ["TRUE"]
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if owner_id is not None:
            where.append("owner_id = :owner_id")
            params["owner_id"] = owner_id
        if not include_stopped:
            where.append("stopped_at IS NULL")
        statement = text(
            f"""
            WITH p AS (
                SELECT * FROM servers WHERE {" AND ".join(where)}
                ORDER BY created_at DESC, uuid LIMIT :limit OFFSET :offset
            )
            SELECT coalesce(json_agg({_SERVER_JSON} ORDER BY p.created_at DESC, p.uuid),
                            '[]'::json)::text
            FROM p
            """  # noqa: S608  (only fixed fragments are formatted in; values are bound)
        )
        result = await self.session.execute(statement, params)
        return str(result.scalar_one())

    async def get_json(self, server_uuid: UUID) -> str | None:
        """One server as a JSON object, None when it does not exist."""
        statement = text(f"SELECT {_SERVER_JSON}::text FROM servers p WHERE p.uuid = :uuid")  # noqa: S608
        result = await self.session.execute(statement, {"uuid": server_uuid})
        value = result.scalar_one_or_none()
        return None if value is None else str(value)

    async def mark_stopped(self, row: Server, when: datetime) -> None:
        if row.stopped_at is None:
            row.stopped_at = when
        row.phase = Phase.STOPPED.value
        row.ready_replicas = 0
        row.reasons = []
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
            "reasons": mirrored.reasons,
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
                "reasons": case((stopped, Server.reasons), else_=excluded.reasons),
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
