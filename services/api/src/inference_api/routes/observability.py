"""The platform's own alert receiver (Alertmanager's webhook) and the health score.

- `POST /alerts/webhook`: Alertmanager posts here with `Authorization: Bearer
  <ALERT_WEBHOOK_TOKEN>`; the token is checked from the headers before the body is read.
- `GET /alerts` (admins): the alerts received, newest first.
- `GET /health/score` (admins): the 0-100 score per server and for the platform
  (`health_score.py`), from Prometheus; 503 when Prometheus cannot answer.

Either feature is off (404) when its setting is missing: a 503 would say a dependency is
down, and nothing is.
"""

from __future__ import annotations

import hmac
import json

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError

from inference_api.deps import AdminUser, SessionDep, StateDep
from inference_api.health_score import Reason, ServerRecord, score_platform, with_records
from inference_api.prometheus_signals import PrometheusUnavailableError, read_signals
from inference_api.repositories.servers import ServerRepository
from inference_api.schemas import (
    AlertmanagerWebhook,
    AlertOut,
    HealthScoreOut,
    ReasonOut,
    ServerScoreOut,
)
from inference_common.errors import (
    NotFoundError,
    UnauthorizedError,
    UnprocessableError,
    dependency_unavailable,
)

router = APIRouter(tags=["observability"])


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@router.post("/alerts/webhook", status_code=200, include_in_schema=False)
async def receive_alerts(request: Request, state: StateDep) -> dict[str, int]:
    expected = state.settings.alert_webhook_token
    if expected is None or not expected.get_secret_value():
        raise NotFoundError("no alert receiver here: ALERT_WEBHOOK_TOKEN is not set")
    if not hmac.compare_digest(_bearer(request).encode(), expected.get_secret_value().encode()):
        raise UnauthorizedError("invalid alert webhook token")
    try:
        payload = AlertmanagerWebhook.model_validate(json.loads(await request.body()))
    except (ValueError, ValidationError) as exc:
        raise UnprocessableError("not an Alertmanager webhook payload", str(exc)[:500]) from exc
    return {"received": state.alerts.add(payload)}


@router.get("/alerts", response_model=list[AlertOut])
async def recent_alerts(
    state: StateDep, _admin: AdminUser, limit: int = Query(100, ge=1, le=1000)
) -> list[AlertOut]:
    return state.alerts.recent(limit)


def _reasons(reasons: list[Reason]) -> list[ReasonOut]:
    return [
        ReasonOut(signal=r.signal, penalty=round(r.penalty, 2), message=r.message) for r in reasons
    ]


@router.get("/health/score", response_model=HealthScoreOut)
async def health_score(state: StateDep, session: SessionDep, _admin: AdminUser) -> HealthScoreOut:
    url = state.settings.prometheus_url
    if not url:
        raise NotFoundError("no health score here: PROMETHEUS_URL is not set")
    try:
        scraped = await read_signals(state.prometheus, url.rstrip("/"))
    except PrometheusUnavailableError as exc:
        raise dependency_unavailable("prometheus") from exc
    rows = await ServerRepository(session).running_replicas()
    records = [ServerRecord(str(u), model, replicas, ready) for u, model, replicas, ready in rows]
    platform = score_platform(with_records(scraped, records), state.settings.ttft_target_seconds)
    return HealthScoreOut(
        score=platform.score,
        reasons=_reasons(platform.reasons),
        servers=[
            ServerScoreOut(
                server_uuid=s.server_uuid, model=s.model, score=s.score, reasons=_reasons(s.reasons)
            )
            for s in platform.servers
        ],
    )
