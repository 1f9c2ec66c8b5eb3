"""Users."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from inference_common.tables import User


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def by_username(self, username: str) -> User | None:
        if "\x00" in username:  # Postgres text cannot hold NUL: no such user, and no 500
            return None
        result = await self.session.execute(
            select(User).where(func.lower(User.username) == username.lower())
        )
        return result.scalar_one_or_none()

    async def list(self, limit: int, offset: int) -> Sequence[User]:
        result = await self.session.execute(
            select(User).order_by(User.created_at, User.username).limit(limit).offset(offset)
        )
        return result.scalars().all()

    async def add(self, username: str, password_hash: str, role: str) -> User:
        user = User(username=username, password_hash=password_hash, role=role, is_active=True)
        self.session.add(user)
        await self.session.flush()
        return user
