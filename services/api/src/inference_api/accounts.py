"""Users and login: Argon2 checks (in a worker thread), JWTs, the first admin."""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException

from inference_api.ratelimit import LoginRateLimiter
from inference_api.repositories.users import UserRepository
from inference_common.auth import (
    TokenSigner,
    hash_password,
    password_needs_rehash,
    verify_password,
)
from inference_common.errors import ConflictError, UnauthorizedError
from inference_common.tables import User

logger = logging.getLogger(__name__)

ADMIN = "admin"
USER = "user"


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so both cases take the same time.
    Made on first use: an Argon2 hash at import costs start-up time and a 19 MiB peak."""
    return hash_password("not-a-real-password-only-for-constant-timing")


@dataclass(frozen=True)
class Authenticator:
    signer: TokenSigner
    limiter: LoginRateLimiter

    async def login(self, session: AsyncSession, username: str, password: str, address: str) -> str:
        wait = self.limiter.check(username, address)
        if wait:
            raise HTTPException(
                429,
                f"too many login attempts; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        users = UserRepository(session)
        user = await users.by_username(username)
        if user is None:
            stored = await asyncio.to_thread(_dummy_hash)
        else:
            stored = user.password_hash
        valid = await asyncio.to_thread(verify_password, stored, password)
        if user is None or not valid or not user.is_active:
            self.limiter.failed(username, address)
            raise UnauthorizedError("incorrect username or password")
        self.limiter.succeeded(username, address)
        if password_needs_rehash(user.password_hash):
            user.password_hash = await asyncio.to_thread(hash_password, password)
        return self.signer.issue(str(user.id), user.username, user.role)


async def create_user(session: AsyncSession, username: str, password: str, role: str) -> User:
    users = UserRepository(session)
    if await users.by_username(username) is not None:
        raise ConflictError(f"user {username!r} already exists")
    password_hash = await asyncio.to_thread(hash_password, password)
    return await users.add(username, password_hash, role)


async def ensure_admin(session: AsyncSession, username: str, password: str) -> None:
    """The configured first admin exists, is active, is an admin and has this password."""
    users = UserRepository(session)
    user = await users.by_username(username)
    if user is None:
        await users.add(username, await asyncio.to_thread(hash_password, password), ADMIN)
        logger.info("created the first admin", extra={"username": username})
        return
    if not await asyncio.to_thread(verify_password, user.password_hash, password):
        user.password_hash = await asyncio.to_thread(hash_password, password)
        logger.info("admin password updated from configuration", extra={"username": username})
    user.role = ADMIN
    user.is_active = True
