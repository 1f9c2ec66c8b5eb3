"""GET /servers/{uuid}/events and /logs against the real stack: the events Kubernetes holds
for the server's ModelServe and pods, newest first; logs through the pod log API end with
a clear error (never a hang) where no kubelet serves them; others' servers are 404."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kubernetes import client

from inference_common.kube_events import NORMAL, WARNING, InvolvedObject, event_body
from inference_common.modelserve import KIND, MODELSERVE_LABEL
from inference_testkit.waiting import async_wait_for

from ..conftest import Api
from .test_servers import get_modelserve, upload


def post_event(
    kube_api: client.ApiClient,
    involved: InvolvedObject,
    type_: str,
    reason: str,
    when: datetime,
) -> None:
    body = event_body(
        f"{involved.name}.{reason.lower()}{int(when.timestamp())}",
        involved,
        type_,
        reason,
        f"{reason} happened",
        "story-test",
        None,
        when,
    )
    client.CoreV1Api(kube_api).create_namespaced_event(involved.namespace, body)  # type: ignore[arg-type]


async def serve(api: Api, headers: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    model = await upload(api, headers, tmp_path)
    served = await api.client.post("/serve", json={"model_uuid": model["uuid"]}, headers=headers)
    assert served.status_code == 201, served.text
    result: dict[str, Any] = served.json()
    return result


async def test_events_of_the_modelserve_and_its_pods_newest_first(
    api: Api, kube_api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    _, alice = await api.new_user()
    _, bob = await api.new_user()
    admin = await api.admin()
    served = await serve(api, alice, tmp_path)
    name, server_uuid = served["name"], served["server_uuid"]
    obj = await asyncio.to_thread(get_modelserve, kube_api, namespace, name)
    assert obj is not None
    ms = InvolvedObject(obj["apiVersion"], KIND, namespace, name, obj["metadata"]["uid"])
    pod = InvolvedObject("v1", "Pod", namespace, f"{name}-5d8f7b9c4-abcde", "pod-uid")
    stranger = InvolvedObject("v1", "Pod", namespace, f"{name}x-5d8f7b9c4-abcde", "other")
    now = datetime.now(UTC).replace(microsecond=0)
    await asyncio.to_thread(
        post_event, kube_api, ms, NORMAL, "ChildrenApplied", now - timedelta(seconds=30)
    )
    await asyncio.to_thread(
        post_event, kube_api, pod, WARNING, "BackOff", now - timedelta(seconds=10)
    )
    await asyncio.to_thread(post_event, kube_api, stranger, NORMAL, "Started", now)

    for headers in (alice, admin):
        reply = await api.client.get(f"/servers/{server_uuid}/events", headers=headers)
        assert reply.status_code == 200, reply.text
        story = [
            (e["object"]["kind"], e["reason"], e["type"])
            for e in reply.json()["events"]
            if e["source"] == "story-test"
        ]
        assert story == [("Pod", "BackOff", "Warning"), (KIND, "ChildrenApplied", "Normal")]
    assert (await api.client.get(f"/servers/{server_uuid}/events", headers=bob)).status_code == 404
    assert (await api.client.get(f"/servers/{server_uuid}/logs", headers=bob)).status_code == 404


async def test_logs_without_a_serving_kubelet_end_with_a_clear_error(
    api: Api, kube_api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """The server's pods land on kwok nodes, whose address no kubelet serves: the pod log API
    fails and the endpoint says so in the error shape, quickly."""
    _, alice = await api.new_user()
    served = await serve(api, alice, tmp_path)
    core = client.CoreV1Api(kube_api)

    def has_pod() -> bool:
        pods = core.list_namespaced_pod(
            namespace, label_selector=f"{MODELSERVE_LABEL}={served['name']}"
        ).items
        return bool(pods)

    async def probe() -> bool:
        return await asyncio.to_thread(has_pod)

    await async_wait_for(probe, timeout=60)
    pods = await api.client.get(f"/servers/{served['server_uuid']}/pods", headers=alice)
    assert pods.status_code == 200, pods.text
    [pod] = pods.json()["pods"]
    assert pod["name"].startswith(f"{served['name']}-")
    assert pod["containers"] == ["model-fetch", "llama-server"]
    for params in ({"tail": 5}, {"tail": 5, "follow": "true"}):
        began = time.monotonic()
        reply = await api.client.get(
            f"/servers/{served['server_uuid']}/logs", params=params, headers=alice
        )
        assert time.monotonic() - began < 30
        assert reply.status_code in (400, 503), reply.text
        assert reply.json()["error"]["message"]
    refused = await api.client.get(
        f"/servers/{served['server_uuid']}/logs", params={"pod": "not-its-pod"}, headers=alice
    )
    assert refused.status_code == 404
    bad = await api.client.get(
        f"/servers/{served['server_uuid']}/logs", params={"tail": -1}, headers=alice
    )
    assert bad.status_code == 422
