"""Rate limits on the request path: a principal's rules, admission (429 in the API's own
shape, with `Retry-After` and `x-ratelimit-*`), and the request's tokens, counted from the
replica's usage wherever the answer passes (`count_usage`) into the request's ticket."""

from __future__ import annotations

from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from inference_common.rate_windows import RATE_SUBJECT_KEY, RATE_SUBJECT_USER
from inference_gateway.auth import Principal
from inference_gateway.errors import GatewayError, Kind
from inference_gateway.ratelimit import Limiter, RateLimits, Rule, Ticket, rules_for

current_ticket: ContextVar[Ticket | None] = ContextVar("rate_ticket", default=None)


def count_usage(doc: dict[str, Any]) -> None:
    """Adds the prompt and completion tokens of an OpenAI-style `usage` to the request's
    ticket (if it has one)."""
    ticket = current_ticket.get()
    usage = doc.get("usage")
    if ticket is None or not isinstance(usage, dict):
        return
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    ticket.add_tokens(
        (prompt if isinstance(prompt, int) else 0)
        + (completion if isinstance(completion, int) else 0)
    )


def refusal_message(what: str, limit: int, length: float, retry_after: int) -> str:
    if what == "concurrent requests":
        return f"rate limit reached: {limit} concurrent requests for this API key; retry shortly"
    per = "per minute" if length == 60 else f"per {length:g} s window"
    return f"rate limit reached for {what}: {limit} {per}; retry in {retry_after} s"


class RateGate:
    def __init__(self, limiter: Limiter, defaults: RateLimits) -> None:
        self.limiter = limiter
        self.defaults = defaults
        self.rules = lru_cache(maxsize=4096)(self._rules)

    def _rules(self, principal: Principal) -> tuple[Rule, ...]:
        user_subject = (
            f"{RATE_SUBJECT_USER}{principal.user_id}" if principal.user_id else principal.subject
        )
        key_subject = (
            f"{RATE_SUBJECT_KEY}{principal.key_id}" if principal.key_id is not None else None
        )
        return rules_for(
            user_subject, key_subject, principal.user_limits, principal.key_limits, self.defaults
        )

    def admit(self, principal: Principal) -> Ticket | None:
        """The request's ticket (None when no limit applies to it); 429 when over a limit."""
        rules = self.rules(principal)
        if not rules:
            return None
        ticket, decision = self.limiter.admit(rules)
        refusal = decision.refusal
        if refusal is not None:
            raise GatewayError(
                Kind.RATE_LIMITED,
                refusal_message(
                    refusal.what, refusal.limit, self.limiter.length, refusal.retry_after
                ),
                headers=decision.headers,
            )
        return ticket

    def release(self, ticket: Ticket | None) -> None:
        if ticket is not None:
            self.limiter.release(ticket)
