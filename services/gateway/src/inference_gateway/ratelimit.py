"""Rate limits, the pure core: requests and tokens per window and requests in flight, per
subject (`user:<id>`, `key:<id>`), decided from this replica's own counts plus the shared
totals of every replica as last synced (`ratestore`). No I/O; the clock is injected.

A decision never waits for the database, so it may be late: what other replicas admitted
since the last sync is unseen, so a subject can pass its limit by at most what all the
replicas admit for it in one sync interval."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace

from inference_common.rate_windows import reset_in, scaled, window_of


@dataclass(frozen=True)
class RateLimits:
    """None = no limit."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    concurrent_requests: int | None = None

    def over(self, defaults: RateLimits) -> RateLimits:
        """These limits where set, `defaults` where not."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return replace(defaults, **{k: v for k, v in values.items() if v is not None})

    @property
    def any(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))


NO_LIMITS = RateLimits()


@dataclass(frozen=True)
class Rule:
    """The limits one subject's requests are counted and checked against."""

    subject: str
    limits: RateLimits


def rules_for(
    user_subject: str,
    key_subject: str | None,
    user_limits: RateLimits,
    key_limits: RateLimits,
    defaults: RateLimits,
) -> tuple[Rule, ...]:
    """A user's requests and tokens count against the user's contract (or the defaults); a
    key's also against the key's own overrides. Concurrency is per key (per user for
    requests without a key): the key's override, else the contract's, else the default."""
    user = user_limits.over(defaults)
    if key_subject is None:
        return (Rule(user_subject, user),) if user.any else ()
    concurrent = key_limits.concurrent_requests or user.concurrent_requests
    per_user = replace(user, concurrent_requests=None)
    per_key = replace(key_limits, concurrent_requests=concurrent)
    return tuple(
        rule
        for rule in (Rule(user_subject, per_user), Rule(key_subject, per_key))
        if rule.limits.any
    )


@dataclass
class Count:
    """One subject on this replica: the window's shared totals as last synced (this
    replica's flushed counts included), what it has not flushed yet, and requests in flight
    here and (as last synced) on the other replicas."""

    window: int
    shared_requests: int = 0
    shared_tokens: int = 0
    pending_requests: int = 0
    pending_tokens: int = 0
    in_flight: int = 0
    others_in_flight: int = 0

    @property
    def requests(self) -> int:
        return self.shared_requests + self.pending_requests

    @property
    def tokens(self) -> int:
        return self.shared_tokens + self.pending_tokens

    @property
    def concurrent(self) -> int:
        return self.in_flight + self.others_in_flight

    def roll(self, window: int) -> None:
        if window != self.window:
            self.window = window
            self.shared_requests = self.shared_tokens = 0
            self.pending_requests = self.pending_tokens = 0


@dataclass(frozen=True)
class Refusal:
    what: str  # requests | tokens | concurrent requests
    limit: int
    retry_after: int


@dataclass(frozen=True)
class Decision:
    refusal: Refusal | None
    headers: dict[str, str] = field(default_factory=dict)


