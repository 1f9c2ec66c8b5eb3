"""The download service's Prometheus series (served by the shared `GET /metrics`).

Label values are bounded: `phase` is a final phase, `error_class` one of `ERROR_CLASSES`
(anything else is counted as `other`), so the series never grow with jobs or models.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ERROR_CLASSES = frozenset(
    {
        "bad_manifest",
        "cancelled",
        "checksum_mismatch",
        "conflict",
        "duplicate",
        "internal",
        "not_found",
        "not_gguf",
        "size_mismatch",
        "stalled",
        "unavailable",
    }
)
NO_ERROR = "none"
OTHER_ERROR = "other"
MIB = 1024**2
# 256 KiB/s … 4 GiB/s: a stalling link to a local disk.
THROUGHPUT_BUCKETS = tuple(float(MIB * 2**e) for e in range(-2, 13))

DOWNLOADS_IN_FLIGHT = Gauge(
    "inference_downloads_in_flight",
    "Import jobs holding a copy slot (copying, verifying, registering or waiting to retry)",
)
DOWNLOAD_BYTES = Counter(
    "inference_download_bytes",
    "Bytes stored into the models bucket by imports (re-sends included)",
)
DOWNLOAD_STALLS = Counter(
    "inference_download_stalls",
    "Import jobs the watchdog failed after no progress for STALL_SECONDS",
)
JOBS_FINISHED = Counter(
    "inference_download_jobs_finished",
    "Import jobs that reached a final phase, by phase and error class",
    ["phase", "error_class"],
)
COPY_THROUGHPUT = Histogram(
    "inference_download_throughput_bytes_per_second",
    "Bytes stored per second of each finished copy run",
    buckets=THROUGHPUT_BUCKETS,
)


def error_label(error_class: str | None) -> str:
    if error_class is None:
        return NO_ERROR
    return error_class if error_class in ERROR_CLASSES else OTHER_ERROR


def throughput(bytes_stored: int, seconds: float) -> float | None:
    """Bytes per second of a run; None when it stored nothing or took no measurable time."""
    if bytes_stored <= 0 or seconds <= 0:
        return None
    return bytes_stored / seconds


def job_finished(phase: str, error_class: str | None) -> None:
    JOBS_FINISHED.labels(phase, error_label(error_class)).inc()


def copy_run_ended(bytes_stored: int, seconds: float) -> None:
    rate = throughput(bytes_stored, seconds)
    if rate is not None:
        COPY_THROUGHPUT.observe(rate)
