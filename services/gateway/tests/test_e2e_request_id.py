"""One request id from the caller through the `inference-gateway` process to llama.cpp's own
log and back: every API (whole and streamed) and errors answer with the caller's
`x-request-id` (or a new one when it is malformed); the gateway's log is JSON lines, one
access line per request carrying the id, server uuid, model, replica, status and timings;
and its `llama_log_key` finds llama.cpp's line for exactly that request (slot and task) in
the replica's log."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client

from inference_common.modelserve import GROUP, PLURAL, VERSION
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


def _json_lines(log: Path) -> list[dict[str, Any]]:
    """Every line of the gateway's output, each parsed as JSON (fails on any other)."""
    entries = []
    for number, line in enumerate(log.read_text().splitlines(), 1):
        try:
            entry = json.loads(line)
        except ValueError as exc:
            raise AssertionError(f"line {number} of the gateway log is not JSON: {line!r}") from exc
        assert {"time", "level", "logger", "message"} <= entry.keys(), line
        entries.append(entry)
    return entries


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

    entries = _json_lines(log)
    access = {e["request_id"]: e for e in entries if e["logger"] == "inference.access"}
    server_uuid = _server_uuid(cluster.api, cluster.namespace, "smol-rid")
    llama_log = replica.log.read_text()
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
