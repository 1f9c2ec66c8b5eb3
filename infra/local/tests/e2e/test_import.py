"""Issue 13 end to end: the model `make up` seeds in the quantization cluster's MinIO is
imported through the running download service into ours, listed by the API's `GET /models`
with where it came from, then served, and it answers through Traefik."""

from __future__ import annotations

import json
from typing import Any

import httpx
from kubernetes import client

from inference_localstack.quant_cluster import SEED_NAME, SEED_UUID
from inference_testkit.object_store import minio_from_env
from inference_testkit.waiting import wait_for

from .conftest import PhaseRecorder, bearer, chat, pods_of

SERVERS_NAMESPACE = "inference"
FINAL = {"Done", "Failed", "Cancelled"}


def _seed_manifest(env: dict[str, str]) -> dict[str, Any]:
    quant = minio_from_env(env, "QUANT_S3")
    response = quant.get_object(env["QUANT_BUCKET"], f"{SEED_UUID}/manifest.json")
    try:
        manifest: dict[str, Any] = json.loads(response.read())
    finally:
        response.close()
        response.release_conn()
    return manifest


def _answers(url: str, headers: dict[str, str]) -> bool:
    try:
        return httpx.get(url, headers=headers, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _import(env: dict[str, str], headers: dict[str, str]) -> dict[str, Any]:
    with httpx.Client(base_url=env["DOWNLOAD_URL"], headers=headers, timeout=30) as download:
        offered = download.get("/quant/models").raise_for_status().json()
        assert str(SEED_UUID) in {m["model_uuid"] for m in offered}, offered
        started = download.post(f"/download/{SEED_UUID}")
        assert started.status_code == 202, started.text

        def final() -> dict[str, Any] | None:
            body: dict[str, Any] = download.get(f"/status/{SEED_UUID}").raise_for_status().json()
            return body if body["phase"] in FINAL else None

        return wait_for(final, timeout=300, what="import of the seeded model")


def test_import_the_seeded_model_then_serve_it(
    stack_env: dict[str, str], api: httpx.Client, kube_api: client.ApiClient
) -> None:
    assert "DOWNLOAD_URL" in stack_env, "the stack predates the download service: `make up`"
    manifest = _seed_manifest(stack_env)
    assert manifest["name"] == SEED_NAME

    job = _import(stack_env, {"Authorization": api.headers["Authorization"]})
    assert job["phase"] == "Done", job
    assert job["bytes_done"] == job["bytes_total"] == manifest["files"][0]["size_bytes"]

    models = api.get("/models", params={"limit": 1000}).raise_for_status().json()
    [model] = [m for m in models if m["uuid"] == str(SEED_UUID)]
    assert model["name"] == SEED_NAME
    assert model["source"] == f"quant:{SEED_UUID}"
    assert model["sha256"] == manifest["files"][0]["sha256"]
    assert model["architecture"] == "llama"

    served = api.post(
        "/serve",
        json={"model_name": SEED_NAME, "replicas": 1, "runtime_params": "--ctx-size 2048"},
    )
    assert served.status_code in (200, 201), served.text
    server_uuid, endpoint = served.json()["server_uuid"], served.json()["endpoint"]
    recorder = PhaseRecorder(kube_api, SERVERS_NAMESPACE, server_uuid)
    try:
        recorder.wait_for("Ready", timeout=240)
        traefik = stack_env["TRAEFIK_URL"]
        wait_for(
            lambda: _answers(f"{traefik}{endpoint}health", bearer(api)), timeout=30, what="route"
        )
        answer = chat(traefik, endpoint, stream=False, headers=bearer(api))
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"].strip()
    finally:
        recorder.stop()
        api.delete(f"/stop/{server_uuid}")
    wait_for(
        lambda: not pods_of(kube_api, SERVERS_NAMESPACE, server_uuid), timeout=90, what="pod gone"
    )
