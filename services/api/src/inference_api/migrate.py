"""`inference-api-migrate`: upgrades DATABASE_URL's schema to head (Alembic).

The API upgrades at start-up in a child process (RUN_MIGRATIONS, on by default; see
`inference_common.migrate_child`); this script runs the same upgrade on its own.
"""

from __future__ import annotations

import os
import sys

from inference_common.migrate_child import upgrade_in_child_process

__all__ = ["main", "upgrade_in_child_process"]


def main() -> None:
    # Imported here, in the child process only: Alembic (and Mako) weigh ~10 MiB.
    from inference_common import migrate

    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        print("inference-api-migrate: DATABASE_URL is not set", file=sys.stderr)
        raise SystemExit(2)
    migrate.upgrade(database_url)


if __name__ == "__main__":
    main()
