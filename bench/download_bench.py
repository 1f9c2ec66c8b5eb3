"""Import of a GGUF-headed file by the download service, from the quantization cluster's
MinIO into ours, against a plain minio-py GET → put_object copy between the same two MinIOs.

    uv run --no-sync python bench/download_bench.py [--size-mb 200]   # --size-mb 2048 for 2 GB
    ... --rounds 5   # imports measured (default 3)
    ... --set PARALLEL_PARTS=4 --set PART_BYTES=16777216   # a service setting for the run

Reports the import's throughput as a ratio to the plain copy's (goal >= 0.9). Plain copies
and imports alternate (plain, import, plain, import, ..., plain); each import's ratio is to
the mean of the plain copies either side of it, and the median over the rounds is the
figure: on a 2-core VM two copies of the same bytes a minute apart differ by up to 20 %,
and a single pair says more about the neighbours than about the copy. Also the service's
peak RSS during an import (VmHWM of its process; goal < 150 MB and flat across sizes), and
the cost of a resume: the service is killed (SIGKILL) once half the file is stored,
restarted, and the bytes it sends again, the time it then needs and the bytes it re-reads
from the source are printed. The import's end is seen on the job's event stream (not by
polling, whose interval would count as import time). The CPU seconds of both copies and the
load average are printed too: on a shared machine the ratio follows whichever copy got the
CPU. Each round's model is a server-side copy of the first under a new uuid, forgotten and
removed after its round.
Needs the stack with its second MinIO (`make up`): throwaway database and buckets on both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
from minio import Minio
from minio.commonconfig import CopySource

sys.path.insert(0, str(Path(__file__).parent))

from api_common import (
    cpu_seconds,
    current_rss_mib,
    peak_rss_mib,
    reset_peak_rss,
    service_env,
    stack_env,
    throwaway_bucket,
    throwaway_database,
)
from api_upload_bench import write_gguf

from inference_common.auth import TokenSigner, hash_password
from inference_common.db import make_engine, make_sessionmaker, unit_of_work
from inference_common.tables import User
from inference_download import publish
from inference_testkit.database import forget_model
from inference_testkit.object_store import minio_from_env
from inference_testkit.servers import free_port, wait_http_ok

PART = 16 * 1024**2
FINAL = {"Done", "Failed", "Cancelled"}


def quant_minio(env: dict[str, str]) -> Minio:
    if "QUANT_S3_ENDPOINT" not in env:
        raise SystemExit("the stack has no quantization cluster MinIO (QUANT_S3_*): make up")
    return minio_from_env(env, "QUANT_S3")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def plain_copy(source: Minio, src_bucket: str, key: str, target: Minio, dst_bucket: str) -> float:
    started = time.perf_counter()
    response = source.get_object(src_bucket, key)
    try:
        target.put_object(dst_bucket, "plain/copy.gguf", response, -1, part_size=PART)
    finally:
        response.close()
        response.release_conn()
    elapsed = time.perf_counter() - started
    target.remove_object(dst_bucket, "plain/copy.gguf")
    return elapsed


async def _add_user(database_url: str) -> UUID:
    engine = make_engine(database_url)
    user_id = uuid4()
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            session.add(
                User(
                    id=user_id,
                    username=f"bench-{user_id.hex[:8]}",
                    password_hash=hash_password(secrets.token_urlsafe(12)),
                    role="admin",
                )
            )
    finally:
        await engine.dispose()
    return user_id


class Service:
    """`inference-download` as a real process that can be SIGKILLed and started again."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.url = f"http://127.0.0.1:{env['PORT']}"
        self.process: Any = None

    def start(self) -> None:
        import subprocess

        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "inference_download.main"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_http_ok(f"{self.url}/health", timeout=60, log=self.log)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@contextmanager
def service(env: dict[str, str], log: Path) -> Iterator[Service]:
    running = Service(env, log)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def status(url: str, headers: dict[str, str], model_uuid: UUID) -> dict[str, Any]:
    body: dict[str, Any] = (
        httpx.get(f"{url}/status/{model_uuid}", headers=headers, timeout=10)
        .raise_for_status()
        .json()
    )
    return body


