"""`inference-api-migrate`: upgrades DATABASE_URL's schema to head (Alembic).

The services run the same upgrade in a child process at start-up (RUN_MIGRATIONS, on by
default; see `inference_common.schema_upgrade`); this runs it on its own.
"""

from __future__ import annotations

from inference_common import schema_upgrade


def main() -> None:
    schema_upgrade.main("inference-api-migrate")


if __name__ == "__main__":
    main()
