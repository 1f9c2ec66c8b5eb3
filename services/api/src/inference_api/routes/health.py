"""GET /health: Postgres, MinIO and the Kubernetes API, each with a timeout; 503 with
Retry-After when one is down, its check saying how."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from inference_api.deps import StateDep
from inference_api.schemas import HealthOut
from inference_common.errors import UnavailableError

router = APIRouter(tags=["health"])


async def _check(check: Awaitable[object], limit: float) -> str:
    try:
        async with asyncio.timeout(limit):
            await check
    except TimeoutError:
        return "timeout"
    except Exception as exc:  # reported, not raised: health says what is down
        return f"error: {type(exc).__name__}"
    return "ok"


async def _postgres(state: StateDep) -> None:
    async with state.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def health(state: StateDep) -> JSONResponse:
    timeout = state.settings.health_timeout_seconds
    bucket = state.settings.models_bucket
    postgres, minio, kubernetes = await asyncio.gather(
        _check(_postgres(state), timeout),
        _check(asyncio.to_thread(state.s3.bucket_exists, bucket), timeout),
        _check(state.modelserves.version(), timeout),
    )
    checks = {"postgres": postgres, "minio": minio, "kubernetes": kubernetes}
    healthy = all(v == "ok" for v in checks.values())
    body = HealthOut(status="ok" if healthy else "degraded", checks=checks)
    if healthy:
        return JSONResponse(body.model_dump())
    retry = {"Retry-After": str(UnavailableError.retry_after)}
    return JSONResponse(body.model_dump(), status_code=503, headers=retry)
