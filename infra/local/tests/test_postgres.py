"""Postgres is real: Alembic migrates a fresh database up and down, and SQLAlchemy async
over asyncpg round-trips a row."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from inference_common import migrate
from inference_common.auth import hash_password, verify_password
from inference_common.tables import User
from inference_testkit.database import create_database_async, drop_database_async, table_names

SCHEMA_TABLES = {"users", "api_keys", "models", "servers"}


async def test_alembic_upgrade_and_downgrade_on_a_fresh_database(
    stack_env: dict[str, str],
) -> None:
    url = await create_database_async(
        stack_env["DATABASE_URL"], f"mig_{secrets.token_hex(4)}", migrate_schema=False
    )
    try:
        assert await table_names(url) == set()
        migrate.upgrade(url)
        assert await table_names(url) >= SCHEMA_TABLES
        migrate.downgrade(url, "base")
        assert await table_names(url) == {"alembic_version"}
        migrate.upgrade(url)
        assert await table_names(url) >= SCHEMA_TABLES
    finally:
        await drop_database_async(url)


async def test_round_trip_through_sqlalchemy_async(db_session: AsyncSession) -> None:
    user = User(
        username=f"u-{secrets.token_hex(3)}", password_hash=hash_password("pw-1"), role="user"
    )
    db_session.add(user)
    await db_session.flush()
    db_session.expunge_all()
    loaded = (await db_session.execute(select(User).where(User.id == user.id))).scalar_one()
    assert loaded.username == user.username
    assert loaded.created_at is not None
    assert verify_password(loaded.password_hash, "pw-1")
    assert not verify_password(loaded.password_hash, "pw-2")
