"""The rate limiter's pure core: rules, decisions and headers, window roll-over, sync
bookkeeping — on an injected clock."""

from __future__ import annotations

import pytest

from inference_common.rate_windows import reset_in, scaled, window_of
from inference_gateway.ratelimit import (
    NO_LIMITS,
    Count,
    Limiter,
    RateLimits,
    Rule,
    decide,
    duration,
    rules_for,
)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("user", "key_subject", "key", "defaults", "expected"),
    [
        (NO_LIMITS, None, NO_LIMITS, NO_LIMITS, ()),
        (
            NO_LIMITS,
            None,
            NO_LIMITS,
            RateLimits(10, None, 2),
            (Rule("user:u", RateLimits(10, None, 2)),),
        ),
        (
            RateLimits(5),
            None,
            NO_LIMITS,
            RateLimits(10, 100),
            (Rule("user:u", RateLimits(5, 100)),),
        ),
        (
            RateLimits(5, None, 3),
            "key:k",
            NO_LIMITS,
            NO_LIMITS,
            (Rule("user:u", RateLimits(5)), Rule("key:k", RateLimits(None, None, 3))),
        ),
        (
            RateLimits(5, None, 3),
            "key:k",
            RateLimits(2, 50, 1),
            NO_LIMITS,
            (Rule("user:u", RateLimits(5)), Rule("key:k", RateLimits(2, 50, 1))),
        ),
        (NO_LIMITS, "key:k", RateLimits(2), NO_LIMITS, (Rule("key:k", RateLimits(2)),)),
    ],
)
def test_rules_for(
    user: RateLimits,
    key_subject: str | None,
    key: RateLimits,
    defaults: RateLimits,
    expected: tuple[Rule, ...],
) -> None:
    assert rules_for("user:u", key_subject, user, key, defaults) == expected


@pytest.mark.parametrize(
    ("now", "length", "window", "reset"),
    [(0.0, 60, 0, 60.0), (59.5, 60, 0, 0.5), (60.0, 60, 1, 60.0), (125.0, 2, 62, 1.0)],
)
def test_windows(now: float, length: float, window: int, reset: float) -> None:
    assert window_of(now, length) == window
    assert reset_in(now, length) == pytest.approx(reset)


@pytest.mark.parametrize(
    ("per_minute", "length", "limit"), [(60, 60, 60), (60, 2, 2), (1, 2, 1), (100, 30, 50)]
)
def test_scaled(per_minute: int, length: float, limit: int) -> None:
    assert scaled(per_minute, length) == limit


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.25, "250ms"), (1.0, "1s"), (6.2, "7s"), (60.0, "1m0s"), (75, "1m15s")]
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


RPM3 = Rule("s", RateLimits(3))
TPM100 = Rule("s", RateLimits(None, 100))
CONC1 = Rule("s", RateLimits(None, None, 1))


@pytest.mark.parametrize(
    ("rule", "count", "refused", "headers"),
    [
        (
            RPM3,
            Count(0, shared_requests=1, pending_requests=1),
            None,
            {
                "x-ratelimit-limit-requests": "3",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "50s",
            },
        ),
        (
            RPM3,
            Count(0, shared_requests=2, pending_requests=1),
            "requests",
            {
                "x-ratelimit-limit-requests": "3",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "50s",
                "Retry-After": "50",
            },
        ),
        (
            TPM100,
            Count(0, shared_tokens=60, pending_tokens=39),
            None,
            {
                "x-ratelimit-limit-tokens": "100",
                "x-ratelimit-remaining-tokens": "1",
                "x-ratelimit-reset-tokens": "50s",
            },
        ),
        (
            TPM100,
            Count(0, shared_tokens=60, pending_tokens=40),
            "tokens",
            {
                "x-ratelimit-limit-tokens": "100",
                "x-ratelimit-remaining-tokens": "0",
                "x-ratelimit-reset-tokens": "50s",
                "Retry-After": "50",
            },
        ),
        (CONC1, Count(0, in_flight=0, others_in_flight=0), None, {}),
        (
            CONC1,
            Count(0, in_flight=0, others_in_flight=1),
            "concurrent requests",
            {"Retry-After": "1"},
        ),
        (CONC1, Count(0, in_flight=1), "concurrent requests", {"Retry-After": "1"}),
    ],
)
def test_decide(rule: Rule, count: Count, refused: str | None, headers: dict[str, str]) -> None:
    decision = decide([(rule, count)], now=10.0, length=60)
    assert (decision.refusal.what if decision.refusal else None) == refused
    assert decision.headers == headers


