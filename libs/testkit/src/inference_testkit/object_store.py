"""MinIO clients from the stack's environment (`.local/env`): the platform's store under
`S3_*`, the quantization cluster's under `QUANT_S3_*`."""

from __future__ import annotations

from collections.abc import Mapping

from minio import Minio


def minio_from_env(env: Mapping[str, str], prefix: str = "S3") -> Minio:
    return Minio(
        env[f"{prefix}_ENDPOINT"],
        access_key=env[f"{prefix}_ACCESS_KEY"],
        secret_key=env[f"{prefix}_SECRET_KEY"],
        secure=False,
    )
