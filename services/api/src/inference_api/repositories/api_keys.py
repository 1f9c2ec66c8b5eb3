"""API keys: stored as prefix + SHA-256; the key itself is never stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from inference_common.tables import ApiKey


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        user_id: UUID,
        name: str,
        prefix: str,
        key_hash: str,
        allowed_models: list[str] | None,
        expires_at: datetime | None = None,
        rate_limits: Mapping[str, int | None] | None = None,
    ) -> ApiKey:
        row = ApiKey(
            user_id=user_id,
            name=name,
            prefix=prefix,
            key_hash=key_hash,
            allowed_models=allowed_models,
            expires_at=expires_at,
            **(rate_limits or {}),
        )
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def list_for(self, user_id: UUID) -> Sequence[ApiKey]:
        result = await self.session.execute(
            select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at)
        )
        return result.scalars().all()

    async def get(self, key_id: UUID) -> ApiKey | None:
        return await self.session.get(ApiKey, key_id)

    async def active_by_prefix(self, prefix: str) -> Sequence[ApiKey]:
        result = await self.session.execute(
            select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
        )
        return result.scalars().all()

    async def revoke(self, row: ApiKey, when: datetime) -> None:
        if row.revoked_at is None:
            row.revoked_at = when
            await self.session.flush()
