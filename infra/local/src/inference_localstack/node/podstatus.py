"""A pod's status, written from what the runtime observes (pure; table-tested)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ContainerState:
    name: str
    image: str
    state: str = "waiting"  # waiting | running | terminated
    reason: str = "PodInitializing"
    message: str = ""
    exit_code: int | None = None
    started_at: str | None = None
    finished_at: str | None = None
    restart_count: int = 0
    ready: bool = False
    last_exit_code: int | None = None
    last_reason: str = ""
    last_message: str = ""
    last_finished_at: str | None = None

    def as_status(self) -> dict[str, Any]:
        state: dict[str, Any]
        if self.state == "running":
            state = {"running": {"startedAt": self.started_at}}
        elif self.state == "terminated":
            state = {
                "terminated": _drop_none(
                    {
                        "exitCode": self.exit_code if self.exit_code is not None else 0,
                        "reason": self.reason,
                        "message": self.message or None,
                        "startedAt": self.started_at,
                        "finishedAt": self.finished_at,
                    }
                )
            }
        else:
            state = {
                "waiting": _drop_none({"reason": self.reason, "message": self.message or None})
            }
        status: dict[str, Any] = {
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "ready": self.ready,
            "restartCount": self.restart_count,
            "started": self.state == "running",
            "state": state,
            "lastState": {},
        }
        if self.last_exit_code is not None:
            status["lastState"] = {
                "terminated": _drop_none(
                    {
                        "exitCode": self.last_exit_code,
                        "reason": self.last_reason,
                        "message": self.last_message or None,
                        "finishedAt": self.last_finished_at,
                    }
                )
            }
        return status


@dataclass
class PodState:
    host_ip: str
    pod_ip: str | None = None
    start_time: str | None = None
    init: list[ContainerState] = field(default_factory=list)
    main: list[ContainerState] = field(default_factory=list)
    failed_reason: str | None = None
    failed_message: str | None = None


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def phase(pod: PodState) -> str:
    if pod.failed_reason:
        return "Failed"
    if pod.main and all(
        c.state in ("running", "terminated") or c.restart_count > 0 for c in pod.main
    ):
        return "Running"
    return "Pending"


def pod_status(pod: PodState, now: str) -> dict[str, Any]:
    initialized = all(c.state == "terminated" and c.exit_code == 0 for c in pod.init)
    containers_ready = bool(pod.main) and all(c.ready for c in pod.main)
    not_ready = [c.name for c in pod.main if not c.ready]
    pending_init = [c.name for c in pod.init if not (c.state == "terminated" and c.exit_code == 0)]

    def condition(kind: str, ok: bool, reason: str = "", message: str = "") -> dict[str, Any]:
        entry: dict[str, Any] = {
            "type": kind,
            "status": "True" if ok else "False",
            "lastProbeTime": None,
            "lastTransitionTime": now,
        }
        if not ok and reason:
            entry["reason"], entry["message"] = reason, message
        return entry

    status: dict[str, Any] = {
        "phase": phase(pod),
        "hostIP": pod.host_ip,
        "hostIPs": [{"ip": pod.host_ip}],
        "conditions": [
            condition("PodScheduled", True),
            condition(
                "Initialized",
                initialized,
                "ContainersNotInitialized",
                f"containers with incomplete status: [{' '.join(pending_init)}]",
            ),
            condition(
                "ContainersReady",
                containers_ready,
                "ContainersNotReady",
                f"containers with unready status: [{' '.join(not_ready)}]",
            ),
            condition(
                "Ready",
                containers_ready,
                "ContainersNotReady",
                f"containers with unready status: [{' '.join(not_ready)}]",
            ),
        ],
        "initContainerStatuses": [c.as_status() for c in pod.init],
        "containerStatuses": [c.as_status() for c in pod.main],
    }
    if pod.pod_ip:
        status["podIP"] = pod.pod_ip
        status["podIPs"] = [{"ip": pod.pod_ip}]
    if pod.start_time:
        status["startTime"] = pod.start_time
    if pod.failed_reason:
        status["reason"] = pod.failed_reason
        status["message"] = pod.failed_message or ""
    return status


def backoff_seconds(restarts: int, base: float = 1.0, cap: float = 30.0) -> float:
    """Crash-loop back-off: 1, 2, 4 … seconds, capped (kubelet caps at 5 minutes)."""
    return float(min(cap, base * (2 ** max(0, restarts - 1))))
