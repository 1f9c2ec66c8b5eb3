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


def download_store_settings(env: Mapping[str, str], source: str, target: str) -> dict[str, str]:
    """A download service's two object stores, both on the stack's MinIO: bucket `target` is
    ours, bucket `source` stands for the quantization cluster's."""
    store = {name: env[f"S3_{name}"] for name in ("ENDPOINT", "ACCESS_KEY", "SECRET_KEY")}
    return {
        **{f"S3_{name}": value for name, value in store.items()},
        **{f"QUANT_S3_{name}": value for name, value in store.items()},
        "MODELS_BUCKET": target,
        "QUANT_BUCKET": source,
    }
