"""Pod status written from observed state."""

from __future__ import annotations

import pytest

from inference_localstack.node.podstatus import (
    ContainerState,
    PodState,
    backoff_seconds,
    phase,
    pod_status,
)


def _pod(init: list[ContainerState], main: list[ContainerState], **kw: str) -> PodState:
    return PodState(host_ip="10.250.0.1", pod_ip="10.244.0.5", init=init, main=main, **kw)  # type: ignore[arg-type]


def test_pending_while_initialising() -> None:
    pod = _pod(
        [ContainerState("fetch", "f", state="running", reason="")], [ContainerState("server", "s")]
    )
    status = pod_status(pod, "t")
    conditions = {c["type"]: c for c in status["conditions"]}
    assert status["phase"] == "Pending"
    assert conditions["Initialized"]["status"] == "False"
    assert "fetch" in conditions["Initialized"]["message"]
    assert status["initContainerStatuses"][0]["state"] == {"running": {"startedAt": None}}
    assert status["podIP"] == "10.244.0.5"


def test_running_and_ready() -> None:
    done = ContainerState("fetch", "f", state="terminated", exit_code=0, reason="Completed")
    server = ContainerState("server", "s", state="running", reason="", started_at="t0", ready=True)
    status = pod_status(_pod([done], [server]), "t")
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert status["phase"] == "Running"
    assert conditions == {
        "PodScheduled": "True",
        "Initialized": "True",
        "ContainersReady": "True",
        "Ready": "True",
    }
    assert status["containerStatuses"][0]["ready"] is True


def test_crash_loop_keeps_last_termination() -> None:
    server = ContainerState(
        "server",
        "s",
        state="waiting",
        reason="CrashLoopBackOff",
        restart_count=2,
        last_exit_code=137,
        last_reason="Error",
        last_message="killed",
    )
    status = pod_status(_pod([], [server]), "t")
    container = status["containerStatuses"][0]
    assert container["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert container["lastState"]["terminated"]["exitCode"] == 137
    assert container["restartCount"] == 2
    assert status["phase"] == "Running"


def test_failed_pod_carries_reason() -> None:
    pod = _pod([], [ContainerState("server", "nginx")])
    pod.failed_reason, pod.failed_message = "UnsupportedContainer", "image nginx cannot run"
    status = pod_status(pod, "t")
    assert phase(pod) == "Failed"
    assert (status["reason"], status["message"]) == (
        "UnsupportedContainer",
        "image nginx cannot run",
    )


@pytest.mark.parametrize(
    ("restarts", "delay"), [(0, 1.0), (1, 1.0), (2, 2.0), (4, 8.0), (10, 30.0)]
)
def test_backoff(restarts: int, delay: float) -> None:
    assert backoff_seconds(restarts) == delay
