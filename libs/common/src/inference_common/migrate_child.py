"""Schema upgrade at a service's start-up, in a child process: Alembic (and Mako) weigh
~10 MiB that the server's own memory never carries."""

from __future__ import annotations

import asyncio
import os
import sys


async def upgrade_in_child_process(database_url: str) -> None:
    """Runs `python -m inference_common.migrate` (upgrade to head); raises RuntimeError
    with its output on failure."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "inference_common.migrate",
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"database migration failed: {output.decode(errors='replace')[-4000:]}")
