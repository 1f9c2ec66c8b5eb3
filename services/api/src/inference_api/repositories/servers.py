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
from inference_common.server_identity import NAMESPACE
from inference_common.tables import Model, Server

# The API's view of a server (the shape of `ServerOut`), rendered as JSON text by Postgres:
# listing 1,000 servers costs one query and no per-row Python (reasons are derived when status
# is written). Built by concatenation rather than json_build_object / row_to_json, which on
# Postgres 15 look up every argument's type output function again for every row (a 1,000-row
# page renders in about half the time this way). The output is the same JSON: strings and
# timestamps go through to_json (escaping; ISO 8601 with offset), jsonb and integers print as
# JSON already, uuids only need quotes; NULL is null.
SERVER_FIELDS: tuple[tuple[str, str], ...] = (
    ("server_uuid", "uuid"),
    ("name", "to_json"),
    ("namespace", "to_json"),
    ("model_uuid", "uuid"),
    ("model_name", "to_json"),
    ("owner_id", "uuid"),
    ("replicas", "json"),
    ("ready_replicas", "json"),
    ("phase", "to_json"),
    ("reasons", "json"),
    ("endpoint", "to_json"),
    ("runtime", "json"),
    ("gpu", "json"),
    ("created_at", "to_json"),
    ("updated_at", "to_json"),
    ("stopped_at", "to_json"),
    ("visibility", "to_json"),
)
_COLUMN = {"server_uuid": "uuid"}  # output name -> column, where they differ


def _json_value(column: str, kind: str) -> str:
    value = {
        "uuid": f"'\"' || s.{column} || '\"'",
        "to_json": f"to_json(s.{column})::text",
        "json": f"s.{column}::text",
    }[kind]
    return f"coalesce({value}, 'null')"


def _json_object() -> str:
    parts = []
    for index, (name, kind) in enumerate(SERVER_FIELDS):
        parts.append(f"'{'{' if index == 0 else ','}\"{name}\":'")
        parts.append(_json_value(_COLUMN.get(name, name), kind))
    parts.append("'}'")
    return " || ".join(parts)


_SERVER_JSON = _json_object()


class ServerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, **values: Any) -> Server:
        row = Server(**values)
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def running_replicas(self) -> list[tuple[UUID, str, int, int]]:
        """(uuid, model name, replicas, ready replicas) of every server not stopped."""
        result = await self.session.execute(
            select(Server.uuid, Server.model_name, Server.replicas, Server.ready_replicas).where(
                Server.stopped_at.is_(None)
            )
        )
        return [(r[0], r[1], r[2], r[3]) for r in result.all()]

    async def get(self, server_uuid: UUID) -> Server | None:
        return await self.session.get(Server, server_uuid)

    async def list_json(
        self,
        owner_id: UUID | None,
        namespaces: Collection[str],
        include_stopped: bool,
        limit: int,
        offset: int,
    ) -> str:
        """The page of servers as a JSON array (newest first): all of them, or with
        `owner_id` that owner's and those shared with one of `namespaces`."""
        where = ["TRUE"]
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if owner_id is not None:
            where.append(
                "(s.owner_id = :owner_id OR (s.visibility = :shared "
                "AND s.namespace = ANY(CAST(:namespaces AS text[]))))"
            )
            params |= {"owner_id": owner_id, "shared": NAMESPACE, "namespaces": list(namespaces)}
        if not include_stopped:
            where.append("s.stopped_at IS NULL")
        statement = text(
            f"""
            SELECT {_SERVER_JSON} FROM servers s WHERE {" AND ".join(where)}
            ORDER BY s.created_at DESC, s.uuid LIMIT :limit OFFSET :offset
            """  # noqa: S608  (only fixed fragments are formatted in; values are bound)
        )
        result = await self.session.execute(statement, params)
        return "[" + ",".join(result.scalars().all()) + "]"

    async def get_json(self, server_uuid: UUID) -> str | None:
        """One server as a JSON object, None when it does not exist."""
        statement = text(f"SELECT {_SERVER_JSON} FROM servers s WHERE s.uuid = :uuid")  # noqa: S608
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

    async def set_replicas(self, row: Server, replicas: int) -> None:
        row.replicas = replicas
        await self.session.flush()
        await self.session.refresh(row)

    async def upsert_mirror(self, mirrored: MirroredServer) -> None:
        """Inserts a server first seen in Kubernetes (kubectl) or updates the status columns
        of a known one. A stopped record stays stopped. A record is only ever updated from
        the object it was made for (same namespace and name): a ModelServe that claims
        another's server uuid changes nothing."""
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
            where=(Server.namespace == excluded.namespace) & (Server.name == excluded.name),
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
