"""The control plane is real: kube-scheduler places GPU requests on kwok's simulated GPU
nodes, kube-controller-manager drives Deployments, and kwok reports pods Ready."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from inference_testkit.waiting import wait_for


def gpu_deployment(name: str, gpus: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": {"nvidia.com/gpu.present": "true"},
                    "containers": [
                        {
                            "name": "main",
                            "image": "registry.invalid/never-pulled:1",
                            "resources": {"limits": {"nvidia.com/gpu": str(gpus)}},
                        }
                    ],
                },
            },
        },
    }


def test_two_gpu_deployment_is_scheduled_on_a_gpu_node_and_becomes_ready(
    kube_api: client.ApiClient, namespace: str
) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    apps.create_namespaced_deployment(namespace, gpu_deployment("two-gpus", 2))

    def available() -> int | None:
        status = apps.read_namespaced_deployment_status("two-gpus", namespace).status
        return status.available_replicas

    assert wait_for(available, timeout=60, what="deployment available") == 1
    (pod,) = core.list_namespaced_pod(namespace, label_selector="app=two-gpus").items
    node = core.read_node(pod.spec.node_name)
    assert node.metadata.labels["nvidia.com/gpu.product"] == "NVIDIA-GeForce-RTX-4090"
    assert node.status.allocatable["nvidia.com/gpu"] == "4"
    ready = {c.type: c.status for c in pod.status.conditions}
    assert ready["Ready"] == "True"
    assert pod.status.pod_ip.startswith("10.244.")


def test_five_gpu_deployment_stays_pending_as_unschedulable(
    kube_api: client.ApiClient, namespace: str
) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    apps.create_namespaced_deployment(namespace, gpu_deployment("five-gpus", 5))

    def scheduled_condition() -> Any:
        pods = core.list_namespaced_pod(namespace, label_selector="app=five-gpus").items
        for pod in pods:
            for condition in pod.status.conditions or []:
                if condition.type == "PodScheduled" and condition.status == "False":
                    return pod, condition
        return None

    pod, condition = wait_for(scheduled_condition, timeout=60, what="PodScheduled=False")
    assert pod.status.phase == "Pending"
    assert condition.reason == "Unschedulable"
    assert "Insufficient nvidia.com/gpu" in condition.message
