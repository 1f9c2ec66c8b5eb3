"""Users and login: Argon2 checks (in a worker thread), JWTs, throttling, disabling users,
password changes, the first admin."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException

from inference_api.client_address import Network, client_address
from inference_api.ratelimit import LoginRateLimiter
from inference_api.repositories.users import UserRepository
from inference_common.auth import (
    TokenSigner,
    hash_password,
    password_needs_rehash,
    verify_password,
)
from inference_common.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
)
from inference_common.tables import User

logger = logging.getLogger(__name__)

ADMIN = "admin"
USER = "user"


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so both cases take the same time.
    Made on first use: an Argon2 hash at import costs start-up time and a 19 MiB peak."""
    return hash_password("not-a-real-password-only-for-constant-timing")


def _throttled(wait: int) -> HTTPException:
    return HTTPException(
        429, f"too many login attempts; retry in {wait} s", headers={"Retry-After": str(wait)}
    )


@dataclass(frozen=True)
class Authenticator:
    signer: TokenSigner
    limiter: LoginRateLimiter
    trusted_proxies: Sequence[Network] = ()

    def client_address(self, peer: str | None, forwarded_for: Sequence[str]) -> str:
        return client_address(peer, forwarded_for, self.trusted_proxies)

    async def _check_password(self, user: User | None, password: str) -> bool:
        stored = user.password_hash if user is not None else await asyncio.to_thread(_dummy_hash)
        return await asyncio.to_thread(verify_password, stored, password)

    async def login(self, session: AsyncSession, username: str, password: str, address: str) -> str:
        wait = self.limiter.check(username, address)
        if wait:
            raise _throttled(wait)
        user = await UserRepository(session).by_username(username)
        valid = await self._check_password(user, password)
        if user is None or not valid or not user.is_active:
            self.limiter.failed(username, address)
            raise UnauthorizedError("incorrect username or password")
        self.limiter.succeeded(username, address)
        if password_needs_rehash(user.password_hash):
            user.password_hash = await asyncio.to_thread(hash_password, password)
        return self.signer.issue(str(user.id), user.username, user.role)

    async def change_password(
        self, user: User, current: str, new: str, address: str, now: datetime | None = None
    ) -> None:
        """The caller's own change: the current password is checked (and throttled like a
        login, so a stolen token cannot guess it); tokens issued before are refused after."""
        wait = self.limiter.check(user.username, address)
        if wait:
            raise _throttled(wait)
        if not await self._check_password(user, current):
            self.limiter.failed(user.username, address)
            raise ForbiddenError("the current password is incorrect")
        self.limiter.succeeded(user.username, address)
        await set_password(user, new, now)


async def set_password(user: User, password: str, now: datetime | None = None) -> None:
    """New hash; every token issued before now stops working (see TokenClaims.issued_before)."""
    user.password_hash = await asyncio.to_thread(hash_password, password)
    user.password_changed_at = now or datetime.now(UTC)


async def find_user(session: AsyncSession, username: str) -> User:
    user = await UserRepository(session).by_username(username)
    if user is None:
        raise NotFoundError(f"user {username!r} does not exist")
    return user


def set_disabled(actor: User, user: User, disabled: bool, now: datetime | None = None) -> None:
    """Disabled users cannot log in; their tokens and API keys are refused (by the gateway
    within its auth cache time)."""
    if disabled and user.id == actor.id:
        raise ConflictError("you cannot disable your own account")
    if disabled and user.is_active:
        user.is_active = False
        user.disabled_at = now or datetime.now(UTC)
    elif not disabled:
        user.is_active = True
        user.disabled_at = None


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
        await set_password(user, password)
        logger.info("admin password updated from configuration", extra={"username": username})
    user.role = ADMIN
    user.is_active = True
    user.disabled_at = None
