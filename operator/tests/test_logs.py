"""kopf's per-object log context becomes flat JSON fields."""

from __future__ import annotations

import json
import logging

from inference_common.logging import JsonFormatter
from modelserve_operator.logs import KopfContextFilter


def test_kopf_context_is_flattened() -> None:
    record = logging.makeLogRecord(
        {
            "msg": "Handler failed",
            "levelname": "ERROR",
            "settings": object(),
            "k8s_skip": False,
            "k8s_ref": {"kind": "ModelServe", "name": "sm", "namespace": "ns", "uid": "u1"},
        }
    )
    assert KopfContextFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["kind"] == "ModelServe"
    assert entry["object"] == "sm"
    assert entry["namespace"] == "ns"
    assert entry["uid"] == "u1"
    assert "settings" not in entry
    assert "k8s_ref" not in entry
