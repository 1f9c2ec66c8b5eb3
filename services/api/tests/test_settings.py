from __future__ import annotations

import pytest
from pydantic import ValidationError

from inference_api.settings import ApiSettings

STRONG = {
    "S3_SECRET_KEY": "s3-secret-that-is-not-default",
    "JWT_SECRET": "j" * 40,
    "ADMIN_PASSWORD": "a-long-admin-password",
    "SERVER_UUID_KEY": "k" * 40,
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*STRONG, "DEV_MODE", "ADMIN_USERNAME", "SERVERS_NAMESPACE", "CONTRACT_URL"):
        monkeypatch.delenv(name, raising=False)


def settings(**env: str) -> ApiSettings:
    return ApiSettings(**{k.lower(): v for k, v in env.items()})  # type: ignore[arg-type]


def test_production_settings_with_strong_secrets() -> None:
    s = settings(**STRONG)
    assert s.port == 8200
    assert s.host == "127.0.0.1"
    assert s.servers_namespace == "inference"
    assert s.contract_url == "http://127.0.0.1:8201"
    # The default upload limit fits in S3's 10,000 parts of the default part size.
    assert s.max_upload_bytes <= s.upload_part_bytes * 10_000


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"JWT_SECRET": ""}, "JWT_SECRET"),
        ({"JWT_SECRET": "secret"}, "JWT_SECRET"),
        ({"JWT_SECRET": "short-but-not-default"}, "JWT_SECRET must be at least 32"),
        ({"ADMIN_PASSWORD": ""}, "ADMIN_PASSWORD must be set"),
        ({"ADMIN_PASSWORD": "admin"}, "ADMIN_PASSWORD must be a non-default"),
        ({"ADMIN_PASSWORD": "short"}, "ADMIN_PASSWORD must be a non-default"),
        ({"S3_SECRET_KEY": "minioadmin"}, "S3_SECRET_KEY"),
        ({"SERVER_UUID_KEY": ""}, "SERVER_UUID_KEY"),
        ({"UPLOAD_PART_BYTES": str(5 * 1024**2)}, "MAX_UPLOAD_BYTES needs more than 10000"),
        ({"UPLOAD_PART_BYTES": str(4 * 1024**2)}, "upload_part_bytes"),
        ({"UPLOAD_PARALLEL_PARTS": "0"}, "upload_parallel_parts"),
    ],
)
def test_unsafe_settings_stop_start_up(override: dict[str, str], message: str) -> None:
    env = {**STRONG, **override}
    with pytest.raises(ValidationError, match=message):
        settings(**{k: v for k, v in env.items() if v != ""})


def test_missing_admin_password_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", "j" * 40)
    monkeypatch.setenv("S3_SECRET_KEY", "s3-secret-that-is-not-default")
    monkeypatch.setenv("SERVER_UUID_KEY", "k" * 40)
    with pytest.raises(ValidationError, match="ADMIN_PASSWORD must be set"):
        ApiSettings()


def test_dev_mode_allows_missing_secrets_and_generates_a_jwt_secret() -> None:
    s = settings(DEV_MODE="true")
    assert len(s.jwt_secret.get_secret_value()) >= 32
    assert s.admin_password is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("", []),
        ("10.0.0.0/8", ["10.0.0.0/8"]),
        (" 127.0.0.1 , fd00::/8 ,", ["127.0.0.1", "fd00::/8"]),
    ],
)
def test_trusted_proxies_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: list[str]
) -> None:
    if value is None:
        monkeypatch.delenv("TRUSTED_PROXIES", raising=False)
    else:
        monkeypatch.setenv("TRUSTED_PROXIES", value)
    assert settings(**STRONG).trusted_proxies == expected


@pytest.mark.parametrize("value", ["10.0.0.0/33", "proxy.example", "10.0.0.1, nope"])
def test_bad_trusted_proxies_stop_start_up(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", value)
    with pytest.raises(ValidationError, match="does not appear to be an IPv4 or IPv6 network"):
        settings(**STRONG)
