"""One request id from the caller through the `inference-gateway` process to llama.cpp's own
log and back: every API (whole and streamed) and errors answer with the caller's
`x-request-id` (or a new one when it is malformed); the gateway's log is JSON lines, one
access line per request carrying the id, server uuid, model, replica, status and timings;
and its `llama_log_key` finds llama.cpp's line for exactly that request (slot and task) in
the replica's log."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client

from inference_common.modelserve import GROUP, PLURAL, SERVER_UUID_LABEL, VERSION
from inference_testkit.logs import json_log
from inference_testkit.waiting import wait_for

from .conftest import MODEL, Cluster, Replica, gateway_entry_point

TASK_LINE = re.compile(r"\| task (\d+) \|")

# (api, path, body): every generation API, whole and streamed
CALLS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "openai",
        "/v1/chat/completions",
        {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3},
    ),
    (
        "openai",
        "/v1/chat/completions",
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "Hey"}],
            "max_tokens": 3,
            "stream": True,
        },
    ),
    ("openai", "/v1/completions", {"model": MODEL, "prompt": "Once", "max_tokens": 3}),
    (
        "ollama",
        "/api/chat",
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "Hello"}],
            "stream": False,
            "options": {"num_predict": 3},
        },
    ),
    ("ollama", "/api/generate", {"model": MODEL, "prompt": "Why", "options": {"num_predict": 3}}),
    ("tgi", "/generate", {"inputs": "Tell", "parameters": {"max_new_tokens": 3}}),
    ("tgi", "/generate_stream", {"inputs": "Say", "parameters": {"max_new_tokens": 3}}),
    (
        "anthropic",
        "/v1/messages",
        {"model": MODEL, "max_tokens": 3, "messages": [{"role": "user", "content": "Yo"}]},
    ),
    (
        "anthropic",
        "/v1/messages",
        {
            "model": MODEL,
            "max_tokens": 3,
            "stream": True,
            "messages": [{"role": "user", "content": "Sup"}],
        },
    ),
]


def _server_uuid(api: client.ApiClient, namespace: str, name: str) -> str:
    obj = client.CustomObjectsApi(api).get_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name
    )
    uuid = (obj.get("status") or {}).get("serverUuid") or obj["metadata"]["uid"]
    assert isinstance(uuid, str)
    return uuid


def test_request_id_from_caller_to_llama_cpp_log_and_back(
    stack_env: dict[str, str],
    database_url: str,
    cluster: Cluster,
    replicas: list[Replica],
    tmp_path: Path,
) -> None:
    replica = replicas[0]
    cluster.serve("smol-rid", MODEL, [replica.ip])
    log = tmp_path / "gateway.log"
    sent: dict[str, tuple[str, str]] = {}  # request id → (api, path)
    with gateway_entry_point(stack_env, database_url, cluster.namespace, log) as gw:
        auth = {"Authorization": f"Bearer {gw.token}"}
        with httpx.Client(base_url=gw.url, timeout=120) as http:

            def routable() -> bool:
                models = http.get("/v1/models", headers=auth).json().get("data", [])
                return any(m.get("id") == MODEL for m in models)

            wait_for(routable, timeout=60, interval=0.1, what=f"{MODEL} routable")
            # the replica serves other tests too: its earlier lines can carry the same timing
            log_start = replica.log.stat().st_size
            for api, path, body in CALLS:
                request_id = f"rid-{api}-{secrets.token_hex(6)}"
                response = http.post(path, headers={**auth, "x-request-id": request_id}, json=body)
                assert response.status_code == 200, (path, response.text)
                assert response.headers["x-request-id"] == request_id, path
                sent[request_id] = (api, path)

            missing = http.post(
                "/v1/chat/completions",
                headers={**auth, "x-request-id": "rid-missing-model"},
                json={"model": "missing:1b", "messages": [{"role": "user", "content": "x"}]},
            )
            assert missing.status_code == 404
            assert missing.headers["x-request-id"] == "rid-missing-model"

            unauthenticated = http.post(
                "/api/chat", headers={"x-request-id": "rid-no-credentials"}, json={}
            )
            assert unauthenticated.status_code == 401
            assert unauthenticated.headers["x-request-id"] == "rid-no-credentials"

            for malformed in (b"x" * 65, b"bad id;", "naïve".encode()):
                answer = http.get("/v1/models", headers={**auth, "x-request-id": malformed})
                assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["x-request-id"]), malformed

    entries = json_log(log)
    access = {e["request_id"]: e for e in entries if e["logger"] == "inference.access"}
    server_uuid = _server_uuid(cluster.api, cluster.namespace, "smol-rid")
    llama_log = replica.log.read_bytes()[log_start:].decode()
    tasks: set[str] = set()
    for request_id, (api, path) in sent.items():
        line = access[request_id]
        assert line["status"] == 200
        assert (line["api"], line["path"], line["model"]) == (api, path, MODEL)
        assert line["server_uuid"] == server_uuid
        assert line["replica"] == replica.url
        assert line["outcome"] == "done"
        assert line["duration_ms"] >= line["upstream_ms"] > 0
        assert line["llama_completion_id"]
        key = line["llama_log_key"]
        found = [row for row in llama_log.splitlines() if key in row]
        assert len(found) == 1, (key, found)
        task = TASK_LINE.search(found[0])
        assert task is not None, found[0]
        tasks.add(task.group(1))
    assert len(tasks) == len(sent), "each request joins a llama.cpp task of its own"

    assert access["rid-missing-model"]["status"] == 404
    assert access["rid-missing-model"]["error"] == "not_found"
    assert access["rid-no-credentials"]["status"] == 401


SERVERS_NAMESPACE = "inference"


@contextmanager
def _admin(stack_env: dict[str, str]) -> Iterator[httpx.Client]:
    """The stack's API as its administrator."""
    with httpx.Client(base_url=stack_env["API_URL"], timeout=30) as api:
        token = api.post(
            "/auth/token",
            json={
                "username": stack_env["ADMIN_USERNAME"],
                "password": stack_env["ADMIN_PASSWORD"],
            },
        )
        token.raise_for_status()
        api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield api


