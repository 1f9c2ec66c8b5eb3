"""Registered models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Integer,
    Text,
    and_,
    cast,
    exists,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from inference_common.model_access import ModelVisibility
from inference_common.tables import Model, Server, User, UserContract


@dataclass(frozen=True)
class ModelListing:
    """A model as listed: its row without the GGUF metadata (`gguf_metadata` not loaded),
    plus the two values of it that lists show."""

    model: Model
    tokenizer: str | None
    vocab_size: int | None


_TOKENIZER = Model.gguf_metadata[("kv", "tokenizer.ggml.model")].astext
_VOCAB_LENGTH = Model.gguf_metadata[("kv", "tokenizer.ggml.tokens", "length")].astext


def servable_by(user: User, default_namespaces: Sequence[str]) -> ColumnElement[bool]:
    """The models `user` may see: every one for admins; else their own, public ones and
    shared ones shared with a namespace they may serve in (their contract's
    `allowed_namespaces`, else the global default) — `inference_common.model_access` in SQL."""
    if user.role == "admin":
        return true()
    namespaces = func.coalesce(
        select(UserContract.allowed_namespaces)
        .where(UserContract.username == user.username)
        .scalar_subquery(),
        cast(list(default_namespaces), ARRAY(Text)),
    )
    return or_(
        Model.owner_id == user.id,
        Model.visibility == ModelVisibility.PUBLIC.value,
        and_(
            Model.visibility == ModelVisibility.SHARED.value,
            Model.shared_with.overlap(namespaces),
        ),
    )


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

    async def visible(self, row: Model, user: User, default_namespaces: Sequence[str]) -> bool:
        if user.role == "admin" or row.owner_id == user.id:
            return True
        found = await self.session.scalar(
            select(Model.uuid).where(Model.uuid == row.uuid, servable_by(user, default_namespaces))
        )
        return found is not None

    async def list(
        self, limit: int, offset: int, viewer: ColumnElement[bool] | None = None
    ) -> list[ModelListing]:
        """One query; the metadata column (up to ~1 MiB a model) stays in the database.
        `viewer`: which rows (`servable_by`), all when None."""
        vocab = _VOCAB_LENGTH.cast(Integer)
        result = await self.session.execute(
            select(Model, _TOKENIZER, vocab)
            .where(viewer if viewer is not None else true())
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