def follow(
    url: str, headers: dict[str, str], model_uuid: UUID, until: Any, limit: float
) -> dict[str, Any]:
    """The first snapshot of the job's event stream that satisfies `until`."""
    deadline = time.monotonic() + limit
    timeout = httpx.Timeout(10, read=60)
    with httpx.stream(
        "GET", f"{url}/status/{model_uuid}/events", headers=headers, timeout=timeout
    ) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("data: "):
                body: dict[str, Any] = json.loads(line.removeprefix("data: "))
                if until(body) or body["phase"] in FINAL:
                    return body
            if time.monotonic() > deadline:
                break
    raise SystemExit(f"timed out or the stream ended early: {status(url, headers, model_uuid)}")


@dataclass
class Round:
    plain_seconds: float  # the plain copy just before the import
    plain_cpu: float
    import_seconds: float
    service_cpu: float
    peak_rss: float


def republish(
    client: Minio, bucket: str, template: UUID, model_uuid: UUID, name: str, manifest: Any
) -> None:
    """The template model's file under another uuid (a server-side copy) and its manifest."""
    client.copy_object(bucket, f"{model_uuid}/{name}", CopySource(bucket, f"{template}/{name}"))
    publish.write_manifest(
        client,
        bucket,
        model_uuid,
        manifest.model_copy(update={"name": f"bench-{model_uuid.hex[:8]}"}),
    )


