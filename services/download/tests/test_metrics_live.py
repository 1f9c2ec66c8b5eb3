"""The download service's /metrics after real imports (the service as a real process
against the stack's MinIO and Postgres)."""

from __future__ import annotations

from pathlib import Path

from minio import Minio

from inference_testkit.metrics import scrape, value
from inference_testkit.waiting import wait_for

from .conftest import Service
from .sources import MIB, publish, write_gguf
from .test_imports import wait_final


def test_an_import_and_a_failed_one_are_counted(
    service: Service, s3: Minio, tmp_path: Path
) -> None:
    good = write_gguf(tmp_path / "good.gguf", padding_bytes=6 * MIB)
    bad = write_gguf(tmp_path / "bad.gguf", padding_bytes=MIB)
    good_uuid = publish(s3, service.source, [good])
    bad_uuid = publish(s3, service.source, [bad], sha_override="0" * 64)
    metrics_url = f"{service.url}/metrics"
    before = scrape(metrics_url)
    with service.client() as client:
        for model_uuid in (good_uuid, bad_uuid):
            assert client.post(f"/download/{model_uuid}").status_code == 202
        assert wait_final(client, good_uuid)["phase"] == "Done"
        assert wait_final(client, bad_uuid)["phase"] == "Failed"
    after = scrape(metrics_url)

    def grew(name: str, labels: dict[str, str] | None = None) -> float:
        return value(after, name, labels) - value(before, name, labels)

    assert grew("inference_download_bytes_total") >= good.stat().st_size
    done = {"phase": "Done", "error_class": "none"}
    failed = {"phase": "Failed", "error_class": "checksum_mismatch"}
    assert grew("inference_download_jobs_finished_total", done) >= 1
    assert grew("inference_download_jobs_finished_total", failed) >= 1
    assert grew("inference_download_throughput_bytes_per_second_count") >= 1
    wait_for(
        lambda: value(scrape(metrics_url), "inference_downloads_in_flight") == 0,
        timeout=30,
        what="no import in flight once both finished",
    )
    assert "inference_download_stalls_total" in {name for name, _ in after}
