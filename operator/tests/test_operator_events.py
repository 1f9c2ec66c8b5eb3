"""The operator's Events on ModelServes, through the real apiserver: `kubectl describe ms`
tells the story (children applied, rolled out, Ready; Unschedulable as a warning), and a
reconcile that changes nothing emits nothing again."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest

from inference_common.modelserve import GROUP, PLURAL, VERSION
from inference_localstack import stack
from inference_testkit.waiting import wait_for

from .conftest import Cluster, OperatorProcess, ms_body

pytestmark = pytest.mark.timeout(180)

OPERATOR = "modelserve-operator"
TOUCH = "test.inference-service.dev/touch"
GPU_NODES = {"nvidia.com/gpu.product": "NVIDIA-GeForce-RTX-4090"}


def operator_events(cluster: Cluster, name: str) -> list[Any]:
    listed = cluster.core.list_namespaced_event(
        cluster.ns, field_selector=f"involvedObject.name={name},involvedObject.kind=ModelServe"
    )
    return [e for e in listed.items if e.source and e.source.component == OPERATOR]


def reasons(cluster: Cluster, name: str) -> dict[str, Any]:
    return {e.reason: e for e in operator_events(cluster, name)}


def describe(cluster: Cluster, name: str, kubeconfig: str) -> str:
    kubectl = stack.toolchain_bin_dir(build=False) / "kubectl"
    done = subprocess.run(
        [str(kubectl), "describe", "modelserve", name, "-n", cluster.ns],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "KUBECONFIG": kubeconfig},
        check=True,
    )
    return done.stdout


def test_describe_tells_the_story_once(
    cluster: Cluster, operator: OperatorProcess, stack_env: dict[str, str]
) -> None:
    created = cluster.create(ms_body("story", gpu={"count": 1}, nodeSelector=GPU_NODES))
    cluster.wait_phase("story", "Ready")

    def told() -> dict[str, Any] | None:
        found = reasons(cluster, "story")
        return found if {"Ready", "RolledOut"} <= set(found) else None

    found = wait_for(told, timeout=30, what="Ready and RolledOut events")
    assert found["ChildrenApplied"].type == "Normal"
    assert "generation 1" in found["ChildrenApplied"].message
    assert found["Ready"].type == "Normal"
    assert found["Ready"].message == "1/1 replicas ready"
    assert found["Ready"].involved_object.uid == created["metadata"]["uid"]

    # A reconcile that changes nothing (an annotation) and the status refreshes it causes
    # emit nothing new: every reason is still one Event seen once.
    cluster.custom.patch_namespaced_custom_object(
        GROUP, VERSION, cluster.ns, PLURAL, "story", {"metadata": {"annotations": {TOUCH: "1"}}}
    )

    def handled() -> bool:
        annotations = cluster.get("story")["metadata"].get("annotations") or {}
        return TOUCH in annotations.get(f"{GROUP}/last-handled-configuration", "")

    wait_for(handled, timeout=30, what="the operator handled the touched ModelServe")
    events = operator_events(cluster, "story")
    assert len(events) == len({e.reason for e in events})
    assert all((e.count or 1) == 1 for e in events)

    text = describe(cluster, "story", stack_env["KUBECONFIG"])
    story = text.split("Events:", 1)[1]
    for reason in ("ChildrenApplied", "RolledOut", "Ready"):
        assert reason in story
    assert OPERATOR in story


def test_unschedulable_is_a_warning_event(cluster: Cluster, operator: OperatorProcess) -> None:
    cluster.create(ms_body("huge", gpu={"count": 5}, nodeSelector=GPU_NODES))

    def unschedulable() -> Any:
        return reasons(cluster, "huge").get("Unschedulable")

    event = wait_for(unschedulable, timeout=60, what="an Unschedulable event")
    assert event.type == "Warning"
    assert "Insufficient nvidia.com/gpu" in event.message
