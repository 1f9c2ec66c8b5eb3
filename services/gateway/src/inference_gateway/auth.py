"""Who is calling: an API key of the API service (prefix lookup + SHA-256, revocable,
expiring, optionally limited to models), one of its JWTs, or — only when enabled —
anonymous. Keys and tokens of disabled users are refused, and tokens issued before the
user's last password change; a checked credential is trusted for `cache_seconds` at most
(never past its own expiry). The same lookup reads the user's allowed namespaces (their
contract's `allowed_namespaces`, else the global default) for servers shared with a
namespace, so they are cached with the credential and never queried per request."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inference_common.auth import TokenSigner, api_key_matches, api_key_prefix
from inference_common.errors import UnauthorizedError
from inference_common.outages import DATABASE, outage_of
from inference_common.tables import ApiKey, User, UserContract
from inference_common.web import outage_log
from inference_gateway.errors import GatewayError, Kind, dependency_outage
from inference_gateway.ratelimit import NO_LIMITS, RateLimits

MAX_CACHED = 10_000


@dataclass(frozen=True)
class Principal:
    subject: str
    kind: str  # "api_key" | "jwt" | "anonymous"
    allowed_models: frozenset[str] | None = None
    key_id: UUID | None = None
    user_id: str | None = None
    role: str = "user"
    namespaces: frozenset[str] = frozenset()
    user_limits: RateLimits = NO_LIMITS  # the user's contract
    key_limits: RateLimits = NO_LIMITS  # the key's overrides

    def may_use(self, names: Iterable[str]) -> bool:
        if self.allowed_models is None:
            return True
        return any(name in self.allowed_models for name in names)


ANONYMOUS = Principal(subject="anonymous", kind="anonymous")


def credential_from_headers(headers: Mapping[str, str]) -> str | None:
    """`Authorization: Bearer <token>` or (Anthropic clients) `x-api-key: <token>`."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        raise GatewayError(Kind.UNAUTHENTICATED, "Authorization must be 'Bearer <token>'")
    key = headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


def allowed_namespaces(contract: Iterable[str] | None, default: Iterable[str]) -> frozenset[str]:
    """The contract service's effective allow-list: the user's contract where it sets one,
    else the global default (`ALLOWED_NAMESPACES`)."""
    return frozenset(default if contract is None else contract)


USER_LIMITS = (
    UserContract.requests_per_minute,
    UserContract.tokens_per_minute,
    UserContract.concurrent_requests,
)
KEY_LIMITS = (ApiKey.requests_per_minute, ApiKey.tokens_per_minute, ApiKey.concurrent_requests)


def _limits(values: Sequence[Any]) -> RateLimits:
    """A row's three limit columns (requests, tokens per minute, concurrent requests)."""
    if all(value is None for value in values):
        return NO_LIMITS
    rpm, tpm, concurrent = values
    return RateLimits(rpm, tpm, concurrent)


def trusted_for(cache_seconds: float, expires_at: datetime | None, now: datetime) -> float:
    """Seconds a checked credential may be reused: the cache time, cut at its expiry."""
    if expires_at is None:
        return cache_seconds
    return max(0.0, min(cache_seconds, (expires_at - now).total_seconds()))


class UsageThrottle:
    """Which uses of a key are worth recording: the first, then one per `interval` seconds
    (per process); memory bounded by `max_keys`."""

    def __init__(self, interval: float, max_keys: int = MAX_CACHED) -> None:
        self.interval = interval
        self.max_keys = max_keys
        self._recorded: dict[UUID, float] = {}

    def due(self, key_id: UUID, now: float) -> bool:
        last = self._recorded.get(key_id)
        if last is not None and now - last < self.interval:
            return False
        if last is None and len(self._recorded) >= self.max_keys:
            self._recorded.clear()
        self._recorded[key_id] = now
        return True


