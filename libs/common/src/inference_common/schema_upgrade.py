"""Schema upgrade to head in a child process, so Alembic's imports (and Mako's, ~10 MiB)
never weigh on a server's memory. `python -m inference_common.schema_upgrade` is the child."""

from __future__ import annotations

import asyncio
import os
import sys


def main(program: str = "inference-migrate") -> None:
    """Upgrades DATABASE_URL's schema to head; exit 2 when it is not set."""
    from inference_common import migrate

    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        print(f"{program}: DATABASE_URL is not set", file=sys.stderr)
        raise SystemExit(2)
    migrate.upgrade(database_url)


async def upgrade_in_child_process(database_url: str) -> None:
    """Runs `main()` in a fresh interpreter; raises RuntimeError with its output on failure."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        __name__,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"database migration failed: {output.decode(errors='replace')[-4000:]}")


if __name__ == "__main__":
    main()
