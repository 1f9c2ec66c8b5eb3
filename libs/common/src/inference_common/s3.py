"""Object storage through the MinIO client: one way to build it from settings."""

from __future__ import annotations

from minio import Minio

from inference_common.settings import CommonSettings


def minio_client(settings: CommonSettings) -> Minio:
    return Minio(
        settings.s3_endpoint,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=settings.s3_secure,
    )


def ensure_bucket(client: Minio, bucket: str) -> bool:
    """Creates the bucket if missing; True when it was created."""
    if client.bucket_exists(bucket):
        return False
    client.make_bucket(bucket)
    return True
