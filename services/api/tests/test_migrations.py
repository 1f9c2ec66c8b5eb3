"""The shared schema's migrations go up to head, down to base and up again."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from inference_common import migrate
from inference_common.db import make_engine
from inference_common.schema_upgrade import upgrade_in_child_process
from inference_testkit.database import (
    column_names,
    create_database,
    drop_database,
    table_names,
)

TABLES = {"users", "api_keys", "models", "servers"}
RATE_TABLES = {"rate_counters", "rate_leases"}
RATE_COLUMNS = {"requests_per_minute", "tokens_per_minute", "concurrent_requests"}


def test_upgrade_downgrade_upgrade(stack_env: dict[str, str]) -> None:
    url = create_database(
        stack_env["DATABASE_URL"], f"test_mig_{secrets.token_hex(4)}", migrate_schema=False
    )
    try:
        migrate.upgrade(url)
        assert asyncio.run(table_names(url)) >= TABLES
        assert "reasons" in asyncio.run(column_names(url, "servers"))
        assert {"disabled_at", "password_changed_at"} <= asyncio.run(column_names(url, "users"))
        assert {"expires_at", "last_used_at"} <= asyncio.run(column_names(url, "api_keys"))
        assert asyncio.run(table_names(url)) >= RATE_TABLES
        assert asyncio.run(column_names(url, "api_keys")) >= RATE_COLUMNS
        assert asyncio.run(column_names(url, "user_contracts")) >= RATE_COLUMNS
        migrate.downgrade(url, "0006")
        assert asyncio.run(table_names(url)) & RATE_TABLES == set()
        assert RATE_COLUMNS & asyncio.run(column_names(url, "api_keys")) == set()
        migrate.downgrade(url, "0002")
        assert "disabled_at" not in asyncio.run(column_names(url, "users"))
        assert "expires_at" not in asyncio.run(column_names(url, "api_keys"))
        migrate.downgrade(url, "0001")
        assert "reasons" not in asyncio.run(column_names(url, "servers"))
        migrate.downgrade(url, "base")
        assert asyncio.run(table_names(url)) & TABLES == set()
        migrate.upgrade(url)
        assert asyncio.run(table_names(url)) >= TABLES
    finally:
        drop_database(url)


async def test_start_up_migration_runs_in_a_child_process(stack_env: dict[str, str]) -> None:
    url = await asyncio.to_thread(
        create_database,
        stack_env["DATABASE_URL"],
        f"test_mig_{secrets.token_hex(4)}",
        migrate_schema=False,
    )
    try:
        await upgrade_in_child_process(url)
        assert await table_names(url) >= TABLES
        with pytest.raises(RuntimeError, match="database migration failed"):
            await upgrade_in_child_process(url.replace(url.rsplit("/", 1)[1], "no_such_db"))
    finally:
        await asyncio.to_thread(drop_database, url)


INSERT_MODEL = text(
    "INSERT INTO models (uuid, name, object_key, size_bytes, sha256, gguf_metadata, source, "
    "state) VALUES (gen_random_uuid(), :name, :key, 1, :sha256, '{}', "
    "'upload', 'ready')"
)


async def _sql(url: str, statement: Any, **params: str) -> list[Any]:
    engine = make_engine(url, poolclass=NullPool)
    async with engine.begin() as connection:
        result = await connection.execute(statement, params)
        rows = list(result) if result.returns_rows else []
    await engine.dispose()
    return rows


def _register(url: str, name: str) -> None:
    """A model row as a pre-0009 insert makes it (no visibility given)."""
    asyncio.run(_sql(url, INSERT_MODEL, name=name, key=f"k-{name}", sha256=secrets.token_hex(32)))


def _access(url: str) -> list[tuple[str, str, list[str]]]:
    rows = asyncio.run(
        _sql(url, text("SELECT name, visibility, shared_with FROM models ORDER BY name"))
    )
    return [(r.name, r.visibility, list(r.shared_with)) for r in rows]


def test_0009_existing_models_become_public_new_ones_private(stack_env: dict[str, str]) -> None:
    url = create_database(
        stack_env["DATABASE_URL"], f"test_mig_{secrets.token_hex(4)}", migrate_schema=False
    )
    try:
        migrate.upgrade(url, "0008")
        _register(url, "before")
        migrate.upgrade(url)
        _register(url, "after")
        assert _access(url) == [
            ("after", "private", []),
            ("before", "public", []),
        ]
        assert {"max_threads", "max_batch_size"} <= asyncio.run(column_names(url, "user_contracts"))
        assert "aliases" in asyncio.run(column_names(url, "reservations"))
        migrate.downgrade(url, "0008")
        assert "visibility" not in asyncio.run(column_names(url, "models"))
        assert "max_threads" not in asyncio.run(column_names(url, "namespace_contracts"))
    finally:
        drop_database(url)
