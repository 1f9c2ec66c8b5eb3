"""Table tests: observed Deployment and pods → ModelServe status."""

from __future__ import annotations

from typing import Any

import pytest

from inference_common.modelserve import Condition, ConditionStatus, Phase
from modelserve_operator.status import (
    Observed,
    PodView,
    Problem,
    compute_status,
    latest_warning,
    pod_view,
    pod_view_from_dict,
    status_changed,
    stuck_pods,
)

NOW = "2026-01-01T00:00:00Z"
UNSCHED = "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."


def pod(
    *,
    ready: bool = False,
    unschedulable: str | None = None,
    init: dict[str, Any] | None = None,
    server: dict[str, Any] | None = None,
    terminating: bool = False,
    last: dict[str, Any] | None = None,
    initialized: bool = False,
) -> dict[str, Any]:
    conditions = [
        {"type": "Ready", "status": "True" if ready else "False"},
        {"type": "Initialized", "status": "True" if initialized else "False"},
    ]
    if unschedulable:
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": unschedulable,
            }
        )
    status: dict[str, Any] = {"conditions": conditions}
    if init is not None:
        status["initContainerStatuses"] = [{"name": "model-fetch", "state": init}]
    if server is not None:
        entry: dict[str, Any] = {"name": "llama-server", "state": server}
        if last:
            entry["lastState"] = {"terminated": last}
        status["containerStatuses"] = [entry]
    meta: dict[str, Any] = {"name": "p"}
    if terminating:
        meta["deletionTimestamp"] = NOW
    return {"metadata": meta, "status": status}


DEPLOY = {
    "metadata": {"generation": 2},
    "status": {"observedGeneration": 2, "updatedReplicas": 1, "replicas": 1},
}
RUNNING = {"running": {}}
DONE = {"terminated": {"exitCode": 0, "reason": "Completed"}}


def observe(pods: list[dict[str, Any]], desired: int = 1, **kw: Any) -> Observed:
    base: dict[str, Any] = {
        "generation": 2,
        "desired_replicas": desired,
        "server_uuid": "u1",
        "selector": "s=1",
        "deployment": DEPLOY,
        "pods": [pod_view(p) for p in pods],
    }
    base.update(kw)
    return Observed(**base)