def test_request_id_joins_a_real_pods_kubectl_logs(
    stack_env: dict[str, str], database_url: str, kube_api: client.ApiClient, tmp_path: Path
) -> None:
    """A server the platform runs (API → operator → a llama.cpp pod on the local node): the
    caller's id comes back, and its access line's `llama_log_key` finds that request's
    llama.cpp task in the pod's log as `kubectl logs` reads it (through the apiserver)."""
    with _admin(stack_env) as api:
        served = api.post("/serve", json={"model_name": MODEL, "replicas": 1})
        assert served.status_code in (200, 201), served.text
        server_uuid, name = served.json()["server_uuid"], served.json()["name"]
        try:
            wait_for(
                lambda: api.get(f"/servers/{server_uuid}").json().get("phase") == "Ready",
                timeout=240,
                what="the server is Ready",
            )
            pods = client.CoreV1Api(kube_api).list_namespaced_pod(
                SERVERS_NAMESPACE, label_selector=f"{SERVER_UUID_LABEL}={server_uuid}"
            )
            (pod,) = pods.items
            log = tmp_path / "gateway.log"
            request_id = f"rid-pod-{secrets.token_hex(6)}"
            with (
                gateway_entry_point(
                    stack_env,
                    database_url,
                    SERVERS_NAMESPACE,
                    log,
                    GATEWAY_UPSTREAM_CIDRS="10.244.0.0/24",  # the local node's pods
                ) as gw,
                httpx.Client(base_url=gw.url, timeout=120) as http,
            ):
                auth = {"Authorization": f"Bearer {gw.token}"}

                def answered() -> httpx.Response | None:
                    # the ModelServe's name routes to this server alone
                    response = http.post(
                        "/v1/chat/completions",
                        headers={**auth, "x-request-id": request_id},
                        json={
                            "model": name,
                            "messages": [{"role": "user", "content": "Hi"}],
                            "max_tokens": 3,
                        },
                    )
                    return response if response.status_code == 200 else None

                response = wait_for(answered, timeout=60, interval=0.5, what="an answer")
                assert response.headers["x-request-id"] == request_id
            (line,) = [
                e
                for e in json_log(log)
                if e["logger"] == "inference.access" and e.get("request_id") == request_id
            ]
            assert line["server_uuid"] == server_uuid
            assert line["replica"] == f"http://{pod.status.pod_ip}:8080"
            pod_log = client.CoreV1Api(kube_api).read_namespaced_pod_log(
                pod.metadata.name, SERVERS_NAMESPACE, container="llama-server"
            )
            found = [row for row in pod_log.splitlines() if line["llama_log_key"] in row]
            assert len(found) == 1, (line["llama_log_key"], found)
            assert TASK_LINE.search(found[0])
        finally:
            stopped = api.delete(f"/stop/{server_uuid}")
            assert stopped.status_code in (200, 202, 204), stopped.text
