"""ModelServe Events from status transitions (pure; table-driven)."""

from __future__ import annotations

from typing import Any

import pytest

from modelserve_operator.events import EventSpec, children_applied, status_events


def status(
    phase: str, ready: tuple[str, str, str], rolled: tuple[str, str] | None = None
) -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": ready[0], "reason": ready[1], "message": ready[2]}]
    if rolled is not None:
        conditions.append(
            {"type": "RolledOut", "status": rolled[0], "reason": rolled[1], "message": "m"}
        )
    return {"phase": phase, "conditions": conditions}


PENDING = status("Pending", ("False", "Reconciling", "the Deployment does not exist yet"))
LOADING = status("Loading", ("False", "Loading", "llama.cpp is loading"), ("False", "RollingOut"))
READY = status("Ready", ("True", "AllReplicasReady", "1/1 replicas ready"), ("True", "Complete"))
READY_2 = status("Ready", ("True", "AllReplicasReady", "2/2 replicas ready"), ("True", "Complete"))
UNSCHEDULABLE = status("Pending", ("False", "Unschedulable", "0/3 nodes are available"))
NOT_OWNED = status("Failed", ("False", "ChildNotOwned", "Service x belongs to another"))
FETCH_FAILED = status("Failed", ("False", "ModelFetchFailed", "sha256 mismatch"))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (None, PENDING, [EventSpec("Normal", "Reconciling", "the Deployment does not exist yet")]),
        (
            PENDING,
            LOADING,
            [
                EventSpec("Normal", "Loading", "llama.cpp is loading"),
                EventSpec("Normal", "RollingOut", "m"),
            ],
        ),
        (
            LOADING,
            READY,
            [
                EventSpec("Normal", "Ready", "1/1 replicas ready"),
                EventSpec("Normal", "RolledOut", "m"),
            ],
        ),
        (READY, READY_2, []),
        (READY, READY, []),
        (
            PENDING,
            UNSCHEDULABLE,
            [EventSpec("Warning", "Unschedulable", "0/3 nodes are available")],
        ),
        (UNSCHEDULABLE, UNSCHEDULABLE, []),
        (
            PENDING,
            NOT_OWNED,
            [EventSpec("Warning", "ChildNotOwned", "Service x belongs to another")],
        ),
        (LOADING, FETCH_FAILED, [EventSpec("Warning", "ModelFetchFailed", "sha256 mismatch")]),
        ({}, {"phase": "Pending"}, []),
    ],
)
def test_status_events(
    old: dict[str, Any] | None, new: dict[str, Any], expected: list[EventSpec]
) -> None:
    assert status_events(old, new) == expected


@pytest.mark.parametrize(
    ("applied", "expected"),
    [
        (0, None),
        (3, EventSpec("Normal", "ChildrenApplied", "applied 3 of 4 children for generation 2")),
    ],
)
def test_children_applied(applied: int, expected: EventSpec | None) -> None:
    assert children_applied(applied, 4, 2) == expected
