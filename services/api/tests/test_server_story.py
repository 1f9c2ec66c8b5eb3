"""Which events and pods belong to a server (pure; table-driven)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes.client import (
    CoreV1Event,
    CoreV1EventSeries,
    V1EventSource,
    V1ObjectMeta,
    V1ObjectReference,
)

from inference_api.server_story import pick_pod, pod_name_pattern, server_events, to_event

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("pod", "matches"),
    [
        ("llama-7d9f8c6b5-x2k4q", True),
        ("llama-2-7d9f8c6b5-x2k4q", False),
        ("llama-7d9f8c6b5", False),
        ("llamas-7d9f8c6b5-x2k4q", False),
        ("other-7d9f8c6b5-x2k4q", False),
    ],
)
def test_pod_name_pattern(pod: str, matches: bool) -> None:
    assert bool(pod_name_pattern("llama").match(pod)) is matches


def pod(name: str, running: bool, minute: int) -> dict[str, Any]:
    return {"name": name, "running": running, "created": T0.replace(minute=minute)}


@pytest.mark.parametrize(
    ("pods", "wanted", "expected"),
    [
        ([], None, None),
        ([pod("a", False, 1), pod("b", True, 0)], None, "b"),
        ([pod("a", True, 1), pod("b", True, 2)], None, "b"),
        ([pod("a", False, 1), pod("b", False, 2)], None, "b"),
        ([pod("a", True, 1), pod("b", True, 2)], "a", "a"),
        ([pod("a", True, 1)], "elsewhere", None),
    ],
)
def test_pick_pod(pods: list[dict[str, Any]], wanted: str | None, expected: str | None) -> None:
    assert pick_pod(pods, wanted) == expected


def event(kind: str, name: str, reason: str, minute: int) -> CoreV1Event:
    return CoreV1Event(
        metadata=V1ObjectMeta(name=f"{name}.{minute}"),
        involved_object=V1ObjectReference(kind=kind, name=name),
        type="Normal",
        reason=reason,
        message=reason.lower(),
        count=2,
        first_timestamp=T0,
        last_timestamp=T0.replace(minute=minute),
        source=V1EventSource(component="kubelet"),
    )


def test_server_events_keep_its_own_newest_first() -> None:
    items = [
        event("ModelServe", "llama", "Ready", 3),
        event("Pod", "llama-7d9f8c6b5-x2k4q", "Started", 5),
        event("Pod", "llama-2-7d9f8c6b5-x2k4q", "Started", 9),
        event("ModelServe", "llama-2", "Ready", 8),
        event("Deployment", "llama", "ScalingReplicaSet", 7),
    ]
    found = server_events(items, "llama")
    assert [(e.object_kind, e.reason) for e in found] == [
        ("Pod", "Started"),
        ("ModelServe", "Ready"),
    ]
    assert found[0].to_json() == {
        "type": "Normal",
        "reason": "Started",
        "message": "started",
        "object": {"kind": "Pod", "name": "llama-7d9f8c6b5-x2k4q"},
        "count": 2,
        "first_seen": "2026-01-01T00:00:00+00:00",
        "last_seen": "2026-01-01T00:05:00+00:00",
        "source": "kubelet",
    }


def test_a_scheduler_event_counts_by_its_series() -> None:
    scheduled = CoreV1Event(
        metadata=V1ObjectMeta(name="llama-x.1", creation_timestamp=T0),
        involved_object=V1ObjectReference(kind="Pod", name="llama-7d9f8c6b5-x2k4q"),
        type="Warning",
        reason="FailedScheduling",
        message="0/3 nodes are available",
        event_time=T0,
        series=CoreV1EventSeries(count=4, last_observed_time=T0.replace(minute=9)),
        reporting_component="default-scheduler",
    )
    event = to_event(scheduled)
    assert (event.count, event.source) == (4, "default-scheduler")
    assert event.first_seen == T0
    assert event.last_seen == T0.replace(minute=9)