def import_round(
    running: Service, headers: dict[str, str], model_uuid: UUID, plain: Callable[[], float]
) -> Round:
    """A plain copy, then an import of `model_uuid` (seen on its event stream)."""
    cpu_started = own_cpu_seconds()
    plain_seconds = plain()
    plain_cpu = own_cpu_seconds() - cpu_started
    pid = running.process.pid
    reset_peak_rss(pid)
    service_cpu = cpu_seconds(pid)
    started = time.perf_counter()
    httpx.post(
        f"{running.url}/download/{model_uuid}", headers=headers, timeout=30
    ).raise_for_status()
    done = follow(running.url, headers, model_uuid, lambda b: b["phase"] in FINAL, 3600)
    imported = time.perf_counter() - started
    assert done["phase"] == "Done", done
    return Round(
        plain_seconds, plain_cpu, imported, cpu_seconds(pid) - service_cpu, peak_rss_mib(pid)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="imports, each between two plain copies; each gets the ratio to the mean of its "
        "two, and the median is reported",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SETTING=VALUE",
        help="a download service setting for this run, e.g. PARALLEL_PARTS=2 (repeatable)",
    )
    args = parser.parse_args()
    env = stack_env()
    ours, quant = minio_from_env(env), quant_minio(env)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        path = Path(tmp) / "bench.gguf"
        size = write_gguf(path, args.size_mb * 1024**2)
        mib = size / 1024**2
        database_url = stack.enter_context(throwaway_database(env))
        target = stack.enter_context(throwaway_bucket(ours))
        source = stack.enter_context(throwaway_bucket(quant))
        files = [publish.describe(path)]
        manifest = publish.build_manifest("bench", "F32", "bench", files)
        first = uuid4()
        publish.publish(quant, source, first, files, manifest)
        path.unlink()  # the source holds it now; the copies are server-side
        user_id = asyncio.run(_add_user(database_url))
        jwt_secret = secrets.token_urlsafe(48)
        token = TokenSigner(jwt_secret).issue(str(user_id), "bench", "admin")
        headers = {"Authorization": f"Bearer {token}"}
        download_env = service_env(
            env,
            database_url,
            target,
            free_port(),
            QUANT_S3_ENDPOINT=env["QUANT_S3_ENDPOINT"],
            QUANT_S3_ACCESS_KEY=env["QUANT_S3_ACCESS_KEY"],
            QUANT_S3_SECRET_KEY=env["QUANT_S3_SECRET_KEY"],
            QUANT_BUCKET=source,
            JWT_SECRET=jwt_secret,
            RUN_MIGRATIONS="false",
            **dict(item.split("=", 1) for item in args.set),
        )
        key = f"{first}/{path.name}"

        def plain() -> float:
            return plain_copy(quant, source, key, ours, target)

        def forget(model_uuid: UUID) -> None:
            """Unregisters an imported copy (the next one has the same bytes) and removes it."""
            forget_model(database_url, model_uuid)
            ours.remove_object(target, f"models/{model_uuid}.gguf")
            if model_uuid != first:
                quant.remove_object(source, f"{model_uuid}/{path.name}")

        rounds: list[Round] = []
        load_before = os.getloadavg()
        with service(download_env, Path(tmp) / "service.log") as running:
            rss_idle = current_rss_mib(running.process.pid)
            for number in range(args.rounds):
                model_uuid = first if number == 0 else uuid4()
                if number:
                    republish(quant, source, first, model_uuid, path.name, manifest)
                rounds.append(import_round(running, headers, model_uuid, plain))
                forget(model_uuid)
            rss_after = current_rss_mib(running.process.pid)
        plain_last = plain()
        load_after = os.getloadavg()

        second = uuid4()
        republish(quant, source, first, second, path.name, manifest)
        with service(download_env, Path(tmp) / "service.log") as running:
            httpx.post(
                f"{running.url}/download/{second}", headers=headers, timeout=30
            ).raise_for_status()
            half = follow(
                running.url, headers, second, lambda b: b["bytes_done"] >= size // 2, 3600
            )
            running.kill()
            killed_at = half["bytes_done"]
            running.start()
            restarted = time.perf_counter()
            resumed = follow(running.url, headers, second, lambda b: b["phase"] in FINAL, 3600)
            after_restart = time.perf_counter() - restarted
        assert resumed["phase"] == "Done", resumed
        forget(second)

    plains = [r.plain_seconds for r in rounds] + [plain_last]
    ratios = [(plains[i] + plains[i + 1]) / 2 / r.import_seconds for i, r in enumerate(rounds)]
    print(f"import of {mib:.0f} MiB, {len(rounds)} rounds (plain copy, import, ..., plain copy):")
    for i, (r, ratio) in enumerate(zip(rounds, ratios, strict=True), 1):
        print(
            f"  round {i}: plain {mib / r.plain_seconds:.0f} MiB/s ({r.plain_seconds:.2f} s, "
            f"{r.plain_cpu:.2f} s CPU), import {mib / r.import_seconds:.0f} MiB/s "
            f"({r.import_seconds:.2f} s, service {r.service_cpu:.2f} s CPU, peak RSS "
            f"{r.peak_rss:.0f} MiB), ratio {ratio:.2f}"
        )
    ratio = statistics.median(ratios)
    print(
        f"ratio to the plain minio-py GET→put_object copy: median {ratio:.2f} "
        f"(min {min(ratios):.2f}, max {max(ratios):.2f}; goal >= 0.9: "
        f"{'met' if ratio >= 0.9 else 'NOT met'}); last plain copy {plain_last:.2f} s; "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after (1 min)"
    )
    peak = max(r.peak_rss for r in rounds)
    print(
        f"service peak RSS during an import {peak:.0f} MiB "
        f"(idle before the first {rss_idle:.0f} MiB, after the last {rss_after:.0f} MiB; "
        f"goal < 150 MB: {'met' if peak * 1.048576 < 150 else 'NOT met'})"
    )
    missing = size - resumed["bytes_resumed"]
    print(
        f"resume: killed with {killed_at / 1024**2:.0f} MiB stored "
        f"({100 * killed_at / size:.0f} %); the restart kept the "
        f"{resumed['bytes_resumed'] / 1024**2:.0f} MiB of parts our bucket held and sent the "
        f"other {missing / 1024**2:.0f} MiB (sent twice: only the parts in flight at the kill, "
        f"at most PARALLEL_PARTS x part size); done {after_restart:.2f} s after the restart, "
        f"the source read again from its first byte for the SHA-256 "
        f"({mib / after_restart:.0f} MiB/s of file)"
    )


if __name__ == "__main__":
    main()
