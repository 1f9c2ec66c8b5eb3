"""The UI's live figures from Prometheus, with fixed server-side PromQL (the browser picks a
window, never a query):

- `GET /metrics/overview?window=15m` (admins): the dashboard's key panels
  (`metrics_overview.py`).
- `GET /metrics/gpus` (any user, like `GET /nodes`): per node and card utilisation, memory,
  temperature and power from the DCGM series, joined to the nodes' cards (`gpu_metrics.py`).

404 when `PROMETHEUS_URL` is not set (nothing is down, metrics are not configured); 503 when
Prometheus does not answer within `PROMETHEUS_TIMEOUT_SECONDS`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Query

from inference_api.deps import AdminUser, CurrentUser, StateDep
from inference_api.gpu_metrics import QUERIES as GPU_QUERIES
from inference_api.gpu_metrics import NodeGpuMetricsOut, join_gpu_metrics
from inference_api.metrics_overview import OverviewOut, Window, plan, shape_overview
from inference_api.node_inventory import node_inventory
from inference_api.prometheus_http import PrometheusUnavailableError, instant_query, range_query
from inference_api.state import AppState
from inference_common.errors import NotFoundError, dependency_unavailable

router = APIRouter(prefix="/metrics", tags=["metrics"])


def _prometheus_url(state: AppState) -> str:
    url = state.settings.prometheus_url
    if not url:
        raise NotFoundError("metrics not configured: PROMETHEUS_URL is not set")
    return url.rstrip("/")


@router.get("/overview", response_model=OverviewOut)
async def overview(
    state: StateDep,
    _admin: AdminUser,
    window: Annotated[Window, Query(description="How far back the panels reach.")] = "15m",
) -> OverviewOut:
    url = _prometheus_url(state)
    chosen = plan(window, time.time())
    keys = list(chosen.queries)
    try:
        answers = await asyncio.gather(
            *(
                range_query(
                    state.prometheus, url, chosen.queries[k], chosen.start, chosen.end, chosen.step
                )
                for k in keys
            )
        )
    except PrometheusUnavailableError as exc:
        raise dependency_unavailable("prometheus") from exc
    return shape_overview(window, chosen, dict(zip(keys, answers, strict=True)))


@router.get("/gpus", response_model=list[NodeGpuMetricsOut])
async def gpu_metrics(state: StateDep, _user: CurrentUser) -> list[NodeGpuMetricsOut]:
    url = _prometheus_url(state)
    fields = list(GPU_QUERIES)
    try:
        objects, *answers = await asyncio.gather(
            state.serving.nodes.read_objects(),
            *(instant_query(state.prometheus, url, GPU_QUERIES[f]) for f in fields),
        )
    except PrometheusUnavailableError as exc:
        raise dependency_unavailable("prometheus") from exc
    nodes, pods = objects
    return join_gpu_metrics(node_inventory(nodes, pods), dict(zip(fields, answers, strict=True)))