def test_the_tightest_rule_gives_the_headers_and_any_rule_refuses() -> None:
    loose = (Rule("user:u", RateLimits(100)), Count(0, shared_requests=10))
    tight = (Rule("key:k", RateLimits(5)), Count(0, shared_requests=4))
    decision = decide([loose, tight], now=0.0, length=60)
    assert decision.refusal is None
    assert decision.headers["x-ratelimit-limit-requests"] == "5"
    assert decision.headers["x-ratelimit-remaining-requests"] == "0"
    over = (Rule("key:k", RateLimits(5)), Count(0, shared_requests=5))
    refused = decide([loose, over], now=0.0, length=60).refusal
    assert refused is not None
    assert refused.limit == 5


def test_admit_counts_and_recovers_in_the_next_window() -> None:
    clock = Clock(100.0)
    limiter = Limiter(10, clock)
    rules = (Rule("user:u", RateLimits(12)),)  # 12 per minute = 2 per 10 s window
    assert limiter.admit(rules)[0] is not None
    assert limiter.admit(rules)[0] is not None
    ticket, decision = limiter.admit(rules)
    assert ticket is None
    assert decision.refusal is not None
    assert decision.headers["Retry-After"] == "10"
    clock.now = 110.0
    assert limiter.admit(rules)[0] is not None


def test_tokens_count_after_the_request_and_refuse_the_next() -> None:
    clock = Clock(0.0)
    limiter = Limiter(60, clock)
    rules = (Rule("user:u", RateLimits(None, 50)),)
    ticket, _ = limiter.admit(rules)
    assert ticket is not None
    ticket.add_tokens(30)
    ticket.add_tokens(25)
    limiter.release(ticket)
    limiter.release(ticket)  # counted once
    assert limiter.counts["user:u"].tokens == 55
    refused = limiter.admit(rules)[1].refusal
    assert refused is not None
    assert refused.what == "tokens"


def test_concurrency_is_held_until_release() -> None:
    limiter = Limiter(60, Clock(0.0))
    rules = (Rule("key:k", RateLimits(None, None, 2)),)
    first, _ = limiter.admit(rules)
    second, _ = limiter.admit(rules)
    assert first is not None
    assert second is not None
    assert limiter.admit(rules)[0] is None
    assert limiter.in_flight() == {"key:k": 2}
    limiter.release(first)
    assert limiter.admit(rules)[0] is not None


def test_sync_bookkeeping_flushes_once_and_takes_the_shared_totals() -> None:
    clock = Clock(5.0)
    limiter = Limiter(60, clock)
    rules = (Rule("user:u", RateLimits(5)),)
    for _ in range(2):
        limiter.admit(rules)
    window, batch = limiter.take_pending()
    assert (window, batch) == (0, [("user:u", 2, 0)])
    assert limiter.take_pending() == (0, [])
    # another replica admitted 3 more: the shared total is 5, nothing left
    limiter.apply_totals(0, [("user:u", 5, 0), ("user:other", 1, 7)])
    assert limiter.admit(rules)[0] is None
    assert limiter.counts["user:other"].tokens == 7
    limiter.apply_totals(1, [("user:u", 99, 0)])  # another window's totals are ignored
    assert limiter.counts["user:u"].requests == 5


def test_other_replicas_in_flight_count_and_idle_subjects_are_forgotten() -> None:
    clock = Clock(0.0)
    limiter = Limiter(60, clock)
    rules = (Rule("key:k", RateLimits(None, None, 2)),)
    limiter.apply_others_in_flight({"key:k": 2})
    assert limiter.admit(rules)[0] is None
    limiter.apply_others_in_flight({})
    ticket, _ = limiter.admit(rules)
    assert ticket is not None
    limiter.release(ticket)
    clock.now = 120.0
    assert limiter.take_pending() == (2, [])
    assert "key:k" not in limiter.counts


def test_a_failed_flush_leaves_its_counts_pending() -> None:
    clock = Clock(0.0)
    limiter = Limiter(60, clock)
    rules = (Rule("user:u", RateLimits(None, 100)),)
    ticket, _ = limiter.admit(rules)
    assert ticket is not None
    ticket.add_tokens(40)
    limiter.release(ticket)
    window, batch = limiter.take_pending()
    limiter.restore(window, batch)
    assert limiter.take_pending() == (0, [("user:u", 1, 40)])
    limiter.restore(window, batch)
    clock.now = 61.0
    limiter.restore(window, [("user:u", 5, 5)])  # an ended window's counts are dropped
    assert limiter.take_pending() == (1, [])
