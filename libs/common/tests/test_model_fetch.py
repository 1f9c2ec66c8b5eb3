"""The model fetch logic: verified download, cache hits, mismatches (pure file-system tests; the
MinIO path runs against the real stack in the operator's tests)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from inference_common.model_fetch import (
    EXIT_MISMATCH,
    EXIT_NOT_FOUND,
    STALE_PARTIAL_SECONDS,
    FetchError,
    cached,
    fetch,
    fetch_lock,
    main,
    marker_path,
    model_url,
    redacted,
    remove_stale_partials,
    verify_local,
)
from inference_testkit.waiting import wait_for

DATA = b"GGUF" + bytes(range(256)) * 5000
SHA = hashlib.sha256(DATA).hexdigest()


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls = 0

    def __iter__(self) -> Iterator[bytes]:
        self.calls += 1
        for i in range(0, len(self.data), 4096):
            yield self.data[i : i + 4096]


def test_fetch_then_cached(tmp_path: Path) -> None:
    reader = Reader(DATA)
    dest = tmp_path / "m" / f"{SHA}.gguf"
    assert fetch(reader, SHA, dest, size=len(DATA)) == "fetched"
    assert dest.read_bytes() == DATA
    assert cached(dest, SHA)
    assert fetch(reader, SHA, dest) == "cached"
    assert reader.calls == 1
    assert not (dest.parent / f"{SHA}.gguf.partial").exists()


def test_existing_good_file_without_marker_is_verified_not_copied(tmp_path: Path) -> None:
    dest = tmp_path / "m.gguf"
    dest.write_bytes(DATA)
    reader = Reader(DATA)
    assert fetch(reader, SHA, dest) == "verified"
    assert reader.calls == 0
    assert cached(dest, SHA)


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda p: p.write_bytes(DATA[:-1] + b"x"), "fetched"),  # changed content and mtime
        (lambda p: marker_path(p).write_text("{not json"), "verified"),  # broken marker
        (lambda p: marker_path(p).unlink(), "verified"),  # marker gone
        (lambda p: p.unlink(), "fetched"),  # file gone
    ],
)
def test_cache_invalidation(tmp_path: Path, tamper: object, expected: str) -> None:
    dest = tmp_path / "m.gguf"
    fetch(Reader(DATA), SHA, dest)
    tamper(dest)  # type: ignore[operator]
    assert fetch(Reader(DATA), SHA, dest) == expected
    assert dest.read_bytes() == DATA


def test_checksum_mismatch_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "m.gguf"
    with pytest.raises(FetchError) as info:
        fetch(Reader(DATA + b"!"), SHA, dest)
    assert info.value.code == EXIT_MISMATCH
    assert "sha256 mismatch" in str(info.value)
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_size_mismatch(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="size mismatch"):
        fetch(Reader(DATA), SHA, tmp_path / "m.gguf", size=len(DATA) + 1)


def test_marker_for_other_checksum_is_not_a_hit(tmp_path: Path) -> None:
    dest = tmp_path / "m.gguf"
    fetch(Reader(DATA), SHA, dest)
    assert not cached(dest, "0" * 64)


def test_verify_local(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(DATA)
    assert verify_local(path, SHA) == "verified"
    assert verify_local(path, SHA) == "cached"
    with pytest.raises(FetchError) as info:
        verify_local(tmp_path / "missing.gguf", SHA)
    assert info.value.code == EXIT_NOT_FOUND


def test_cli_verify_exit_codes(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(DATA)
    assert main(["verify", "--path", str(path), "--sha256", SHA]) == 0
    assert main(["verify", "--path", str(path), "--sha256", "1" * 64]) == EXIT_MISMATCH


@pytest.mark.parametrize("url", ["", "file:///etc/passwd", "ftp://127.0.0.1/m.gguf"])
def test_cli_url_refuses_a_missing_or_non_http_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("MODEL_URL", url)
    assert main(["url", "--sha256", SHA, "--dest", str(tmp_path / "m")]) == 64
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "http://127.0.0.1:9000/b/k.gguf?X-Amz-Signature=abc&X-Amz-Credential=ak",
            "http://127.0.0.1:9000/b/k.gguf",
        ),
        ("https://minio.example/b/dir/k.gguf", "https://minio.example/b/dir/k.gguf"),
        ("http://h/b/k#frag", "http://h/b/k"),
    ],
)
def test_redacted_drops_the_signature(url: str, expected: str) -> None:
    assert redacted(url) == expected


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"MODEL_URL": "http://h/u"}, "http://h/u"),
        (
            {
                "SLOT0_MODEL_URL": "http://h/old",
                "SLOT0_MODEL_URL_EXPIRES": "2026-01-01T12:00:00Z",
                "SLOT1_MODEL_URL": "http://h/new",
                "SLOT1_MODEL_URL_EXPIRES": "2026-01-01T18:00:00Z",
            },
            "http://h/new",
        ),
        (
            {
                "SLOT0_MODEL_URL": "http://h/new",
                "SLOT0_MODEL_URL_EXPIRES": "2026-01-02T00:00:00Z",
                "SLOT1_MODEL_URL": "http://h/old",
                "SLOT1_MODEL_URL_EXPIRES": "2026-01-01T18:00:00Z",
            },
            "http://h/new",
        ),
        ({"SLOT1_MODEL_URL": "http://h/only", "SLOT1_MODEL_URL_EXPIRES": "x"}, "http://h/only"),
        (
            {
                "SLOT0_MODEL_URL": "http://h/unknown",
                "SLOT1_MODEL_URL": "http://h/dated",
                "SLOT1_MODEL_URL_EXPIRES": "2026-01-01T18:00:00Z",
            },
            "http://h/dated",
        ),
    ],
)
def test_model_url_is_the_one_valid_longest(env: dict[str, str], expected: str) -> None:
    prefixes = [""] if "MODEL_URL" in env else ["SLOT0_", "SLOT1_"]
    assert model_url(env, prefixes) == expected


def test_model_url_names_what_is_missing() -> None:
    with pytest.raises(FetchError, match="SLOT0_MODEL_URL, SLOT1_MODEL_URL") as info:
        model_url({"MODEL_URL": "http://h/u"}, ["SLOT0_", "SLOT1_"])
    assert info.value.code == 64


def test_two_fetches_of_one_file_download_it_once(tmp_path: Path) -> None:
    """The second fetch waits on the first one's lock, then finds the file cached."""
    dest = tmp_path / f"{SHA}.gguf"
    second_waits = threading.Event()

    class HeldReader(Reader):
        def __iter__(self) -> Iterator[bytes]:
            assert second_waits.wait(10), "the second fetch never waited on the lock"
            yield from super().__iter__()

    first, second = HeldReader(DATA), Reader(DATA)
    with ThreadPoolExecutor(2) as pool:
        fetched = pool.submit(fetch, first, SHA, dest)
        wait_for(lambda: (tmp_path / f"{SHA}.gguf.lock").exists(), timeout=10, what="the lock")
        reused = pool.submit(fetch, second, SHA, dest, None, second_waits.set)
        assert (fetched.result(timeout=20), reused.result(timeout=20)) == ("fetched", "cached")
    assert (first.calls, second.calls) == (1, 0)
    assert dest.read_bytes() == DATA
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{SHA}.gguf", f"{SHA}.gguf.verified"]


