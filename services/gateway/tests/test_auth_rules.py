"""The gateway's pure credential rules: how long a checked credential is reused, which
uses of a key are recorded, and which namespaces a user is allowed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from inference_gateway.auth import UsageThrottle, allowed_namespaces, trusted_for

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cache_seconds", "expires_at", "expected"),
    [
        (10.0, None, 10.0),
        (10.0, NOW + timedelta(hours=1), 10.0),
        (10.0, NOW + timedelta(seconds=3), 3.0),
        (10.0, NOW, 0.0),
        (10.0, NOW - timedelta(seconds=5), 0.0),
        (0.0, NOW + timedelta(hours=1), 0.0),
    ],
)
def test_trusted_for(cache_seconds: float, expires_at: datetime | None, expected: float) -> None:
    assert trusted_for(cache_seconds, expires_at, NOW) == expected


DEFAULT = ("default", "inference")


@pytest.mark.parametrize(
    ("contract", "expected"),
    [
        (None, {"default", "inference"}),  # no contract, or one that leaves it unset
        (["team-a"], {"team-a"}),  # the contract's list replaces the default
        (["team-a", "default"], {"team-a", "default"}),
        ([], set()),  # an empty list allows no namespace
    ],
)
def test_allowed_namespaces(contract: list[str] | None, expected: set[str]) -> None:
    assert allowed_namespaces(contract, DEFAULT) == frozenset(expected)


def test_usage_is_recorded_once_per_interval_per_key() -> None:
    throttle = UsageThrottle(interval=60.0)
    first, second = uuid4(), uuid4()
    assert [
        throttle.due(first, 0.0),
        throttle.due(first, 1.0),
        throttle.due(second, 1.0),
        throttle.due(first, 59.9),
        throttle.due(first, 60.0),
        throttle.due(first, 61.0),
    ] == [True, False, True, False, True, False]


def test_usage_memory_is_bounded() -> None:
    throttle = UsageThrottle(interval=60.0, max_keys=5)
    keys = [uuid4() for _ in range(20)]
    assert all(throttle.due(key, 0.0) for key in keys)
    assert len(throttle._recorded) <= 5
