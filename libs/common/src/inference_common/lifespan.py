"""The one lifespan shape of the services: build the state, start its background work, put
it on `app.state.services`, and close it on the way out, whether start-up failed or not."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypeVar

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from inference_common.db import make_engine, make_sessionmaker
from inference_common.schema_upgrade import upgrade_in_child_process

T = TypeVar("T")


def freeze_startup_objects() -> None:
    """For a server process, which runs one app for its lifetime: the start-up objects
    (modules, routes, schemas: most of the heap) are kept for good, out of the collector's
    way, so a full collection no longer walks them (it cost a ~100 ms pause mid-request)."""
    gc.collect()
    gc.freeze()


async def open_database(
    database_url: str, *, migrate: bool, pool_size: int
) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    """The engine (`pool_size` connections, as many again on overflow) and its sessions;
    first, when `migrate`, the schema upgraded to head in a child process."""
    if migrate:
        await upgrade_in_child_process(database_url)
    engine = make_engine(database_url, pool_size=pool_size, max_overflow=pool_size)
    return engine, make_sessionmaker(engine)


async def _nothing(_: object) -> None:
    return None


def services_lifespan(
    build: Callable[[], Awaitable[T]],
    close: Callable[[T], Awaitable[None]],
    *,
    start: Callable[[T], Awaitable[None]] = _nothing,
    freeze_gc: bool = False,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """`build()` the state; `start(state)` then publish it as `app.state.services`;
    `close(state)` at shutdown, and also when `start` fails."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await build()
        try:
            await start(state)
            app.state.services = state
            if freeze_gc:
                freeze_startup_objects()
            yield
        finally:
            await close(state)

    return lifespan
