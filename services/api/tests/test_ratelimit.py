from __future__ import annotations

import pytest

from inference_api.ratelimit import Backoff, LoginRateLimiter, SlidingWindow


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


BACKOFF = Backoff(free_failures=3, max_delay=60.0, forget_after=600.0)


def _limiter(clock: FakeClock, per_address: int = 1000) -> LoginRateLimiter:
    return LoginRateLimiter(BACKOFF, per_address, 60.0, clock)


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(0, 0.0), (2, 0.0), (3, 2.0), (4, 4.0), (5, 8.0), (8, 60.0), (10_000, 60.0)],
)
def test_backoff_doubles_up_to_the_cap(failures: int, delay: float) -> None:
    assert BACKOFF.delay(failures) == delay


def test_a_failing_source_backs_off_exponentially() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    waits = []
    for _ in range(6):
        wait = limiter.check("alice", "10.0.0.1")
        waits.append(wait)
        clock.now += wait
        limiter.failed("alice", "10.0.0.1")
    assert waits == [0, 0, 0, 2, 4, 8]
    assert limiter.check("ALICE", "10.0.0.1") == 16  # usernames compare case-insensitively
    clock.now += 10
    assert limiter.check("alice", "10.0.0.1") == 6
    assert limiter.check("bob", "10.0.0.1") == 0  # another account


def test_the_owner_from_a_clean_source_is_never_delayed() -> None:
    """However many failures the account has, a source without failures goes ahead."""
    clock = FakeClock()
    limiter = _limiter(clock)
    for i in range(50):
        limiter.failed("alice", f"10.0.0.{i}")
    assert limiter.check("alice", "10.0.0.1") > 0
    assert limiter.check("alice", "192.0.2.1") == 0
    limiter.succeeded("alice", "192.0.2.1")
    # the owner's success does not reset the attacker's back-off
    assert limiter.check("alice", "10.0.0.1") > 0


@pytest.mark.parametrize(
    ("source_failures", "other_failures", "expected"),
    [
        (0, 10, 0),  # the account is under attack elsewhere: this source is clean
        (1, 10, 2 ** (11 - 3 + 1)),  # one failure of its own: the account's back-off
        (1, 1, 0),  # below the free failures
        (3, 0, 2),
    ],
)
def test_the_account_back_off_applies_to_sources_that_failed(
    source_failures: int, other_failures: int, expected: int
) -> None:
    clock = FakeClock()
    limiter = LoginRateLimiter(
        Backoff(free_failures=3, max_delay=10_000.0, forget_after=600.0), 1000, 60.0, clock
    )
    for i in range(other_failures):
        limiter.failed("alice", f"198.51.100.{i}")
    for _ in range(source_failures):
        limiter.failed("alice", "203.0.113.5")
    assert limiter.check("alice", "203.0.113.5") == expected


def test_success_clears_the_source_and_failures_are_forgotten() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    for _ in range(5):
        limiter.failed("alice", "a")
    assert limiter.check("alice", "a") > 0
    limiter.succeeded("alice", "a")
    assert limiter.check("alice", "a") == 0
    limiter.failed("alice", "a")
    assert limiter.check("alice", "a") > 0  # one more failure: the account's count stands
    clock.now += BACKOFF.forget_after
    assert limiter.check("alice", "a") == 0
    limiter.failed("alice", "a")
    assert limiter.check("alice", "a") == 0  # counting starts again


def test_attempts_per_address_are_limited_across_users() -> None:
    limiter = _limiter(FakeClock(), per_address=3)
    assert [limiter.check(f"u{i}", "a") for i in range(4)] == [0, 0, 0, 60]
    assert limiter.check("u9", "b") == 0


def test_failure_memory_is_bounded() -> None:
    clock = FakeClock()
    limiter = LoginRateLimiter(BACKOFF, 1000, 60.0, clock, max_keys=10)
    for i in range(100):
        limiter.failed(f"user{i}", f"10.0.0.{i}")
    assert len(limiter._accounts) <= 10
    assert len(limiter._sources) <= 10
    assert limiter.check("user99", "10.0.0.99") == 0  # one failure: below the free failures


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
