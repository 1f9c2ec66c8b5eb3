"""The Kubernetes Events a ModelServe gets, as a pure function of its status before and after
a write: one Event per change of the Ready condition's reason (Ready, Downloading, Loading,
or the failure with its reason: Unschedulable, ChildNotOwned, ModelFetchFailed, ...) and per
change of the rollout. An unchanged condition emits nothing, so a reconcile or a status
refresh that changes only counts or timestamps is silent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inference_common.kube_events import NORMAL, WARNING

QUIET_PENDING = frozenset({"Reconciling", "PodsPending"})
"""Pending reasons that are progress, not a problem."""


@dataclass(frozen=True)
class EventSpec:
    type: str
    reason: str
    message: str


def _conditions(status: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    return {c.get("type", ""): c for c in (status or {}).get("conditions") or []}


def _changed(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> bool:
    if before is None:
        return True
    return (before.get("status"), before.get("reason")) != (
        after.get("status"),
        after.get("reason"),
    )


def ready_event(phase: str, ready: Mapping[str, Any]) -> EventSpec:
    reason = str(ready.get("reason") or phase)
    message = str(ready.get("message") or "")
    if ready.get("status") == "True":
        return EventSpec(NORMAL, "Ready", message)
    warning = phase in ("Failed", "Degraded") or (
        phase == "Pending" and reason not in QUIET_PENDING
    )
    return EventSpec(WARNING if warning else NORMAL, reason, message)


def status_events(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[EventSpec]:
    """Events for the step from the stored status `old` to `new` (both as in the object)."""
    before, after = _conditions(old), _conditions(new)
    found: list[EventSpec] = []
    ready = after.get("Ready")
    if ready is not None and _changed(before.get("Ready"), ready):
        found.append(ready_event(str(new.get("phase") or ""), ready))
    rollout = after.get("RolledOut")
    if rollout is not None and _changed(before.get("RolledOut"), rollout):
        done = rollout.get("status") == "True"
        found.append(
            EventSpec(
                NORMAL, "RolledOut" if done else "RollingOut", str(rollout.get("message", ""))
            )
        )
    return found


def children_applied(applied: int, total: int, generation: int) -> EventSpec | None:
    """The reconcile's own Event: children created or updated (none when all matched)."""
    if applied <= 0:
        return None
    return EventSpec(
        NORMAL,
        "ChildrenApplied",
        f"applied {applied} of {total} children for generation {generation}",
    )
