"""API keys for inference clients: created (shown once, optionally expiring), listed,
revoked. The gateway checks them and records their last use."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from inference_api.repositories.api_keys import ApiKeyRepository
from inference_api.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from inference_common.auth import generate_api_key
from inference_common.errors import NotFoundError
from inference_common.tables import ApiKey, User


def expiry(request: ApiKeyCreate, now: datetime) -> datetime | None:
    if request.expires_in_days is None:
        return None
    return now + timedelta(days=request.expires_in_days)


async def create_key(
    session: AsyncSession, owner: User, request: ApiKeyCreate, now: datetime | None = None
) -> ApiKeyCreated:
    new = generate_api_key()
    allowed = sorted(set(request.allowed_models)) if request.allowed_models is not None else None
    expires_at = expiry(request, now or datetime.now(UTC))
    row = await ApiKeyRepository(session).add(
        owner.id,
        request.name,
        new.prefix,
        new.key_hash,
        allowed,
        expires_at,
        request.rate_limits(),
    )
    return ApiKeyCreated(**ApiKeyOut.model_validate(row).model_dump(), key=new.key)


async def list_keys(session: AsyncSession, owner: User) -> Sequence[ApiKey]:
    return await ApiKeyRepository(session).list_for(owner.id)


async def revoke_key(session: AsyncSession, owner: User, key_id: UUID) -> ApiKey:
    keys = ApiKeyRepository(session)
    row = await keys.get(key_id)
    if row is None or (row.user_id != owner.id and owner.role != "admin"):
        raise NotFoundError(f"API key {key_id} does not exist")
    await keys.revoke(row, datetime.now(UTC))
    return row
