"""The README's walk-through as a test: token → serve smollm2:135m → Downloading → Loading →
Ready → a real answer through Traefik (with the token; refused without), whole and
streamed → stop → process and namespace gone.
Then the same with `kubectl apply -f examples/modelserve-smollm2.yaml`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import yaml
from kubernetes import client

from inference_common.modelserve import GROUP, PLURAL, VERSION
from inference_localstack.config import REPO_ROOT, StackConfig
from inference_localstack.embedded_model import REGISTRY_NAME, embedded_model_path
from inference_testkit.waiting import wait_for

from .conftest import PhaseRecorder, bearer, chat, netns_of_ip, netns_pids, pods_of, sse_text

SERVERS_NAMESPACE = "inference"


def _evict_cached_model() -> None:
    """So this run shows the Downloading phase: the node's model cache forgets the file."""
    digest = hashlib.sha256(embedded_model_path().read_bytes()).hexdigest()
    cache = StackConfig().data_dir("node") / "model-cache"
    for path in cache.glob(f"{digest}*"):
        path.unlink()


def _route_healthy(url: str, headers: dict[str, str]) -> bool:
    try:
        return httpx.get(url, headers=headers, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _assert_real_answers(traefik_url: str, endpoint: str, headers: dict[str, str]) -> None:
    # Traefik applies a new EndpointSlice within its provider throttle (0.5 s here).
    wait_for(
        lambda: _route_healthy(f"{traefik_url}{endpoint}health", headers), timeout=30, what="route"
    )
    # Only with a credential the gateway accepts (its ForwardAuth), and only inference paths
    assert chat(traefik_url, endpoint, stream=False).status_code == 401
    props = httpx.get(f"{traefik_url}{endpoint}props", headers=headers, timeout=10)
    assert props.status_code == 403, props.text
    whole = chat(traefik_url, endpoint, stream=False, headers=headers)
    assert whole.status_code == 200, whole.text
    body = whole.json()
    answer = body["choices"][0]["message"]["content"]
    assert answer.strip(), body
    assert body["usage"]["completion_tokens"] >= 1

    streamed = chat(traefik_url, endpoint, stream=True, headers=headers)
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    text, events = sse_text(streamed.text)
    assert events >= 2, streamed.text[:500]
    assert text.strip(), streamed.text[:500]
    assert streamed.text.rstrip().endswith("data: [DONE]")


def test_serve_through_the_api_and_traefik(
    stack_env: dict[str, str], api: httpx.Client, kube_api: client.ApiClient
) -> None:
    _evict_cached_model()
    served = api.post(
        "/serve",
        json={"model_name": REGISTRY_NAME, "replicas": 1, "runtime_params": "--ctx-size 2048"},
    )
    assert served.status_code in (200, 201), served.text
    server_uuid, endpoint = served.json()["server_uuid"], served.json()["endpoint"]
    assert endpoint == f"/{server_uuid}/"
    recorder = PhaseRecorder(kube_api, SERVERS_NAMESPACE, server_uuid)
    try:
        phases = recorder.wait_for("Ready", timeout=180)
        assert "Downloading" in phases, phases
        assert "Loading" in phases, phases
        assert phases.index("Downloading") < phases.index("Loading") < phases.index("Ready")

        mirrored = wait_for(
            lambda: (r := api.get(f"/servers/{server_uuid}").json()).get("phase") == "Ready" and r,
            timeout=30,
            what="API mirrors Ready",
        )
        assert mirrored["ready_replicas"] == 1

        (pod,) = pods_of(kube_api, SERVERS_NAMESPACE, server_uuid)
        assert pod.spec.node_name == StackConfig().local_node_name
        netns = netns_of_ip(pod.status.pod_ip)
        assert netns is not None
        pids = netns_pids(netns)
        assert pids, "the llama.cpp server runs inside the pod's namespace"

        _assert_real_answers(stack_env["TRAEFIK_URL"], endpoint, bearer(api))
    finally:
        recorder.stop()

    stopped = api.delete(f"/stop/{server_uuid}")
    assert stopped.status_code in (200, 202, 204), stopped.text
    wait_for(lambda: netns_of_ip(pod.status.pod_ip) is None, timeout=60, what="namespace removed")
    wait_for(
        lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids),
        timeout=30,
        what="server process gone",
    )
    wait_for(
        lambda: not pods_of(kube_api, SERVERS_NAMESPACE, server_uuid), timeout=60, what="pod gone"
    )
    # Traefik drops the route once it sees the IngressRoute gone (its watch, not our call)
    wait_for(
        lambda: (
            httpx.get(f"{stack_env['TRAEFIK_URL']}{endpoint}health", timeout=10).status_code == 404
        ),
        timeout=30,
        what="route removed from Traefik",
    )


def test_serve_with_kubectl_apply_of_the_example(
    stack_env: dict[str, str], api: httpx.Client, kube_api: client.ApiClient, namespace: str
) -> None:
    example = yaml.safe_load((REPO_ROOT / "examples" / "modelserve-smollm2.yaml").read_text())
    custom = client.CustomObjectsApi(kube_api)
    created = custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, example)
    name = created["metadata"]["name"]

    def ready_endpoint() -> str | None:
        status = (
            custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name).get(
                "status"
            )
            or {}
        )
        return status.get("endpoint") if status.get("phase") == "Ready" else None

    endpoint = wait_for(ready_endpoint, timeout=180, what="example Ready")
    assert endpoint == f"/{created['metadata']['uid']}/"
    _assert_real_answers(stack_env["TRAEFIK_URL"], endpoint, bearer(api))
    custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    wait_for(
        lambda: not client.CoreV1Api(kube_api).list_namespaced_pod(namespace).items,
        timeout=60,
        what="pods gone",
    )