def test_the_lock_is_per_file_and_removed_when_released(tmp_path: Path) -> None:
    dest = tmp_path / "m.gguf"
    with fetch_lock(dest):
        assert (tmp_path / "m.gguf.lock").exists()
    assert not (tmp_path / "m.gguf.lock").exists()
    with fetch_lock(dest), fetch_lock(tmp_path / "other.gguf"):  # one lock per file
        assert fetch(Reader(DATA), SHA, tmp_path / "third.gguf") == "fetched"


@pytest.mark.parametrize(
    ("ages", "removed"),
    [
        ({}, []),
        ({"m.gguf.partial-1-aa": 5.0}, []),
        ({"m.gguf.partial-1-aa": STALE_PARTIAL_SECONDS + 1}, ["m.gguf.partial-1-aa"]),
        ({"m.gguf.partial": STALE_PARTIAL_SECONDS * 2}, ["m.gguf.partial"]),
        (
            {"m.gguf.partial-1-aa": 1.0, "m.gguf.partial-2-bb": STALE_PARTIAL_SECONDS + 60},
            ["m.gguf.partial-2-bb"],
        ),
        ({"other.gguf.partial-1-aa": STALE_PARTIAL_SECONDS * 2, "m.gguf": 1e6}, []),
    ],
)
def test_remove_stale_partials(tmp_path: Path, ages: dict[str, float], removed: list[str]) -> None:
    now = 2_000_000_000.0
    for name, age in ages.items():
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (now - age, now - age))
    gone = remove_stale_partials(tmp_path / "m.gguf", now=now)
    assert sorted(p.name for p in gone) == removed
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(set(ages) - set(removed))


def test_cli_says_a_cache_hit_downloads_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / f"{SHA}.gguf"
    fetch(Reader(DATA), SHA, dest)
    monkeypatch.setenv("MODEL_URL", "http://127.0.0.1:9/unused.gguf")
    assert main(["url", "--sha256", SHA, "--dest", str(dest)]) == 0
    assert (
        "model cached: the verified file is reused, nothing downloaded" in capsys.readouterr().err
    )
