"""TokenSigner.verify: which tokens pass (pure; no services)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jose import jwt

from inference_common.auth import TokenClaims, TokenSigner, hash_password, verify_password
from inference_common.errors import UnauthorizedError

SECRET = "a-test-secret-that-is-long-enough-0123456789"
SIGNER = TokenSigner(SECRET, issuer="issuer-a", audience="audience-a")
NOW = datetime.now(UTC).replace(microsecond=0)


def _claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": "00000000-0000-0000-0000-000000000001",
        "name": "alice",
        "role": "user",
        "iss": "issuer-a",
        "aud": "audience-a",
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(minutes=5)).timestamp()),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(algorithm: str = "HS256", secret: str = SECRET, **changes: Any) -> str:
    return str(jwt.encode(_claims(**changes), secret, algorithm=algorithm))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned() -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(_claims()).encode())}."


@pytest.mark.parametrize(
    ("case", "token"),
    [
        ("no aud", _signed(aud=None)),
        ("no iss", _signed(iss=None)),
        ("wrong aud", _signed(aud="audience-b")),
        ("wrong iss", _signed(iss="issuer-b")),
        ("aud list without ours", _signed(aud=["audience-b", "audience-c"])),
        ("no sub", _signed(sub=None)),
        ("no iat", _signed(iat=None)),
        ("no exp", _signed(exp=None)),
        ("expired", _signed(exp=int((NOW - timedelta(minutes=1)).timestamp()))),
        ("iat not a number", _signed(iat="yesterday")),
        ("exp not a number", _signed(exp="tomorrow")),
        ("wrong key", _signed(secret="another-secret-that-is-long-enough-000")),
        ("HS512", _signed(algorithm="HS512")),
        ("alg none", _unsigned()),
        ("garbage", "not.a.token"),
        ("empty", ""),
    ],
)
def test_refused_tokens(case: str, token: str) -> None:
    with pytest.raises(UnauthorizedError):
        SIGNER.verify(token)


@pytest.mark.parametrize(
    ("case", "token"),
    [
        (
            "issued by the signer",
            SIGNER.issue("00000000-0000-0000-0000-000000000001", "alice", "user", now=NOW),
        ),
        ("hand-made with every claim", _signed()),
        ("aud list with ours", _signed(aud=["audience-b", "audience-a"])),
    ],
)
def test_accepted_tokens(case: str, token: str) -> None:
    claims = SIGNER.verify(token)
    assert claims.user_id == "00000000-0000-0000-0000-000000000001"
    assert claims.username == "alice"
    assert claims.issued_at == NOW


def test_issue_time_keeps_milliseconds() -> None:
    moment = NOW + timedelta(microseconds=123_987)
    claims = SIGNER.verify(SIGNER.issue("u", "alice", "user", now=moment))
    assert claims.issued_at == NOW + timedelta(milliseconds=123)
    assert not claims.issued_before(moment)
    assert claims.issued_before(moment + timedelta(milliseconds=1))


def test_issued_tokens_carry_issuer_and_audience() -> None:
    token = SIGNER.issue("u", "alice", "user", now=NOW)
    claims = jwt.get_unverified_claims(token)
    assert (claims["iss"], claims["aud"]) == ("issuer-a", "audience-a")
    with pytest.raises(UnauthorizedError):
        TokenSigner(SECRET).verify(token)  # the default issuer and audience differ


@pytest.mark.parametrize(
    ("issued", "moment", "before"),
    [
        (NOW, None, False),
        (NOW, NOW, False),
        (NOW, NOW + timedelta(microseconds=999), False),  # iat has milliseconds
        (NOW, NOW + timedelta(milliseconds=1), True),
        (NOW, NOW + timedelta(seconds=1), True),
        (NOW, NOW - timedelta(seconds=1), False),
    ],
)
def test_issued_before(issued: datetime, moment: datetime | None, before: bool) -> None:
    claims = TokenClaims("u", "alice", "user", issued, issued + timedelta(minutes=5))
    assert claims.issued_before(moment) is before


@pytest.mark.parametrize("password", ["correct horse battery", "ünïcödé-pässwörd", "lone-\ud800"])
def test_password_hashes(password: str) -> None:
    stored = hash_password(password)
    assert verify_password(stored, password)
    assert not verify_password(stored, password + "x")
    assert not verify_password("not-a-hash", password)
