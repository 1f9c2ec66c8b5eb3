"""The shared service seams: settings or a clean exit 2, the listener defaults, the JWT
secret's rules, the schema upgrade's entry without a database URL."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from pydantic import SecretStr, ValidationError

from inference_common import schema_upgrade, service
from inference_common.settings import JwtSettings

STRONG = "j" * 40


def test_load_settings_exits_2_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DEV_MODE", raising=False)
    monkeypatch.setenv("JWT_SECRET", "short")
    monkeypatch.setenv("S3_SECRET_KEY", "not-a-default-value")
    with pytest.raises(SystemExit) as exited:
        service.load_settings("inference-test", JwtSettings)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("inference-test: configuration error: ")
    assert "JWT_SECRET must be at least 32" in err


def test_load_settings_returns_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", STRONG)
    monkeypatch.setenv("S3_SECRET_KEY", "not-a-default-value")
    loaded = service.load_settings("inference-test", JwtSettings)
    assert loaded.jwt_secret.get_secret_value() == STRONG


@pytest.mark.parametrize(
    ("options", "proxy_headers", "lifespan"),
    [
        ({}, False, "auto"),
        ({"proxy_headers": True}, True, "auto"),
        ({"lifespan": "off"}, False, "off"),
    ],
)
def test_listener_defaults_and_overrides(
    options: dict[str, object], proxy_headers: bool, lifespan: str
) -> None:
    config = service.listener(FastAPI(), "127.0.0.1", 8999, **options)
    assert (config.host, config.port) == ("127.0.0.1", 8999)
    assert config.log_config is None
    assert config.access_log is False
    assert config.timeout_graceful_shutdown == 10
    assert config.proxy_headers is proxy_headers
    assert config.lifespan == lifespan


@pytest.mark.parametrize(
    ("dev_mode", "secret", "error"),
    [
        (False, STRONG, None),
        (False, "", "JWT_SECRET"),
        (False, "x" * 31, "JWT_SECRET must be at least 32"),
        (True, "", None),
        (True, "short", None),
    ],
)
def test_jwt_secret_rules(dev_mode: bool, secret: str, error: str | None) -> None:
    def build() -> JwtSettings:
        return JwtSettings(
            dev_mode=dev_mode,
            jwt_secret=SecretStr(secret),
            s3_secret_key=SecretStr("not-a-default-value"),
        )

    if error is not None:
        with pytest.raises(ValidationError, match=error):
            build()
        return
    value = build().jwt_secret.get_secret_value()
    if secret:
        assert value == secret
    else:  # dev mode: generated for the process
        assert len(value) >= 32


def test_schema_upgrade_without_database_url_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(SystemExit) as exited:
        schema_upgrade.main("inference-test-migrate")
    assert exited.value.code == 2
    assert capsys.readouterr().err == "inference-test-migrate: DATABASE_URL is not set\n"
