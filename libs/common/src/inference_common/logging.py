"""Structured JSON logs, one line per record (`time`, `level`, `logger`, `message`, and
`request_id` when there is one), through the one setup every service calls."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
request_fields_var: ContextVar[dict[str, Any] | None] = ContextVar("request_fields", default=None)

# uvicorn's `color_message` repeats the message with terminal colours
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


def collecting_request_fields() -> bool:
    """True while serving a request whose access-log line will be written: the work of
    finding its fields can be skipped otherwise."""
    return request_fields_var.get() is not None


def request_fields() -> dict[str, Any]:
    """The current request's extra access-log fields (what the app learnt while serving
    it: the model, the replica, …); a throwaway dict outside a request."""
    fields = request_fields_var.get()
    return {} if fields is None else fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update(
            {
                k: v
                for k, v in record.__dict__.items()
                if k not in _STANDARD_ATTRS and not k.startswith("_")
            }
        )
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
