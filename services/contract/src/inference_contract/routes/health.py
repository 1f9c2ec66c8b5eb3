"""GET /health: Postgres and the ModelServe reconcile, each reported."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from inference_contract.deps import StateDep
from inference_contract.schemas import HealthOut
from inference_contract.state import AppState

router = APIRouter(tags=["health"])


async def _postgres(state: AppState) -> str:
    try:
        async with asyncio.timeout(state.settings.health_timeout_seconds):
            async with state.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except TimeoutError:
        return "timeout"
    except Exception as exc:  # reported, not raised: health says what is down
        return f"error: {type(exc).__name__}"
    return "ok"


def _reconcile(state: AppState) -> str:
    if state.reconciler is None:
        return "off"
    return "ok" if state.reconciler.synced.is_set() else "syncing"


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def health(state: StateDep) -> JSONResponse:
    checks = {"postgres": await _postgres(state), "reconcile": _reconcile(state)}
    healthy = checks["postgres"] == "ok" and checks["reconcile"] in ("ok", "off")
    body = HealthOut(status="ok" if healthy else "degraded", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)
