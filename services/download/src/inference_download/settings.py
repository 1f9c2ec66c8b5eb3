"""The download service's settings: `JwtSettings` (our database and object store, the API's
JWT secret) plus the quantization cluster's object store (the source) and the copy engine's
knobs."""

from __future__ import annotations

from pydantic import Field, SecretStr

from inference_common.s3_multipart import MAX_PART_BYTES, MIN_PART_BYTES, S3Location
from inference_common.settings import QUANT_BUCKET, JwtSettings


class DownloadSettings(JwtSettings):
    host: str = "127.0.0.1"
    port: int = Field(8202, ge=1, le=65535)

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
        2, ge=1, le=8, description="Parts of one file sent at once (memory: +1 part each)."
    )
    max_concurrent_jobs: int = Field(2, ge=1, le=16)
    max_attempts: int = Field(5, ge=1, description="Tries of a job on transient errors.")
    retry_base_seconds: float = Field(1.0, gt=0)
    retry_max_seconds: float = Field(30.0, gt=0)
    progress_save_seconds: float = Field(
        0.25, ge=0, le=10, description="A job's progress row is written at most this often."
    )
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
        checked["QUANT_S3_SECRET_KEY"] = self.quant_s3_secret_key
        return checked
