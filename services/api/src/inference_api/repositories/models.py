"""Registered models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from inference_common.tables import Model, Server


class ModelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, model_uuid: UUID) -> Model | None:
        return await self.session.get(Model, model_uuid)

    async def by_name(self, name: str) -> Model | None:
        result = await self.session.execute(select(Model).where(Model.name == name))
        return result.scalar_one_or_none()

    async def by_sha256(self, sha256: str) -> Model | None:
        result = await self.session.execute(select(Model).where(Model.sha256 == sha256))
        return result.scalar_one_or_none()

    async def list(self, limit: int, offset: int) -> Sequence[Model]:
        result = await self.session.execute(
            select(Model).order_by(Model.created_at, Model.name).limit(limit).offset(offset)
        )
        return result.scalars().all()

    async def add(self, **values: Any) -> Model:
        row = Model(**values)
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def is_served(self, model_uuid: UUID) -> bool:
        result = await self.session.execute(
            select(exists().where(Server.model_uuid == model_uuid, Server.stopped_at.is_(None)))
        )
        return bool(result.scalar())

    async def detach_stopped_servers(self, model_uuid: UUID) -> None:
        """Stopped servers keep their history (model name) but let the model go."""
        await self.session.execute(
            update(Server)
            .where(Server.model_uuid == model_uuid, Server.stopped_at.is_not(None))
            .values(model_uuid=None)
        )

    async def delete(self, row: Model) -> None:
        await self.session.delete(row)
        await self.session.flush()
