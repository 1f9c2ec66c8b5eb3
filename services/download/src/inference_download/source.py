"""Reads the quantization cluster's catalogue: the manifests under the source bucket."""

from __future__ import annotations

import asyncio
from uuid import UUID

from botocore.exceptions import ClientError
from pydantic import BaseModel

from inference_common.errors import NotFoundError, UnavailableError, UnprocessableError
from inference_common.s3_multipart import MISSING_OBJECT_CODES, S3Client, s3_error_code
from inference_download.manifest import MANIFEST_NAME, Manifest, ManifestError, parse_manifest

MAX_MANIFEST_BYTES = 1024**2
LISTED_AT_ONCE = 8


class QuantModel(BaseModel):
    model_uuid: UUID
    manifest: Manifest | None
    error: str | None = None


async def read_manifest(client: S3Client, bucket: str, model_uuid: UUID) -> Manifest:
    """The model's manifest; 404 when missing, 422 when malformed, 503 when unreachable."""
    key = f"{model_uuid}/{MANIFEST_NAME}"
    try:
        raw = await client.read(bucket, key, MAX_MANIFEST_BYTES + 1)
    except ClientError as exc:
        code = s3_error_code(exc)
        if code in MISSING_OBJECT_CODES:
            raise NotFoundError(f"model {model_uuid} has no {MANIFEST_NAME} in the source") from exc
        raise UnavailableError(f"quantization cluster's store: {code or 'error'}") from exc
    except Exception as exc:
        raise UnavailableError(f"quantization cluster's store: {type(exc).__name__}") from exc
    if len(raw) > MAX_MANIFEST_BYTES:
        raise UnprocessableError(f"{key} is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        return parse_manifest(raw)
    except ManifestError as exc:
        raise UnprocessableError(f"model {model_uuid}: {exc}") from exc


async def list_models(client: S3Client, bucket: str) -> list[QuantModel]:
    """Every `<uuid>/` prefix of the source with its manifest (or why it is unusable)."""
    uuids: list[UUID] = []
    try:
        async for page in client.pages("list_objects_v2", Bucket=bucket, Delimiter="/"):
            for prefix in page.get("CommonPrefixes", []):
                try:
                    uuids.append(UUID(prefix["Prefix"].rstrip("/")))
                except ValueError:
                    continue
    except Exception as exc:
        raise UnavailableError(f"quantization cluster's store: {type(exc).__name__}") from exc
    gate = asyncio.Semaphore(LISTED_AT_ONCE)

    async def one(model_uuid: UUID) -> QuantModel:
        async with gate:
            try:
                manifest = await read_manifest(client, bucket, model_uuid)
            except (NotFoundError, UnprocessableError) as exc:
                return QuantModel(model_uuid=model_uuid, manifest=None, error=exc.message)
        return QuantModel(model_uuid=model_uuid, manifest=manifest)

    return list(await asyncio.gather(*(one(u) for u in uuids)))
