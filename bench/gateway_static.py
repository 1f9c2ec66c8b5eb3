"""Runs the gateway (uvicorn, 127.0.0.1) with a fixed route instead of Kubernetes watches:
`python bench/gateway_static.py PORT MODEL UPSTREAM_HOST UPSTREAM_PORT [DATABASE_URL]`. For
the benchmark only (it allows anonymous access and a loopback upstream). With a database the
rate limits run (unless GATEWAY_RATE_LIMITS=false), their counters synced through it; the
anonymous caller gets the RATE_LIMIT_* defaults of the environment. GATEWAY_METRICS and
LOG_LEVEL (default WARNING; INFO writes the access log as the service does) apply too."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from inference_common.logging import configure_logging
from inference_gateway.app import create_app
from inference_gateway.catalog import Endpoint, ServeInfo, SliceInfo
from inference_gateway.settings import GatewaySettings


def main() -> None:
    port, model, up_host, up_port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    database_url = sys.argv[5] if len(sys.argv) > 5 else ""
    settings = GatewaySettings(
        dev_mode=True,
        GATEWAY_ALLOW_ANONYMOUS=True,
        database_url=database_url,
        log_level=os.environ.get("LOG_LEVEL", "WARNING"),
    )
    configure_logging(settings.log_level)
    app: FastAPI = create_app(settings, watch=False)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            gateway = app.state.gateway
            gateway.catalog.put_serve(ServeInfo("bench", "bench", model, (), 1))
            gateway.catalog.put_slice(
                SliceInfo("bench", "s", "bench", frozenset({Endpoint(up_host, up_port)}))
            )
            yield

    app.router.lifespan_context = lifespan

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(port),
        log_config=None,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
