"""The alerts Alertmanager delivered to this API process, newest first, bounded.

Kept in memory: a second API replica has its own log, and a restart empties it; Alertmanager
itself remains the record of what fires."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime

from inference_api.schemas import AlertmanagerWebhook, AlertOut


class AlertLog:
    def __init__(self, size: int) -> None:
        self._alerts: deque[AlertOut] = deque(maxlen=size)

    def add(self, payload: AlertmanagerWebhook, now: datetime | None = None) -> int:
        received = now or datetime.now(UTC)
        for alert in payload.alerts:
            self._alerts.appendleft(
                AlertOut(
                    received_at=received,
                    status=alert.status,
                    name=alert.labels.get("alertname", ""),
                    labels=alert.labels,
                    annotations=alert.annotations,
                    starts_at=alert.startsAt,
                    ends_at=alert.endsAt,
                )
            )
        return len(payload.alerts)

    def recent(self, limit: int) -> list[AlertOut]:
        return list(self._alerts)[:limit]
