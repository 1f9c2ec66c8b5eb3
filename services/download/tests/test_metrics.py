"""The download metrics' label and throughput choices (pure)."""

from __future__ import annotations

import pytest

from inference_download.metrics import (
    MIB,
    NO_ERROR,
    OTHER_ERROR,
    THROUGHPUT_BUCKETS,
    error_label,
    throughput,
)


@pytest.mark.parametrize(
    ("error_class", "label"),
    [
        (None, NO_ERROR),
        ("stalled", "stalled"),
        ("unavailable", "unavailable"),
        ("cancelled", "cancelled"),
        ("something new", OTHER_ERROR),
        ("", OTHER_ERROR),
    ],
)
def test_error_labels_are_a_bounded_set(error_class: str | None, label: str) -> None:
    assert error_label(error_class) == label


@pytest.mark.parametrize(
    ("stored", "seconds", "rate"),
    [
        (8 * MIB, 2.0, 4.0 * MIB),
        (0, 2.0, None),
        (8 * MIB, 0.0, None),
        (-1, 1.0, None),
    ],
)
def test_throughput_of_a_run(stored: int, seconds: float, rate: float | None) -> None:
    assert throughput(stored, seconds) == rate


def test_throughput_buckets_span_a_slow_link_to_a_local_disk() -> None:
    assert list(THROUGHPUT_BUCKETS) == sorted(THROUGHPUT_BUCKETS)
    assert THROUGHPUT_BUCKETS[0] <= 256 * 1024
    assert THROUGHPUT_BUCKETS[-1] >= 4 * 1024 * MIB
