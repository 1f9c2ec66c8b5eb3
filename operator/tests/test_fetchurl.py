"""Signing windows of the init containers' presigned URLs (pure), and the signer's URLs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from inference_common.modelserve import ModelServeSpec
from modelserve_operator.childmeta import Owner
from modelserve_operator.fetchurl import FetchUrlSigner, signing_window

HOUR = 3600.0
SIGNER = FetchUrlSigner.with_key("minio:9000", "ak", "sk", False, "us-east-1", timedelta(hours=12))


def owner(uid: str = "uid-1", **model: Any) -> Owner:
    spec = {
        "model": {
            "name": "m",
            "source": {"s3": {"bucket": "inference-models", "key": "dir/m.gguf"}},
            "sha256": "b" * 64,
            **model,
        }
    }
    return Owner("sm", "ns", uid, "7f0c", ModelServeSpec.model_validate(spec))


@pytest.mark.parametrize("uid", ["uid-1", "uid-2", "0c2f-…"])
@pytest.mark.parametrize("now", [0.0, 1_800_000_000.0, 1_800_000_000.0 + 5.5 * HOUR])
@pytest.mark.parametrize("lifetime", [1200.0, 12 * HOUR, 7 * 24 * HOUR])
def test_window_contains_now_and_leaves_half_the_lifetime(
    uid: str, now: float, lifetime: float
) -> None:
    window = signing_window(now, lifetime, uid)
    assert window.start <= now < window.end
    assert window.end - window.start == pytest.approx(lifetime / 2)
    assert window.start + lifetime - now >= lifetime / 2
    following = signing_window(window.end, lifetime, uid)
    assert following.start == pytest.approx(window.end)
    assert following.index == window.index + 1
    assert {following.slot, window.slot} == {0, 1}


def test_windows_are_offset_per_modelserve() -> None:
    starts = {signing_window(1_800_000_000.0, 12 * HOUR, f"uid-{i}").start for i in range(20)}
    assert len(starts) > 10


@pytest.mark.parametrize(
    ("later", "same"),
    [(0.0, True), (60.0, True), (6 * HOUR, False)],
)
def test_the_url_changes_only_with_the_window(later: float, same: bool) -> None:
    now = SIGNER.window(owner(), 1_800_000_000.0).start + 1
    first = SIGNER.url_for(owner(), SIGNER.window(owner(), now))
    second = SIGNER.url_for(owner(), SIGNER.window(owner(), now + later))
    assert first is not None
    assert second is not None
    assert (first == second) is same


def test_the_url_names_the_one_object_and_its_lifetime() -> None:
    fetch = SIGNER.url_for(owner(), SIGNER.window(owner(), 1_800_000_000.0))
    assert fetch is not None
    assert fetch.expires - fetch.signed == timedelta(hours=12)
    parts = urlsplit(fetch.url)
    query = parse_qs(parts.query)
    assert (parts.netloc, parts.path) == ("minio:9000", "/inference-models/dir/m.gguf")
    assert query["X-Amz-Expires"] == [str(12 * 3600)]
    assert query["X-Amz-Credential"][0].startswith("ak/")
    assert "sk" not in query
    assert fetch.expires.timestamp() - 1_800_000_000.0 >= 6 * HOUR


def test_a_pvc_model_has_no_url() -> None:
    pvc = owner(source={"pvc": {"claimName": "models", "path": "m.gguf"}})
    assert SIGNER.url_for(pvc, SIGNER.window(pvc, 1_800_000_000.0)) is None


def test_the_signer_digest_changes_with_the_key() -> None:
    other = FetchUrlSigner.with_key("minio:9000", "ak", "sk2", False, "us-east-1", SIGNER.lifetime)
    assert other.digest != SIGNER.digest
