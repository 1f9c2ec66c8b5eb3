"""The download service's settings: `CommonSettings` (our database and object store) plus the
quantization cluster's object store (the source) and the copy engine's knobs."""

from __future__ import annotations

import secrets
from typing import Self

from pydantic import Field, SecretStr, model_validator

from inference_common.s3_multipart import MAX_PART_BYTES, MIN_PART_BYTES, S3Location
from inference_common.settings import QUANT_BUCKET, CommonSettings, SettingsError

MIN_JWT_SECRET_LENGTH = 32


class DownloadSettings(CommonSettings):
    host: str = "127.0.0.1"
    port: int = Field(8202, ge=1, le=65535)
    jwt_secret: SecretStr = SecretStr("")

    quant_s3_endpoint: str = Field("127.0.0.1:9002", description="host:port of the source.")
    quant_s3_access_key: str = ""
    quant_s3_secret_key: SecretStr = SecretStr("")
    quant_s3_secure: bool = False
    quant_bucket: str = QUANT_BUCKET
    quant_cluster_name: str = Field("quant", max_length=16, description="`source` of rows.")

    part_bytes: int = Field(
        8 * 1024**2, ge=MIN_PART_BYTES, le=MAX_PART_BYTES, description="Smallest part size."
    )
    parallel_parts: int = Field(
        4, ge=1, le=8, description="Parts of one file sent at once (memory: +1 part each)."
    )
    max_concurrent_jobs: int = Field(2, ge=1, le=16)
    max_attempts: int = Field(5, ge=1, description="Tries of a job on transient errors.")
    retry_base_seconds: float = Field(1.0, gt=0)
    retry_max_seconds: float = Field(30.0, gt=0)
    stall_seconds: float = Field(120.0, gt=0, description="No progress for this long: Failed.")
    sse_keepalive_seconds: float = Field(15.0, gt=0)
    run_migrations: bool = Field(True, description="Upgrade the schema to head at start-up.")

    def source(self) -> S3Location:
        return S3Location(
            self.quant_s3_endpoint,
            self.quant_s3_access_key,
            self.quant_s3_secret_key.get_secret_value(),
            self.quant_s3_secure,
        )

    def target(self) -> S3Location:
        return S3Location.of(self)

    def secrets_to_check(self) -> dict[str, SecretStr]:
        checked = dict(super().secrets_to_check())
        checked["JWT_SECRET"] = self.jwt_secret
        checked["QUANT_S3_SECRET_KEY"] = self.quant_s3_secret_key
        return checked

    @model_validator(mode="after")
    def _check_download_secrets(self) -> Self:
        if self.dev_mode:
            if not self.jwt_secret.get_secret_value():
                self.jwt_secret = SecretStr(secrets.token_urlsafe(48))
            return self
        if len(self.jwt_secret.get_secret_value()) < MIN_JWT_SECRET_LENGTH:
            raise SettingsError(
                f"JWT_SECRET must be at least {MIN_JWT_SECRET_LENGTH} characters "
                "(the API's secret; or set DEV_MODE=true for local development)"
            )
        return self
