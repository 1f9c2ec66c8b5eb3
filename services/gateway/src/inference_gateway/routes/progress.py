"""GET /api/progress/{request_id}: tokens so far, elapsed time and state of a request."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from inference_gateway.deps import GatewayDep, PrincipalDep
from inference_gateway.errors import GatewayError, Kind

router = APIRouter(tags=["gateway"])


@router.get("/api/progress/{request_id}")
async def get_progress(request_id: str, gw: GatewayDep, principal: PrincipalDep) -> dict[str, Any]:
    progress = gw.tracker.get(request_id)
    # Other callers' requests are reported as unknown, not as forbidden.
    if progress is None or progress.owner != principal.subject:
        raise GatewayError(Kind.NOT_FOUND, f"request {request_id!r} not found")
    return progress.snapshot()
