"""Rate limit counters shared by the gateway replicas, in Postgres (already there; no new
store to run). Every `interval` seconds each replica, in one transaction: adds its unflushed
counts to `rate_counters` (one batched upsert), reads back every subject's totals of the
current window, renews its `rate_leases` (requests in flight per subject, valid for a few
intervals so a replica that died drops out) and reads the other replicas' in-flight sums.
The request path never waits for any of it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inference_common.tables import RateCounter, RateLease
from inference_gateway.ratelimit import Limiter

logger = logging.getLogger(__name__)

LEASE_INTERVALS = 5
KEEP_WINDOWS = 2


class RateStore:
    def __init__(
        self,
        limiter: Limiter,
        sessions: async_sessionmaker[AsyncSession],
        interval: float,
        replica: str | None = None,
    ) -> None:
        self.limiter = limiter
        self.sessions = sessions
        self.interval = interval
        self.replica = replica or uuid.uuid4().hex
        self._task: asyncio.Task[None] | None = None
        self._swept: int | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await self.sync(final=True)
        except (SQLAlchemyError, OSError):
            logger.warning("could not flush rate limit counters", exc_info=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.sync()
            except (SQLAlchemyError, OSError):
                logger.warning("could not sync rate limit counters", exc_info=True)
            await asyncio.sleep(self.interval)

    async def sync(self, final: bool = False) -> None:
        """One exchange with Postgres; a failed one leaves its counts pending for the next."""
        window, batch = self.limiter.take_pending()
        try:
            await self._exchange(window, batch, final)
        except BaseException:
            self.limiter.restore(window, batch)
            raise

    async def _exchange(self, window: int, batch: list[tuple[str, int, int]], final: bool) -> None:
        in_flight = {} if final else self.limiter.in_flight()
        expires = datetime.now(UTC) + timedelta(seconds=self.interval * LEASE_INTERVALS)
        async with self.sessions.begin() as session:
            if batch:
                rows = [
                    {"subject": s, "window": window, "requests": r, "tokens": t}
                    for s, r, t in sorted(batch)
                ]
                statement = insert(RateCounter).values(rows)
                await session.execute(
                    statement.on_conflict_do_update(
                        index_elements=[RateCounter.subject, RateCounter.window],
                        set_={
                            "requests": RateCounter.requests + statement.excluded.requests,
                            "tokens": RateCounter.tokens + statement.excluded.tokens,
                        },
                    )
                )
            if final:
                await session.execute(delete(RateLease).where(RateLease.replica == self.replica))
                return
            totals = (
                await session.execute(
                    select(RateCounter.subject, RateCounter.requests, RateCounter.tokens).where(
                        RateCounter.window == window
                    )
                )
            ).all()
            await self._lease(session, in_flight, expires)
            others = (
                await session.execute(
                    select(RateLease.subject, func.sum(RateLease.in_flight))
                    .where(RateLease.replica != self.replica, RateLease.expires_at > func.now())
                    .group_by(RateLease.subject)
                )
            ).all()
            if self._swept != window:
                self._swept = window
                await session.execute(
                    delete(RateCounter).where(RateCounter.window < window - KEEP_WINDOWS)
                )
                await session.execute(delete(RateLease).where(RateLease.expires_at < func.now()))
        self.limiter.apply_totals(window, [(s, int(r), int(t)) for s, r, t in totals])
        self.limiter.apply_others_in_flight({s: int(n) for s, n in others})

    async def _lease(
        self, session: AsyncSession, in_flight: dict[str, int], expires: datetime
    ) -> None:
        """This replica's in-flight counts replace its previous ones."""
        await session.execute(delete(RateLease).where(RateLease.replica == self.replica))
        if in_flight:
            await session.execute(
                insert(RateLease).values(
                    [
                        {
                            "replica": self.replica,
                            "subject": s,
                            "in_flight": n,
                            "expires_at": expires,
                        }
                        for s, n in sorted(in_flight.items())
                    ]
                )
            )
