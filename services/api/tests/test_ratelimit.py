from __future__ import annotations

import pytest

from inference_api.ratelimit import LoginRateLimiter, SlidingWindow


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_per_user_and_address_are_limited() -> None:
    clock = FakeClock()
    limiter = LoginRateLimiter(3, 100, 60.0, clock)
    for _ in range(3):
        assert limiter.check("alice", "10.0.0.1") == 0
        limiter.failed("alice", "10.0.0.1")
    assert limiter.check("alice", "10.0.0.1") == 60
    assert limiter.check("ALICE", "10.0.0.1") == 60  # usernames compare case-insensitively
    assert limiter.check("alice", "10.0.0.2") == 0  # another address
    assert limiter.check("bob", "10.0.0.1") == 0  # another user
    clock.now += 30
    assert limiter.check("alice", "10.0.0.1") == 30
    clock.now += 30
    assert limiter.check("alice", "10.0.0.1") == 0


def test_success_clears_failures() -> None:
    limiter = LoginRateLimiter(2, 100, 60.0, FakeClock())
    limiter.failed("alice", "a")
    limiter.succeeded("alice", "a")
    limiter.failed("alice", "a")
    assert limiter.check("alice", "a") == 0


def test_attempts_per_address_are_limited_across_users() -> None:
    limiter = LoginRateLimiter(100, 3, 60.0, FakeClock())
    assert [limiter.check(f"u{i}", "a") for i in range(4)] == [0, 0, 0, 60]
    assert limiter.check("u9", "b") == 0


@pytest.mark.parametrize(
    ("events", "now", "expected"),
    [
        ([], 0.0, 0.0),
        ([0.0], 1.0, 0.0),
        ([0.0, 1.0], 2.0, 8.0),
        ([0.0, 1.0], 10.0, 0.0),
        ([0.0, 1.0], 10.5, 0.0),
    ],
)
def test_sliding_window_retry_after(events: list[float], now: float, expected: float) -> None:
    window = SlidingWindow(limit=2, window=10.0)
    for t in events:
        window.record("k", t)
    assert window.retry_after("k", now) == expected


def test_sliding_window_memory_is_bounded() -> None:
    window = SlidingWindow(limit=1, window=10.0, max_keys=10)
    for i in range(100):
        window.record(f"k{i}", float(i) / 100)
    assert len(window._events) <= 10
