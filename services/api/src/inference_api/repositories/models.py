"""Registered models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Integer, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from inference_common.tables import Model, Server


@dataclass(frozen=True)
class ModelListing:
    """A model as listed: its row without the GGUF metadata (`gguf_metadata` not loaded),
    plus the two values of it that lists show."""

    model: Model
    tokenizer: str | None
    vocab_size: int | None


_TOKENIZER = Model.gguf_metadata[("kv", "tokenizer.ggml.model")].astext
_VOCAB_LENGTH = Model.gguf_metadata[("kv", "tokenizer.ggml.tokens", "length")].astext


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

    async def list(self, limit: int, offset: int) -> list[ModelListing]:
        """One query; the metadata column (up to ~1 MiB a model) stays in the database."""
        vocab = _VOCAB_LENGTH.cast(Integer)
        result = await self.session.execute(
            select(Model, _TOKENIZER, vocab)
            .options(defer(Model.gguf_metadata, raiseload=True))
            .order_by(Model.created_at, Model.name)
            .limit(limit)
            .offset(offset)
        )
        return [ModelListing(row, tokenizer, vocab_size) for row, tokenizer, vocab_size in result]

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
