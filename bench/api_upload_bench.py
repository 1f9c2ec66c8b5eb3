"""Upload of a GGUF-headed file through POST /models vs a direct MinIO put of the same file.

    uv run python bench/api_upload_bench.py [--size-mb 512]   # --size-mb 2048 for 2 GB

Reports both throughputs, their ratio (goal >= 0.8) and the service's peak RSS (VmHWM of the
uvicorn process; goal < 150 MB). The file is a valid GGUF: a real header and one F32 tensor
filling the rest with random bytes. Throwaway database and bucket on the local stack.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from api_common import (
    api_process,
    cpu_seconds,
    current_rss_mib,
    login,
    peak_rss_mib,
    reset_peak_rss,
    stack_env,
    throwaway_bucket,
    throwaway_database,
)

from inference_testkit.object_store import minio_from_env

CHUNK = 1024 * 1024


def write_gguf(path: Path, size_bytes: int) -> int:
    """A GGUF with one F32 tensor of about `size_bytes`; returns the real file size."""
    import gguf

    elements = max(256, (size_bytes - 4096) // 4 // 256 * 256)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(4096)
    writer.add_file_type(0)
    writer.add_tensor_info("weights", (elements,), np.dtype(np.float32), elements * 4)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    header = path.stat().st_size
    alignment = 32
    pad = -header % alignment
    with path.open("ab") as f:
        f.write(b"\0" * pad)
        left = elements * 4
        while left:
            block = os.urandom(min(left, 8 * CHUNK))
            f.write(block)
            left -= len(block)
    return path.stat().st_size


def chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            yield block


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs; medians")
    args = parser.parse_args()

    env = stack_env()
    s3 = minio_from_env(env)
    password = secrets.token_urlsafe(18)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.gguf"
        size = write_gguf(path, args.size_mb * 1024 * 1024)
        with ExitStack() as stack:
            database_url = stack.enter_context(throwaway_database(env))
            bucket = stack.enter_context(throwaway_bucket(s3))
            url, pid = stack.enter_context(
                api_process(env, database_url, bucket, password, WATCH_MODELSERVES="false")
            )
            rss_start = peak_rss_mib(pid)  # start-up, migrations, first admin (Argon2)
            headers = login(url, password)
            rss_login = peak_rss_mib(pid)  # + one Argon2 verification
            rss_idle = current_rss_mib(pid)

            directs: list[float] = []
            throughs: list[float] = []
            peaks: list[float] = []
            cpus: list[float] = []
            for round_number in range(args.rounds):
                started = time.perf_counter()
                s3.fput_object(bucket, "direct/bench.gguf", str(path), part_size=16 * CHUNK)
                directs.append(time.perf_counter() - started)
                s3.remove_object(bucket, "direct/bench.gguf")

                reset_peak_rss(pid)
                cpu_before = cpu_seconds(pid)
                started = time.perf_counter()
                response = httpx.post(
                    f"{url}/models",
                    params={"name": f"bench-upload-{round_number}"},
                    content=chunks(path),
                    headers={
                        **headers,
                        "content-type": "application/octet-stream",
                        "content-length": str(size),
                    },
                    timeout=600,
                )
                throughs.append(time.perf_counter() - started)
                cpus.append(cpu_seconds(pid) - cpu_before)
                response.raise_for_status()
                assert response.json()["size_bytes"] == size
                peaks.append(peak_rss_mib(pid))
                deleted = httpx.delete(
                    f"{url}/models/{response.json()['uuid']}", headers=headers, timeout=60
                )
                deleted.raise_for_status()

    mib = size / CHUNK
    direct = statistics.median(directs)
    through_api = statistics.median(throughs)
    rss_peak = max(peaks)
    ratio = direct / through_api
    print(
        f"{args.rounds} rounds, medians; "
        f"ratios per round {[round(d / t, 2) for d, t in zip(directs, throughs, strict=True)]}; "
        f"service CPU seconds per upload {[round(c, 2) for c in cpus]} "
        f"(wall {[round(t, 2) for t in throughs]})"
    )
    print(
        f"upload of {mib:.0f} MiB: direct MinIO put {mib / direct:.0f} MiB/s, "
        f"POST /models {mib / through_api:.0f} MiB/s, ratio {ratio:.2f} "
        f"(goal >= 0.8: {'met' if ratio >= 0.8 else 'NOT met'}); "
        f"service peak RSS during the upload {rss_peak:.0f} MiB (RSS before it {rss_idle:.0f} "
        f"MiB; goal < 150 MB: {'met' if rss_peak * 1.048576 < 150 else 'NOT met'}); peak RSS "
        f"after start-up {rss_start:.0f} MiB, after a login {rss_login:.0f} MiB"
    )


if __name__ == "__main__":
    main()
