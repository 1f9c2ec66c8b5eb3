"""Reservations follow the cluster: every ModelServe listed or watched (the shared
informer) is counted, a reservation whose ModelServe is gone is released.

A full list (at start, and when the watch expires) releases the reservations of servers
not listed, unless younger than the grace period (the API reserves before it creates); so
does a sweep against the informer's cache every grace period, for reservations whose
ModelServe never came (a create refused after admission, an API create that failed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inference_common.db import unit_of_work
from inference_common.informer import Informer, Listed, custom_objects
from inference_common.modelserve import GROUP, PLURAL, VERSION, ModelServeSpec
from inference_contract.facts import ServerRequest, aliases_of, server_request
from inference_contract.repository import ContractRepository, Held

logger = logging.getLogger(__name__)

MIN_SWEEP_SECONDS = 5.0


def observed(
    obj: Mapping[str, Any], product_memory: Mapping[str, int], default_gib: int
) -> tuple[ServerRequest, str | None] | None:
    """A ModelServe as what it holds and its server uuid; None when its spec is invalid."""
    metadata = obj.get("metadata") or {}
    try:
        spec = ModelServeSpec.model_validate(obj.get("spec") or {})
    except ValidationError:
        return None
    # The operator writes status.serverUuid only after checking the API's signature; the
    # label alone can be copied from another server, so an unsigned object counts by its uid.
    status_uuid = (obj.get("status") or {}).get("serverUuid")
    uid = metadata.get("uid")
    server_uuid = str(status_uuid) if status_uuid else (str(uid) if uid else None)
    request = server_request(
        str(metadata.get("namespace", "")),
        str(metadata.get("name", "")),
        spec,
        product_memory,
        default_gib,
        aliases_of(metadata.get("annotations")),
    )
    return request, server_uuid


class Reconciler:
    def __init__(
        self,
        api: client.ApiClient,
        sessions: async_sessionmaker[AsyncSession],
        product_memory: Mapping[str, int],
        default_gib: int,
        grace: timedelta,
    ) -> None:
        self.sessions = sessions
        self.product_memory = product_memory
        self.default_gib = default_gib
        self.grace = grace
        self.informer = Informer(
            custom_objects(api, GROUP, VERSION, PLURAL),
            name="contract-modelserves",
            on_event=self._changed,
            on_relist=self._listed,
        )
        self.synced = self.informer.synced
        self._sweeper: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.informer.start()
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="contract-sweep")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.informer.stop()

    async def _sweep_forever(self) -> None:
        await self.synced.wait()
        interval = max(self.grace.total_seconds(), MIN_SWEEP_SECONDS)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:  # the next sweep tries again
                logger.exception("reservation sweep failed")

    async def sweep(self) -> int:
        """Releases reservations older than the grace period whose ModelServe the informer
        does not hold."""
        held_in_cache = self.informer.cache.keys()  # a Cache, not a dict: no iteration
        present = {tuple(key.split("/", 1)) for key in held_in_cache}
        async with unit_of_work(self.sessions) as session:
            released = await ContractRepository(session).release_missing(
                present, datetime.now(UTC) - self.grace
            )
        if released:
            logger.info("reservations without a ModelServe released", extra={"count": released})
        return released

    def _observed(self, obj: Mapping[str, Any]) -> tuple[ServerRequest, str | None] | None:
        return observed(obj, self.product_memory, self.default_gib)

    async def _changed(self, kind: str, obj: dict[str, Any], _old: dict[str, Any] | None) -> None:
        seen = self._observed(obj)
        if seen is None:
            return
        request, server_uuid = seen
        async with unit_of_work(self.sessions) as session:
            repo = ContractRepository(session)
            if kind == "DELETED":
                await repo.release_deleted(Held(request.namespace, request.name), server_uuid)
            else:
                await repo.observe(request, server_uuid)

    async def _listed(self, listed: Listed) -> None:
        present: set[tuple[str, ...]] = set()
        async with unit_of_work(self.sessions) as session:
            repo = ContractRepository(session)
            for obj in listed.items:
                seen = self._observed(obj)
                if seen is None:
                    continue
                request, server_uuid = seen
                present.add((request.namespace, request.name))
                try:
                    async with session.begin_nested():  # one bad object never spoils the list
                        await repo.observe(request, server_uuid)
                except SQLAlchemyError:
                    logger.warning(
                        "a ModelServe could not be counted",
                        extra={"namespace": request.namespace, "name": request.name},
                        exc_info=True,
                    )
            released = await repo.release_missing(present, listed.started_at - self.grace)
        logger.info("ModelServes reconciled", extra={"count": len(present), "released": released})
