"""The API's MinIO client: request bodies are not hashed into the signature.

minio-py signs the SHA-256 of every request body over plain HTTP (and adds an MD5 over
HTTPS); for uploads that is a second full pass over every byte next to the file's own
SHA-256, which the API computes anyway and records. This client sends
`x-amz-content-sha256: UNSIGNED-PAYLOAD` instead (what minio-py already does over TLS, and
what S3 and MinIO accept over HTTP too): headers, query and credentials stay signed. A body
altered in transit is then caught by the model's recorded SHA-256, which the serving init
container verifies before loading the file, rather than by MinIO at upload time.
"""

from __future__ import annotations

from datetime import datetime

from minio import Minio
from minio.credentials.credentials import Credentials
from minio.helpers import DictType

from inference_common.s3 import minio_client
from inference_common.settings import CommonSettings

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


class UnsignedPayloadMinio(Minio):
    def _build_headers(
        self,
        host: str,
        headers: DictType | None = None,
        body: bytes | None = None,
        creds: Credentials | None = None,
    ) -> tuple[DictType, datetime]:
        # Built as for an empty body (nothing to hash), then given the body's length. A
        # Content-MD5 the caller set (e.g. CompleteMultipartUpload) is kept.
        built, date = super()._build_headers(host, headers, None, creds)
        if body:
            built["Content-Length"] = str(len(body))
        if creds:
            built["x-amz-content-sha256"] = UNSIGNED_PAYLOAD
        return built, date


def api_minio_client(settings: CommonSettings) -> Minio:
    return minio_client(settings, UnsignedPayloadMinio)
