"""An error no handler catches: a real failed connection to Postgres (a closed loopback port)
is an outage, answered 503 naming the database with Retry-After in the shape of the API the
path belongs to; any other error stays the platform's 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from inference_common.db import make_engine
from inference_gateway.app import create_app
from inference_gateway.settings import GatewaySettings
from inference_testkit.servers import free_port

UNAVAILABLE = "database unavailable"


async def _query_closed_port() -> None:
    engine = make_engine(
        f"postgresql+asyncpg://nobody:x@127.0.0.1:{free_port()}/none", poolclass=NullPool
    )
    try:
        async with engine.connect() as connection:
            await connection.execute(text("select 1"))
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def app() -> FastAPI:
    app = create_app(GatewaySettings(dev_mode=True, database_url=""), watch=False)
    for path in ("/v1/probe", "/v1/messages/probe", "/api/probe", "/probe"):
        app.add_api_route(path, _query_closed_port)

    def broken() -> None:  # FastAPI runs it in a worker thread
        Path("/nonexistent/file").read_text()

    app.add_api_route("/v1/broken", broken)
    return app


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v1/probe",
            {
                "error": {
                    "message": UNAVAILABLE,
                    "type": "server_error",
                    "param": None,
                    "code": "service_unavailable",
                }
            },
        ),
        (
            "/v1/messages/probe",
            {"type": "error", "error": {"type": "overloaded_error", "message": UNAVAILABLE}},
        ),
        ("/api/probe", {"error": UNAVAILABLE}),
        (
            "/probe",
            {
                "error": {
                    "type": "unavailable",
                    "message": UNAVAILABLE,
                    "detail": {"dependency": "database"},
                }
            },
        ),
    ],
)
async def test_database_outage_in_each_api_shape(
    app: FastAPI, path: str, body: dict[str, Any]
) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        response = await client.get(path)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.json() == body


async def test_an_error_that_is_no_outage_stays_a_500(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        response = await client.get("/v1/broken")
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "internal_error"
