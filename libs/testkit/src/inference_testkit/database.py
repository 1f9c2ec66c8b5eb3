"""Throwaway databases for tests: created next to the stack's database, migrated once.
Each operation has an async form (for async tests) and a sync one (for fixtures)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from sqlalchemy import delete, inspect
from sqlalchemy.engine import Inspector, make_url
from sqlalchemy.pool import NullPool

from inference_common import migrate
from inference_common.db import make_engine
from inference_common.tables import Model

T = TypeVar("T")


async def _admin_execute(base_url: str, statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    url = make_url(base_url)
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def create_database_async(base_url: str, name: str, migrate_schema: bool = True) -> str:
    """Creates database `name` beside the one in base_url; returns its URL."""
    await _admin_execute(base_url, f'CREATE DATABASE "{name}"')
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    if migrate_schema:
        migrate.upgrade(url)
    return url


async def drop_database_async(url: str) -> None:
    parsed = make_url(url)
    admin = parsed.set(database="postgres").render_as_string(hide_password=False)
    await _admin_execute(admin, f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


def create_database(base_url: str, name: str, migrate_schema: bool = True) -> str:
    return asyncio.run(create_database_async(base_url, name, migrate_schema))


def drop_database(url: str) -> None:
    asyncio.run(drop_database_async(url))


async def _inspected(url: str, look: Callable[[Inspector], T]) -> T:
    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: look(inspect(sync)))
    finally:
        await engine.dispose()


async def table_names(url: str) -> set[str]:
    return await _inspected(url, lambda found: set(found.get_table_names()))


async def column_names(url: str, table: str) -> set[str]:
    return await _inspected(
        url, lambda inspector: {c["name"] for c in inspector.get_columns(table)}
    )


async def forget_model_async(url: str, model_uuid: UUID) -> None:
    """Deletes a model's registry row (not its object): the same bytes can then be
    registered again by a later test or benchmark round in the same database."""
    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(delete(Model).where(Model.uuid == model_uuid))
    finally:
        await engine.dispose()


def forget_model(url: str, model_uuid: UUID) -> None:
    asyncio.run(forget_model_async(url, model_uuid))
