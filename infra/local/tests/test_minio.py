"""MinIO is real: 200 MB go in and come back with the same SHA-256, streamed both ways."""

from __future__ import annotations

import hashlib
import io
import secrets

from minio import Minio

from inference_common.settings import MODELS_BUCKET, QUANT_BUCKET

SIZE = 200 * 1024 * 1024
CHUNK = 1024 * 1024


class RandomStream(io.RawIOBase):
    """SIZE bytes of random data produced on demand, hashed as they are read."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.remaining if n < 0 else min(n, self.remaining)
        data = secrets.token_bytes(n) if n else b""
        self.remaining -= len(data)
        self.sha256.update(data)
        return data


def test_both_buckets_exist(s3: Minio) -> None:
    assert s3.bucket_exists(MODELS_BUCKET)
    assert s3.bucket_exists(QUANT_BUCKET)


def test_200_mb_object_round_trip_keeps_its_sha256(s3: Minio) -> None:
    key = f"tests/blob-{secrets.token_hex(4)}"
    source = RandomStream(SIZE)
    s3.put_object(MODELS_BUCKET, key, source, length=SIZE, part_size=16 * 1024 * 1024)
    try:
        assert s3.stat_object(MODELS_BUCKET, key).size == SIZE
        response = s3.get_object(MODELS_BUCKET, key)
        digest, received = hashlib.sha256(), 0
        try:
            for chunk in response.stream(CHUNK):
                digest.update(chunk)
                received += len(chunk)
        finally:
            response.close()
            response.release_conn()
        assert received == SIZE
        assert digest.hexdigest() == source.sha256.hexdigest()
    finally:
        s3.remove_object(MODELS_BUCKET, key)
