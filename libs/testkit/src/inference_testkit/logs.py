"""Reading a service's output as the platform's JSON log lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIELDS = frozenset({"time", "level", "logger", "message"})


def json_log(path: Path) -> list[dict[str, Any]]:
    """Every line of `path` parsed as one JSON log entry with the platform's fields; an
    AssertionError naming the first line that is not one."""
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            entry = json.loads(line)
        except ValueError:
            raise AssertionError(f"{path}:{number} is not JSON: {line!r}") from None
        if not isinstance(entry, dict) or not entry.keys() >= FIELDS:
            raise AssertionError(f"{path}:{number} lacks {sorted(FIELDS)}: {line!r}")
        entries.append(entry)
    return entries
