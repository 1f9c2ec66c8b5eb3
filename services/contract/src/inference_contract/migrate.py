"""Schema upgrade at start-up in a child process (Alembic's imports stay out of the server)."""

from __future__ import annotations

import asyncio
import os
import sys


def main() -> None:
    from inference_common import migrate

    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        print("inference-contract migrate: DATABASE_URL is not set", file=sys.stderr)
        raise SystemExit(2)
    migrate.upgrade(database_url)


async def upgrade_in_child_process(database_url: str) -> None:
    """Runs `main()` in a fresh interpreter; raises RuntimeError with its output on failure."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "inference_contract.migrate",
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"database migration failed: {output.decode(errors='replace')[-4000:]}")


if __name__ == "__main__":
    main()
