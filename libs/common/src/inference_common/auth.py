"""Credentials shared by the API (which issues them) and the gateway (which checks them):
JWT access tokens, Argon2 password hashes and API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from jose import JWTError, jwt

from inference_common.errors import UnauthorizedError

JWT_ALGORITHM = "HS256"
API_KEY_PREFIX = "isk"

# OWASP's Argon2id baseline (19 MiB, 2 passes): argon2-cffi's default takes 64 MiB per hash,
# which several concurrent logins multiply in a small service.
_password_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_ISSUER = "inference-service"
DEFAULT_AUDIENCE = "inference-service"

# Every check python-jose can make, made, and every claim they need, required: without
# `require_aud` a token with no `aud` at all passes the audience check.
_VERIFY_OPTIONS = {
    "verify_signature": True,
    "verify_aud": True,
    "verify_iss": True,
    "verify_exp": True,
    "verify_iat": True,
    "verify_sub": True,
    "require_aud": True,
    "require_iss": True,
    "require_exp": True,
    "require_iat": True,
    "require_sub": True,
}


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    username: str
    role: str
    issued_at: datetime
    expires_at: datetime

    def issued_before(self, moment: datetime | None) -> bool:
        """Whether the token predates `moment` (e.g. a password change), to the millisecond
        `iat` carries."""
        if moment is None:
            return False
        return self.issued_at < moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _to_numeric_date(moment: datetime) -> float:
    """Seconds with milliseconds (RFC 7519 allows fractions): a token issued just before a
    password change must be told from one issued just after it."""
    return ((moment - _EPOCH) // timedelta(milliseconds=1)) / 1000


def _from_numeric_date(value: Any) -> datetime:
    return _EPOCH + timedelta(milliseconds=round(float(value) * 1000))


@dataclass(frozen=True)
class TokenSigner:
    """Issues and verifies HS256 JWTs. The algorithm is pinned: `alg: none` or any other
    algorithm, a bad signature, a missing or wrong issuer or audience, a missing subject,
    issue time or expiry, or expiry all raise 401."""

    secret: str
    issuer: str = DEFAULT_ISSUER
    audience: str = DEFAULT_AUDIENCE
    ttl: timedelta = timedelta(minutes=30)

    def issue(self, user_id: str, username: str, role: str, now: datetime | None = None) -> str:
        issued = now or datetime.now(UTC)
        claims: dict[str, Any] = {
            "sub": user_id,
            "name": username,
            "role": role,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": _to_numeric_date(issued),
            "exp": int((issued + self.ttl).timestamp()),
            "jti": secrets.token_hex(8),
        }
        return str(jwt.encode(claims, self.secret, algorithm=JWT_ALGORITHM))

    def verify(self, token: str) -> TokenClaims:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != JWT_ALGORITHM:
                raise UnauthorizedError("token algorithm not accepted")
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[JWT_ALGORITHM],
                issuer=self.issuer,
                audience=self.audience,
                options=_VERIFY_OPTIONS,
            )
            return TokenClaims(
                user_id=str(claims["sub"]),
                username=str(claims.get("name", "")),
                role=str(claims.get("role", "user")),
                issued_at=_from_numeric_date(claims["iat"]),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            )
        except (JWTError, TypeError, ValueError, OverflowError, OSError) as exc:
            raise UnauthorizedError("invalid or expired token") from exc


def _password_bytes(password: str) -> bytes:
    """UTF-8; a lone surrogate (valid in a JSON string) passes through instead of raising."""
    return password.encode("utf-8", "surrogatepass")


def hash_password(password: str) -> str:
    return _password_hasher.hash(_password_bytes(password))


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _password_hasher.verify(password_hash, _password_bytes(password))
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _password_hasher.check_needs_rehash(password_hash)


@dataclass(frozen=True)
class NewApiKey:
    key: str  # shown to the user once, never stored
    prefix: str
    key_hash: str


def generate_api_key() -> NewApiKey:
    """`isk_<8-char prefix>_<secret>`; the prefix finds the row, the SHA-256 proves the key.
    (API keys carry 256 bits of randomness, so a fast hash is the right one here.)"""
    prefix = secrets.token_hex(4)
    key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(key=key, prefix=prefix, key_hash=hash_api_key(key))


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_prefix(key: str) -> str | None:
    """The lookup prefix of a well-formed key, None for anything else (e.g. a JWT)."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 8:
        return None
    return parts[1]


def api_key_matches(key: str, key_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(key), key_hash)
