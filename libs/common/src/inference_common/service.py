"""How every service process starts: settings from the environment (a clean exit 2 naming
the bad setting), logging, then its app on one or more uvicorn listeners. Needs the `web` extra."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from inference_common.settings import SettingsError

S = TypeVar("S", bound=BaseSettings)


def load_settings(program: str, settings_type: type[S]) -> S:
    """The settings, or exit 2 with the configuration error on stderr (no traceback)."""
    try:
        return settings_type()
    except (SettingsError, ValidationError) as exc:
        print(f"{program}: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def listener(app: FastAPI, host: str, port: int, **options: Any) -> uvicorn.Config:
    """A uvicorn listener as every service runs it: our logging instead of uvicorn's, no
    access log, no X-Forwarded-* rewriting (unless `options` say otherwise), 10 s to drain."""
    settings: dict[str, Any] = {
        "log_config": None,
        "access_log": False,
        "proxy_headers": False,
        "timeout_graceful_shutdown": 10,
    }
    return uvicorn.Config(app, host=host, port=port, **(settings | options))


def run(listeners: Sequence[uvicorn.Config]) -> None:
    """Serves every listener in one event loop until a signal stops them."""

    async def serve_all() -> None:
        await asyncio.gather(*(uvicorn.Server(config).serve() for config in listeners))

    with asyncio.Runner(loop_factory=listeners[0].get_loop_factory()) as runner:
        runner.run(serve_all())
