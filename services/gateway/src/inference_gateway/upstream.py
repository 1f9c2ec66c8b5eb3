"""Requests to llama.cpp replicas through one shared httpx.AsyncClient: picks a replica
(least outstanding requests), retries another when one cannot take the request, takes a
failing replica out and probes its /health until it is ready again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from inference_gateway.balancer import Balancer
from inference_gateway.errors import GatewayError, Kind

logger = logging.getLogger(__name__)

# llama.cpp answers 503 while loading; a proxy in front of it may answer 502/504.
_NOT_READY = frozenset({502, 503, 504})
MAX_ATTEMPTS = 3


@dataclass
class UpstreamCall:
    replica: str
    response: httpx.Response
    finished: bool = False


class Upstream:
    def __init__(
        self,
        client: httpx.AsyncClient,
        balancer: Balancer,
        present: Callable[[], set[str]],
        retry_after: int = 5,
        probe_min: float = 0.2,
        probe_max: float = 5.0,
    ) -> None:
        self.client = client
        self.balancer = balancer
        self.present = present  # replica URLs currently Ready in the catalog
        self.retry_after = retry_after
        self.probe_min = probe_min
        self.probe_max = probe_max
        self._probes: dict[str, asyncio.Task[None]] = {}

    async def open(
        self,
        replicas: Sequence[str],
        path: str,
        body: bytes,
        model: str,
    ) -> UpstreamCall:
        """Sends POST `path` to the best replica and returns once response headers arrived.
        The caller must `finish` the call."""
        tried: set[str] = set()
        for _ in range(MAX_ATTEMPTS):
            replica = self.balancer.pick(replicas, exclude=tried)
            if replica is None:
                break
            tried.add(replica)
            self.balancer.acquire(replica)
            request = self.client.build_request(
                "POST",
                replica + path,
                content=body,
                headers={"content-type": "application/json"},
            )
            try:
                response = await self._send(request)
            except httpx.TransportError as exc:
                logger.warning("replica %s failed: %r", replica, exc)
                self.balancer.release(replica)
                self.mark_failed(replica)
                continue
            except BaseException:
                self.balancer.release(replica)
                raise
            if response.status_code in _NOT_READY:
                await response.aclose()
                self.balancer.release(replica)
                self.mark_failed(replica)
                continue
            return UpstreamCall(replica, response)
        raise GatewayError(
            Kind.UNAVAILABLE,
            f"model {model!r} has no ready replica; retry later",
            retry_after=self.retry_after,
        )

    async def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self.client.send(request, stream=True)
        except httpx.RemoteProtocolError:
            # The replica closed a pooled keep-alive connection just as we reused it: it
            # never saw the request, so one attempt on a fresh connection is safe.
            return await self.client.send(request, stream=True)

    async def finish(self, call: UpstreamCall, failed: bool = False) -> None:
        """Closes the call and releases its replica; idempotent."""
        if call.finished:
            return
        call.finished = True
        try:
            await call.response.aclose()
        finally:
            self.balancer.release(call.replica)
            if failed:
                self.mark_failed(call.replica)

    async def get_json(self, replicas: Sequence[str], path: str) -> object | None:
        """GET a small JSON document (e.g. /props) from any admitted replica; None if none
        answers."""
        for replica in [r for r in replicas if r not in self.balancer.ejected][:MAX_ATTEMPTS]:
            try:
                response = await self.client.get(replica + path, timeout=5.0)
                if response.status_code == 200:
                    doc: object = response.json()
                    return doc
            except (httpx.HTTPError, ValueError):
                continue
        return None

    # --- taking replicas out and back in ---
    def mark_failed(self, replica: str) -> None:
        if self.balancer.eject(replica):
            logger.warning("replica %s taken out until ready again", replica)
        if replica not in self._probes or self._probes[replica].done():
            self._probes[replica] = asyncio.create_task(self._probe(replica))

    async def _probe(self, replica: str) -> None:
        delay = self.probe_min
        while replica in self.balancer.ejected:
            if replica not in self.present():
                self.balancer.readmit(replica)  # gone; a new Ready endpoint starts admitted
                return
            try:
                response = await self.client.get(replica + "/health", timeout=2.0)
                if response.status_code == 200:
                    self.balancer.readmit(replica)
                    logger.info("replica %s ready again", replica)
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(delay)  # back-off between health probes
            delay = min(delay * 2, self.probe_max)

    async def aclose(self) -> None:
        for task in self._probes.values():
            task.cancel()
        await asyncio.gather(*self._probes.values(), return_exceptions=True)
        self._probes.clear()