@pytest.mark.parametrize(
    ("obs", "phase", "reason", "ready", "message_part"),
    [
        (observe([], spec_error="bad flag"), Phase.FAILED, "InvalidSpec", 0, "bad flag"),
        (observe([], desired=0), Phase.STOPPED, "Stopped", 0, "replicas is 0"),
        (observe([pod(ready=True)], desired=0), Phase.STOPPED, "Stopped", 0, ""),
        (observe([], deployment=None), Phase.PENDING, "Reconciling", 0, ""),
        (observe([]), Phase.PENDING, "PodsPending", 0, "0/1"),
        (
            observe([pod(ready=True, init=DONE, server=RUNNING)]),
            Phase.READY,
            "AllReplicasReady",
            1,
            "1/1",
        ),
        (
            observe([pod(ready=True), pod(unschedulable=UNSCHED)], desired=2),
            Phase.DEGRADED,
            "Unschedulable",
            1,
            "Insufficient nvidia.com/gpu",
        ),
        (observe([pod(unschedulable=UNSCHED)]), Phase.PENDING, "Unschedulable", 0, UNSCHED),
        (
            observe([pod(unschedulable=UNSCHED)], gpu_free={"n1": 3, "n0": 4}, gpu_request=5),
            Phase.PENDING,
            "Unschedulable",
            0,
            "free nvidia.com/gpu per node: n0=4, n1=3 (5 requested per replica)",
        ),
        (observe([pod(init=RUNNING)]), Phase.DOWNLOADING, "Downloading", 0, ""),
        (
            observe([pod(init={"terminated": {"exitCode": 2, "message": "sha256 mismatch"}})]),
            Phase.FAILED,
            "ModelFetchFailed",
            0,
            "sha256 mismatch",
        ),
        (
            observe([pod(init={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}})]),
            Phase.FAILED,
            "ModelFetchFailed",
            0,
            "model fetch",
        ),
        (observe([pod(init=DONE, server=RUNNING)]), Phase.LOADING, "Loading", 0, ""),
        (
            observe(
                [
                    pod(
                        init=DONE,
                        server={"waiting": {"reason": "ContainerCreating"}},
                        initialized=True,
                    )
                ]
            ),
            Phase.LOADING,
            "Loading",
            0,
            "",
        ),
        (
            observe([pod(server={"waiting": {"reason": "ContainerCreating"}})]),
            Phase.PENDING,
            "PodsPending",
            0,
            "",
        ),
        (
            observe(
                [
                    pod(
                        init=DONE,
                        server={
                            "waiting": {"reason": "ImagePullBackOff", "message": "no such image"}
                        },
                    )
                ]
            ),
            Phase.FAILED,
            "ImagePullBackOff",
            0,
            "no such image",
        ),
        (
            observe(
                [
                    pod(
                        init=DONE,
                        server={"waiting": {"reason": "CrashLoopBackOff"}},
                        last={"exitCode": 1, "reason": "Error", "message": "failed to load model"},
                    )
                ]
            ),
            Phase.FAILED,
            "CrashLoopBackOff",
            0,
            "exited with code 1 (Error): failed to load model",
        ),
        (observe([pod(ready=True, terminating=True)]), Phase.PENDING, "PodsPending", 0, ""),
        (
            observe(
                [],
                deployment={
                    **DEPLOY,
                    "status": {
                        "conditions": [
                            {
                                "type": "ReplicaFailure",
                                "status": "True",
                                "reason": "FailedCreate",
                                "message": "exceeded quota",
                            }
                        ]
                    },
                },
            ),
            Phase.FAILED,
            "FailedCreate",
            0,
            "exceeded quota",
        ),
    ],
)
def test_compute_status(
    obs: Observed, phase: Phase, reason: str, ready: int, message_part: str
) -> None:
    status = compute_status(obs, [], NOW, observed_generation=2)
    assert status.phase is phase
    assert status.ready_replicas == ready
    assert status.endpoint == "/u1/"
    assert status.observed_generation == 2
    cond = {c.type: c for c in status.conditions}
    assert cond["Ready"].reason == reason
    assert cond["Ready"].status == (
        ConditionStatus.TRUE if phase is Phase.READY else ConditionStatus.FALSE
    )
    assert message_part in (cond["Ready"].message or "")


def test_unschedulable_condition() -> None:
    status = compute_status(observe([pod(unschedulable=UNSCHED)]), [], NOW, 1)
    scheduled = next(c for c in status.conditions if c.type == "Scheduled")
    assert scheduled.status is ConditionStatus.FALSE
    assert scheduled.reason == "Unschedulable"
    assert scheduled.message == UNSCHED


def test_transition_time_kept_while_status_unchanged() -> None:
    before = [Condition(type="Ready", status=ConditionStatus.FALSE, last_transition_time="T0")]
    same = compute_status(observe([]), before, NOW, 1)
    assert next(c for c in same.conditions if c.type == "Ready").last_transition_time == "T0"
    flipped = compute_status(observe([pod(ready=True)]), before, NOW, 1)
    assert next(c for c in flipped.conditions if c.type == "Ready").last_transition_time == NOW


@pytest.mark.parametrize(
    ("dep_status", "rolled_out"),
    [
        ({"observedGeneration": 2, "updatedReplicas": 1, "replicas": 1}, True),
        ({"observedGeneration": 1, "updatedReplicas": 1, "replicas": 1}, False),
        ({"observedGeneration": 2, "updatedReplicas": 0, "replicas": 1}, False),
        ({"observedGeneration": 2, "updatedReplicas": 1, "replicas": 2}, False),
    ],
)
def test_rolled_out(dep_status: dict[str, Any], rolled_out: bool) -> None:
    obs = observe(
        [pod(ready=True)], deployment={"metadata": {"generation": 2}, "status": dep_status}
    )
    cond = next(c for c in compute_status(obs, [], NOW, 2).conditions if c.type == "RolledOut")
    assert (cond.status is ConditionStatus.TRUE) is rolled_out