class Authenticator:
    def __init__(
        self,
        signer: TokenSigner | None,
        sessions: async_sessionmaker[AsyncSession] | None,
        allow_anonymous: bool,
        cache_seconds: float = 10.0,
        usage_interval: float = 60.0,
        default_namespaces: Iterable[str] = (),
    ) -> None:
        self.signer = signer
        self.default_namespaces = tuple(default_namespaces)
        self.sessions = sessions
        self.allow_anonymous = allow_anonymous
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._usage = UsageThrottle(usage_interval)
        self._unrecorded: set[UUID] = set()
        self._recorder: asyncio.Task[None] | None = None

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        credential = credential_from_headers(headers)
        if credential is None:
            if self.allow_anonymous:
                return ANONYMOUS
            raise GatewayError(
                Kind.UNAUTHENTICATED,
                "missing credentials: send 'Authorization: Bearer <API key or token>'",
            )
        digest = hashlib.sha256(credential.encode()).hexdigest()
        cached = self._cache.get(digest)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            principal = cached[0]
        else:
            prefix = api_key_prefix(credential)
            if prefix is not None:
                principal, expires_at = await self._api_key(credential, prefix)
            else:
                principal, expires_at = await self._jwt(credential)
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            trusted = trusted_for(self.cache_seconds, expires_at, datetime.now(UTC))
            self._cache[digest] = (principal, now + trusted)
        if principal.key_id is not None and self._usage.due(principal.key_id, now):
            self._record_use(principal.key_id)
        return principal

    def _refused(self) -> GatewayError:
        return GatewayError(Kind.UNAUTHENTICATED, "invalid API key or token")

    def _unavailable(self, exc: BaseException) -> GatewayError:
        dependency = outage_of(exc) or DATABASE
        outage_log.report(dependency, exc)
        return dependency_outage(dependency)

    async def _jwt(self, token: str) -> tuple[Principal, datetime]:
        if self.signer is None or self.sessions is None:
            raise self._refused()
        try:
            claims = self.signer.verify(token)
            user_id = UUID(claims.user_id)
        except (UnauthorizedError, ValueError) as exc:
            raise self._refused() from exc
        try:
            async with self.sessions() as session:
                row = (
                    await session.execute(
                        select(
                            User.is_active,
                            User.password_changed_at,
                            User.role,
                            UserContract.allowed_namespaces,
                            *USER_LIMITS,
                        )
                        .outerjoin(UserContract, UserContract.username == User.username)
                        .where(User.id == user_id)
                    )
                ).one_or_none()
        except (SQLAlchemyError, OSError) as exc:
            raise self._unavailable(exc) from exc
        if row is None or not row.is_active or claims.issued_before(row.password_changed_at):
            raise self._refused()
        principal = Principal(
            subject=f"user:{claims.user_id}",
            kind="jwt",
            user_id=str(user_id),
            role=str(row.role),
            namespaces=allowed_namespaces(row.allowed_namespaces, self.default_namespaces),
            user_limits=_limits(row[4:7]),
        )
        return principal, claims.expires_at

    async def _api_key(self, key: str, prefix: str) -> tuple[Principal, datetime | None]:
        if self.sessions is None:
            raise self._refused()
        try:
            async with self.sessions() as session:
                rows = (
                    await session.execute(
                        select(
                            ApiKey.id,
                            ApiKey.key_hash,
                            ApiKey.allowed_models,
                            ApiKey.user_id,
                            ApiKey.expires_at,
                            User.role,
                            UserContract.allowed_namespaces,
                            *KEY_LIMITS,
                            *USER_LIMITS,
                        )
                        .join(User, User.id == ApiKey.user_id)
                        .outerjoin(UserContract, UserContract.username == User.username)
                        .where(
                            ApiKey.prefix == prefix,
                            ApiKey.revoked_at.is_(None),
                            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > func.now()),
                            User.is_active.is_(True),
                        )
                    )
                ).all()
        except (SQLAlchemyError, OSError) as exc:
            raise self._unavailable(exc) from exc
        for row in rows:
            key_id, key_hash, allowed, user_id, expires_at, role, namespaces = row[:7]
            if api_key_matches(key, key_hash):
                principal = Principal(
                    subject=f"user:{user_id}",
                    kind="api_key",
                    allowed_models=frozenset(allowed) if allowed is not None else None,
                    key_id=key_id,
                    user_id=str(user_id),
                    role=str(role),
                    namespaces=allowed_namespaces(namespaces, self.default_namespaces),
                    key_limits=_limits(row[7:10]),
                    user_limits=_limits(row[10:13]),
                )
                return principal, expires_at
        raise self._refused()

    def _record_use(self, key_id: UUID) -> None:
        """Queues the key's `last_used_at`; one task at a time writes the queue in one
        UPDATE, off the request path."""
        if self.sessions is None:
            return
        self._unrecorded.add(key_id)
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._write_uses())

    async def _write_uses(self) -> None:
        while self._unrecorded and self.sessions is not None:
            ids = list(self._unrecorded)
            self._unrecorded.clear()
            try:
                async with self.sessions.begin() as session:
                    await session.execute(
                        update(ApiKey).where(ApiKey.id.in_(ids)).values(last_used_at=func.now())
                    )
            except (SQLAlchemyError, OSError) as exc:
                # once per outage, not per batch: the credential checks report the same outage
                outage_log.report(DATABASE, exc)
                return