def duration(seconds: float) -> str:
    """OpenAI's `x-ratelimit-reset-*` form: `1m0s`, `6s`, `250ms`."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    whole = math.ceil(seconds)
    minutes, rest = divmod(whole, 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def decide(counts: Sequence[tuple[Rule, Count]], now: float, length: float) -> Decision:
    """Whether one more request passes every rule, and the `x-ratelimit-*` headers of the
    tightest one. Tokens are known only afterwards: a subject whose window's tokens reached
    the limit is refused until the window ends."""
    reset = reset_in(now, length)
    retry = max(1, math.ceil(reset))
    headers: dict[str, str] = {}
    refusal: Refusal | None = None
    tightest_requests: tuple[int, int] | None = None
    tightest_tokens: tuple[int, int] | None = None
    for rule, count in counts:
        limits = rule.limits
        if limits.requests_per_minute is not None:
            limit = scaled(limits.requests_per_minute, length)
            remaining = limit - count.requests
            if refusal is None and remaining < 1:
                refusal = Refusal("requests", limit, retry)
            if tightest_requests is None or remaining < tightest_requests[1]:
                tightest_requests = (limit, remaining)
        if limits.tokens_per_minute is not None:
            limit = scaled(limits.tokens_per_minute, length)
            remaining = limit - count.tokens
            if refusal is None and remaining < 1:
                refusal = Refusal("tokens", limit, retry)
            if tightest_tokens is None or remaining < tightest_tokens[1]:
                tightest_tokens = (limit, remaining)
        concurrent = limits.concurrent_requests
        if refusal is None and concurrent is not None and count.concurrent >= concurrent:
            refusal = Refusal("concurrent requests", concurrent, 1)
    if tightest_requests is not None:
        limit, remaining = tightest_requests
        after = remaining - (1 if refusal is None else 0)
        headers["x-ratelimit-limit-requests"] = str(limit)
        headers["x-ratelimit-remaining-requests"] = str(max(0, after))
        headers["x-ratelimit-reset-requests"] = duration(reset)
    if tightest_tokens is not None:
        limit, remaining = tightest_tokens
        headers["x-ratelimit-limit-tokens"] = str(limit)
        headers["x-ratelimit-remaining-tokens"] = str(max(0, remaining))
        headers["x-ratelimit-reset-tokens"] = duration(reset)
    if refusal is not None:
        headers["Retry-After"] = str(refusal.retry_after)
    return Decision(refusal, headers)


@dataclass
class Ticket:
    """One admitted request: the subjects it counts against and the tokens it used."""

    rules: tuple[Rule, ...]
    headers: dict[str, str]
    holds: tuple[str, ...] = ()  # subjects whose in-flight count it raised
    tokens: int = 0
    released: bool = False

    def add_tokens(self, count: int) -> None:
        self.tokens += max(0, count)


class Limiter:
    """This replica's counts. `admit` and `release` are the hot path (no I/O); `take_pending`,
    `apply_totals` and `in_flight` are the sync's."""

    def __init__(self, window_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.length = window_seconds
        self.clock = clock
        self.counts: dict[str, Count] = {}

    def _count(self, subject: str, window: int) -> Count:
        count = self.counts.get(subject)
        if count is None:
            count = self.counts[subject] = Count(window)
        else:
            count.roll(window)
        return count

    def admit(self, rules: tuple[Rule, ...]) -> tuple[Ticket | None, Decision]:
        """A ticket when the request passes (its request counted, its concurrency held),
        with the decision (headers, refusal)."""
        now = self.clock()
        window = window_of(now, self.length)
        counts = [(rule, self._count(rule.subject, window)) for rule in rules]
        decision = decide(counts, now, self.length)
        if decision.refusal is not None:
            return None, decision
        holds: list[str] = []
        for rule, count in counts:
            count.pending_requests += 1
            if rule.limits.concurrent_requests is not None:
                count.in_flight += 1
                holds.append(rule.subject)
        return Ticket(rules, decision.headers, tuple(holds)), decision

    def release(self, ticket: Ticket) -> None:
        """The request ended: its concurrency released, its tokens counted (once)."""
        if ticket.released:
            return
        ticket.released = True
        window = window_of(self.clock(), self.length)
        for rule in ticket.rules:
            count = self._count(rule.subject, window)
            if rule.subject in ticket.holds:
                count.in_flight = max(0, count.in_flight - 1)
            count.pending_tokens += ticket.tokens

    def take_pending(self) -> tuple[int, list[tuple[str, int, int]]]:
        """The current window and, per subject, the requests and tokens not yet flushed
        (now counted as flushed); subjects idle in an old window are forgotten."""
        window = window_of(self.clock(), self.length)
        batch: list[tuple[str, int, int]] = []
        for subject, count in list(self.counts.items()):
            if count.window != window:
                count.roll(window)
                if count.in_flight == 0 and count.others_in_flight == 0:
                    del self.counts[subject]
                    continue
            if count.pending_requests or count.pending_tokens:
                batch.append((subject, count.pending_requests, count.pending_tokens))
                count.shared_requests += count.pending_requests
                count.shared_tokens += count.pending_tokens
                count.pending_requests = count.pending_tokens = 0
        return window, batch

    def restore(self, window: int, batch: Iterable[tuple[str, int, int]]) -> None:
        """A flush that failed: its counts are pending again (if their window still runs)."""
        if window != window_of(self.clock(), self.length):
            return
        for subject, requests, tokens in batch:
            count = self._count(subject, window)
            count.shared_requests = max(0, count.shared_requests - requests)
            count.shared_tokens = max(0, count.shared_tokens - tokens)
            count.pending_requests += requests
            count.pending_tokens += tokens

    def apply_totals(self, window: int, totals: Iterable[tuple[str, int, int]]) -> None:
        """Every replica's totals of `window`, read after this replica's flush."""
        if window != window_of(self.clock(), self.length):
            return
        for subject, requests, tokens in totals:
            count = self._count(subject, window)
            count.shared_requests = max(count.shared_requests, requests)
            count.shared_tokens = max(count.shared_tokens, tokens)

    def in_flight(self) -> dict[str, int]:
        return {s: c.in_flight for s, c in self.counts.items() if c.in_flight}

    def apply_others_in_flight(self, others: dict[str, int]) -> None:
        window = window_of(self.clock(), self.length)
        for subject, count in self.counts.items():
            count.others_in_flight = others.get(subject, 0)
        for subject, value in others.items():
            if subject not in self.counts:
                self._count(subject, window).others_in_flight = value
