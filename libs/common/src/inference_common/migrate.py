"""Alembic migrations of the shared schema, callable from code (tests, start-up, CLI)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def main() -> None:
    """`migrate [revision]`: upgrade DATABASE_URL to head (or the given revision)."""
    import os
    import sys

    upgrade(os.environ["DATABASE_URL"], sys.argv[1] if len(sys.argv) > 1 else "head")


if __name__ == "__main__":
    main()