def test_pod_view_round_trip() -> None:
    view = pod_view(pod(init={"terminated": {"exitCode": 3, "message": "missing"}}))
    assert pod_view_from_dict(view.to_dict()) == view
    assert isinstance(view, PodView)


def test_status_changed() -> None:
    status = compute_status(observe([]), [], NOW, 1)
    assert status_changed(None, status)
    assert not status_changed(status.to_k8s(), status)


@pytest.mark.parametrize(
    ("fatal", "deployment", "phase"),
    [
        (False, None, Phase.PENDING),
        (True, None, Phase.FAILED),
        (True, DEPLOY, Phase.FAILED),
        (False, DEPLOY, Phase.PENDING),  # an old Deployment still stands: judge it by its pods
    ],
)
def test_apply_errors(fatal: bool, deployment: dict[str, Any] | None, phase: Phase) -> None:
    problem = Problem("ApplyFailed", "Middleware m: Not Found", fatal)
    status = compute_status(
        observe([], apply_error=problem, deployment=deployment), [], NOW, observed_generation=2
    )
    assert status.phase is phase


def _view(name: str, created: float | None, **kw: Any) -> PodView:
    base: dict[str, Any] = {
        "name": name,
        "terminating": False,
        "ready": False,
        "unschedulable": None,
        "fetching": False,
        "server_running": False,
        "problem": None,
        "created": created,
    }
    base.update(kw)
    return PodView(**base)


@pytest.mark.parametrize(
    ("views", "stuck", "recheck"),
    [
        ([], [], None),
        ([_view("a", 0.0)], ["a"], None),
        ([_view("a", 95.0)], [], 15.0),
        ([_view("a", 95.0), _view("b", 90.0)], [], 10.0),
        ([_view("a", 50.0), _view("b", 90.0)], ["a"], 10.0),
        ([_view("a", 0.0, ready=True)], [], None),
        ([_view("a", 0.0, initialized=True)], [], None),
        ([_view("a", 0.0, unschedulable="0/2 nodes")], [], None),
        ([_view("a", None)], [], None),
    ],
)
def test_stuck_pods(views: list[PodView], stuck: list[str], recheck: float | None) -> None:
    found, again = stuck_pods(views, now=100.0, after=20.0)
    assert [v.name for v in found] == stuck
    assert again == recheck


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([], None),
        ([{"type": "Normal", "reason": "Pulled", "message": "ok"}], None),
        (
            [
                {
                    "type": "Warning",
                    "reason": "FailedMount",
                    "message": "old",
                    "lastTimestamp": "2026-01-01T00:00:00Z",
                },
                {
                    "type": "Warning",
                    "reason": "FailedMount",
                    "message": 'secret "s" not found ',
                    "lastTimestamp": "2026-01-01T00:01:00Z",
                },
                {
                    "type": "Normal",
                    "reason": "Scheduled",
                    "message": "x",
                    "lastTimestamp": "2026-01-01T00:02:00Z",
                },
            ],
            Problem("FailedMount", 'secret "s" not found', False),
        ),
    ],
)
def test_latest_warning(events: list[dict[str, Any]], expected: Problem | None) -> None:
    assert latest_warning(events) == expected


def test_pod_warning_explains_a_silent_pending_pod() -> None:
    silent = pod(server={"waiting": {"reason": "ContainerCreating"}})
    warning = Problem("FailedMount", 'secret "sm-model-fetch" not found', False)
    obs = observe([silent], pod_warnings={"p": warning})
    status = compute_status(obs, [], NOW, 1)
    assert status.phase is Phase.PENDING
    ready = next(c for c in status.conditions if c.type == "Ready")
    assert (ready.reason, ready.message) == ("FailedMount", 'secret "sm-model-fetch" not found')
