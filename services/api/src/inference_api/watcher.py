"""Mirrors ModelServe status into the servers table through one informer.

Every ModelServe in every namespace is listed and watched (`inference_common.informer`);
each change is written to Postgres in order, on the event loop. A full list (at start and
when the watch expires) upserts what is listed and stops the records that are missing;
/status then reads Postgres only.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inference_api.mirror import mirrored_server
from inference_api.modelserve_client import ModelServeClient
from inference_api.repositories.servers import ServerRepository
from inference_common.db import unit_of_work
from inference_common.informer import Informer, Listed, custom_objects
from inference_common.modelserve import GROUP, PLURAL, VERSION

logger = logging.getLogger(__name__)

RELIST_GRACE = timedelta(seconds=30)  # records younger than this may not be listed yet


class ModelServeWatcher:
    def __init__(
        self, modelserves: ModelServeClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        self.sessions = sessions
        self.informer = Informer(
            custom_objects(modelserves.api, GROUP, VERSION, PLURAL),
            name="modelserves",
            on_event=self._changed,
            on_relist=self._listed,
        )
        self.synced = self.informer.synced

    def start(self) -> None:
        self.informer.start()

    async def stop(self) -> None:
        await self.informer.stop()

    async def _changed(self, kind: str, obj: dict[str, Any], _old: dict[str, Any] | None) -> None:
        mirrored = mirrored_server(obj, deleted=kind == "DELETED")
        if mirrored is None:
            return
        async with unit_of_work(self.sessions) as session:
            await ServerRepository(session).upsert_mirror(mirrored)

    async def _listed(self, listed: Listed) -> None:
        async with unit_of_work(self.sessions) as session:
            servers = ServerRepository(session)
            present: set[UUID] = set()
            for obj in listed.items:
                mirrored = mirrored_server(obj)
                if mirrored is not None:
                    present.add(mirrored.server_uuid)
                    await servers.upsert_mirror(mirrored)
            stopped = await servers.stop_missing(present, listed.started_at - RELIST_GRACE)
        logger.info("ModelServes listed", extra={"count": len(present), "stopped_missing": stopped})
