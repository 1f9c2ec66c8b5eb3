"""Reservations follow the cluster: every ModelServe listed or watched (the shared
informer) is counted, a reservation whose ModelServe is gone is released.

A full list (at start, and when the watch expires) releases the reservations of servers
not listed, unless younger than the grace period (the API reserves before it creates).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from kubernetes import client
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inference_common.db import unit_of_work
from inference_common.informer import Informer, Listed, custom_objects
from inference_common.modelserve import GROUP, PLURAL, VERSION, ModelServeSpec, server_uuid_of
from inference_contract.facts import ServerRequest, server_request
from inference_contract.repository import ContractRepository, Held

logger = logging.getLogger(__name__)


def observed(
    obj: Mapping[str, Any], product_memory: Mapping[str, int], default_gib: int
) -> tuple[ServerRequest, str | None] | None:
    """A ModelServe as what it holds and its server uuid; None when its spec is invalid."""
    metadata = obj.get("metadata") or {}
    try:
        spec = ModelServeSpec.model_validate(obj.get("spec") or {})
    except ValidationError:
        return None
    try:
        server_uuid: str | None = server_uuid_of(metadata)
    except ValueError:
        server_uuid = None
    request = server_request(
        str(metadata.get("namespace", "")),
        str(metadata.get("name", "")),
        spec,
        product_memory,
        default_gib,
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

    def start(self) -> None:
        self.informer.start()

    async def stop(self) -> None:
        await self.informer.stop()

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
        present: set[tuple[str, str]] = set()
        async with unit_of_work(self.sessions) as session:
            repo = ContractRepository(session)
            for obj in listed.items:
                seen = self._observed(obj)
                if seen is None:
                    continue
                request, server_uuid = seen
                present.add((request.namespace, request.name))
                await repo.observe(request, server_uuid)
            released = await repo.release_missing(present, listed.started_at - self.grace)
        logger.info("ModelServes reconciled", extra={"count": len(present), "released": released})
