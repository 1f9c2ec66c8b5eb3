"""GPUs of the cluster's nodes, read from the apiserver for the serve path's capacity check.

One list of nodes and one of the pods bound to nodes (raw JSON, no model objects), in a
worker thread so the event loop never waits on the apiserver. Read only for GPU requests.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as TransportError

from inference_api.feasibility import NodeGpus
from inference_common.errors import UnavailableError
from inference_common.gpus import free_gpus, gpu_count

REQUEST_TIMEOUT = 10.0
HOLDING_PODS = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed"


def node_gpus(nodes: list[dict[str, Any]], pods: list[dict[str, Any]]) -> list[NodeGpus]:
    """Schedulable nodes with their allocatable and free GPUs (pure)."""
    free = free_gpus(nodes, pods)
    return [
        NodeGpus(
            name=name,
            labels=dict((node.get("metadata") or {}).get("labels") or {}),
            allocatable=gpu_count((node.get("status") or {}).get("allocatable")),
            free=free[name],
        )
        for node in nodes
        if (name := str((node.get("metadata") or {}).get("name"))) in free
    ]


class NodeGpuReader:
    def __init__(self, api: client.ApiClient) -> None:
        self.core = client.CoreV1Api(api)

    def read_objects_sync(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The raw Node objects and the pods bound to nodes that still hold resources."""
        try:
            nodes: Any = self.core.list_node(
                _preload_content=False, _request_timeout=REQUEST_TIMEOUT
            )
            pods: Any = self.core.list_pod_for_all_namespaces(
                field_selector=HOLDING_PODS,
                _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT,
            )
            node_items = json.loads(nodes.data).get("items") or []
            pod_items = json.loads(pods.data).get("items") or []
        except ApiException as exc:
            raise UnavailableError(
                f"cannot read the nodes' GPUs ({exc.status} {exc.reason})", {"status": exc.status}
            ) from exc
        except TransportError as exc:
            raise UnavailableError("Kubernetes API unreachable") from exc
        return node_items, pod_items

    def read_sync(self) -> list[NodeGpus]:
        return node_gpus(*self.read_objects_sync())

    async def read(self) -> list[NodeGpus]:
        return await asyncio.to_thread(self.read_sync)

    async def read_objects(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return await asyncio.to_thread(self.read_objects_sync)
