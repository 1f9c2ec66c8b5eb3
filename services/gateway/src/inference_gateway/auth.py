"""Who is calling: an API key of the API service (prefix lookup + SHA-256, revocable,
optionally limited to models), one of its JWTs, or — only when enabled — anonymous."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inference_common.auth import TokenSigner, api_key_matches, api_key_prefix
from inference_common.errors import UnauthorizedError
from inference_common.tables import ApiKey, User
from inference_gateway.errors import GatewayError, Kind


@dataclass(frozen=True)
class Principal:
    subject: str
    kind: str  # "api_key" | "jwt" | "anonymous"
    allowed_models: frozenset[str] | None = None

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


class Authenticator:
    def __init__(
        self,
        signer: TokenSigner | None,
        sessions: async_sessionmaker[AsyncSession] | None,
        allow_anonymous: bool,
        cache_seconds: float = 10.0,
    ) -> None:
        self.signer = signer
        self.sessions = sessions
        self.allow_anonymous = allow_anonymous
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[Principal, float]] = {}

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
            return cached[0]
        prefix = api_key_prefix(credential)
        if prefix is not None:
            principal = await self._api_key(credential, prefix)
        else:
            principal = self._jwt(credential)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (principal, now + self.cache_seconds)
        return principal

    def _jwt(self, token: str) -> Principal:
        if self.signer is None:
            raise GatewayError(Kind.UNAUTHENTICATED, "invalid API key or token")
        try:
            claims = self.signer.verify(token)
        except UnauthorizedError as exc:
            raise GatewayError(Kind.UNAUTHENTICATED, "invalid API key or token") from exc
        return Principal(subject=f"user:{claims.user_id}", kind="jwt")

    async def _api_key(self, key: str, prefix: str) -> Principal:
        if self.sessions is None:
            raise GatewayError(Kind.UNAUTHENTICATED, "invalid API key or token")
        try:
            async with self.sessions() as session:
                rows = (
                    await session.execute(
                        select(ApiKey.key_hash, ApiKey.allowed_models, ApiKey.user_id)
                        .join(User, User.id == ApiKey.user_id)
                        .where(
                            ApiKey.prefix == prefix,
                            ApiKey.revoked_at.is_(None),
                            User.is_active.is_(True),
                        )
                    )
                ).all()
        except (SQLAlchemyError, OSError) as exc:
            raise GatewayError(
                Kind.UNAVAILABLE, "credentials cannot be checked right now", retry_after=5
            ) from exc
        for key_hash, allowed, user_id in rows:
            if api_key_matches(key, key_hash):
                return Principal(
                    subject=f"user:{user_id}",
                    kind="api_key",
                    allowed_models=frozenset(allowed) if allowed is not None else None,
                )
        raise GatewayError(Kind.UNAUTHENTICATED, "invalid API key or token")
