"""Bucket-to-bucket copy on the stack's MinIO: the shared multipart path
(`inference_common.s3_multipart`, botocore in worker threads) against a plain minio-py copy.

    uv run --no-sync python bench/s3_copy_bench.py [--mib 300] [--part-mib 16] [--in-flight 2]

Needs S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY (`. .local/env`). Makes two throwaway buckets
and one random object, prints MB/s of each path and the ratio, and removes everything.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import secrets
import time

from minio import Minio
from minio.deleteobjects import DeleteObject

from inference_common.s3_multipart import (
    MultipartWriter,
    S3Location,
    read_object,
    s3_client,
    start_upload,
)


def seed(client: Minio, bucket: str, mib: int) -> None:
    class Random:
        def __init__(self, size: int) -> None:
            self.left = size

        def read(self, n: int = -1) -> bytes:
            n = self.left if n < 0 else min(n, self.left)
            self.left -= n
            return os.urandom(n)

    client.put_object(bucket, "src.bin", Random(mib * 1024**2), mib * 1024**2)  # type: ignore[arg-type]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def minio_copy(client: Minio, src: str, dst: str, part: int) -> float:
    started = time.perf_counter()
    response = client.get_object(src, "src.bin")
    try:
        client.put_object(dst, "minio.bin", response, -1, part_size=part)
    finally:
        response.close()
        response.release_conn()
    return time.perf_counter() - started


async def shared_copy(location: S3Location, src: str, dst: str, part: int, flight: int) -> float:
    started = time.perf_counter()
    async with s3_client(location) as client:
        upload_id = await start_upload(client, dst, "shared.bin")
        writer = MultipartWriter(client, dst, "shared.bin", upload_id, part, in_flight=flight)
        await writer.write_all(read_object(client, src, "src.bin"))
        await writer.complete(await writer.flush())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=300)
    parser.add_argument("--part-mib", type=int, default=16)
    parser.add_argument("--in-flight", type=int, default=2)
    args = parser.parse_args()
    location = S3Location(
        os.environ["S3_ENDPOINT"], os.environ["S3_ACCESS_KEY"], os.environ["S3_SECRET_KEY"]
    )
    client = Minio(
        location.endpoint, location.access_key, location.secret_key, secure=location.secure
    )
    src, dst = f"bench-src-{secrets.token_hex(3)}", f"bench-dst-{secrets.token_hex(3)}"
    for bucket in (src, dst):
        client.make_bucket(bucket)
    part = args.part_mib * 1024**2
    try:
        seed(client, src, args.mib)
        base_rss = peak_rss_mib()
        shared = asyncio.run(shared_copy(location, src, dst, part, args.in_flight))
        shared_rss = peak_rss_mib()
        plain = minio_copy(client, src, dst, part)
        mb = args.mib * 1024**2 / 1e6
        print(f"minio-py GET→put_object: {mb / plain:.0f} MB/s ({plain:.2f} s)")
        print(f"shared multipart path:   {mb / shared:.0f} MB/s ({shared:.2f} s)")
        print(f"ratio shared/plain: {plain / shared:.2f}")
        print(f"peak RSS: {base_rss:.0f} MiB before, {shared_rss:.0f} MiB after the shared copy")
    finally:
        for bucket in (src, dst):
            names = [DeleteObject(o.object_name) for o in client.list_objects(bucket)]
            list(client.remove_objects(bucket, names))
            client.remove_bucket(bucket)


if __name__ == "__main__":
    main()
