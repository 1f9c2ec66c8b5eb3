from __future__ import annotations

import asyncio
import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from pydantic import TypeAdapter
from sqlalchemy import text

from inference_api.mirror import mirrored_server, reasons
from inference_api.repositories.servers import ServerRepository
from inference_api.schemas import ServerOut
from inference_common.db import unit_of_work
from inference_common.modelserve import GROUP, PLURAL, SERVER_UUID_LABEL, VERSION
from inference_common.server_identity import ServerAccess, issued_server_uuid, trusted_access
from inference_testkit.gguf_files import write_gguf
from inference_testkit.waiting import async_wait_for

from ..conftest import Api, ApiFactory

OCTET = {"content-type": "application/octet-stream"}


def get_modelserve(kube_api: client.ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        obj: dict[str, Any] = client.CustomObjectsApi(kube_api).get_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name
        )
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return obj


async def write_status(
    kube_api: client.ApiClient, namespace: str, name: str, status: dict[str, Any]
) -> None:
    await asyncio.to_thread(
        client.CustomObjectsApi(kube_api).patch_namespaced_custom_object_status,
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        name,
        {"status": status},
    )


def modelserves(kube_api: client.ApiClient, namespace: str) -> list[dict[str, Any]]:
    listed = client.CustomObjectsApi(kube_api).list_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL
    )
    items: list[dict[str, Any]] = listed["items"]
    return items


async def upload(api: Api, headers: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    # unique per call (a random metadata value): a random token count alone collided
    data = write_gguf(tmp_path / "t.gguf", context_length=4096, tokens=100).read_bytes()
    response = await api.post_model(headers, f"m-{secrets.token_hex(4)}:1b", data)
    assert response.status_code == 201, response.text
    model: dict[str, Any] = response.json()
    return model


async def test_serve_creates_the_modelserve_and_stop_removes_it(
    api: Api, kube_api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    user_id, alice = await api.new_user()
    model = await upload(api, alice, tmp_path)
    response = await api.client.post(
        "/serve",
        json={
            "model_name": model["name"],
            "replicas": 2,
            "runtime_params": "--ctx-size 2048 -ngl 99 --temp 0.7",
        },
        headers=alice,
    )
    assert response.status_code == 201, response.text
    served = response.json()
    server_uuid = served["server_uuid"]
    assert served["endpoint"] == f"/{server_uuid}/"
    assert served["namespace"] == namespace

    obj = await asyncio.to_thread(get_modelserve, kube_api, namespace, served["name"])
    assert obj is not None
    assert obj["metadata"]["labels"][SERVER_UUID_LABEL] == server_uuid
    # signed for this very object, so the operator routes it at the uuid the API issued
    key = api.settings.server_uuid_key.get_secret_value()
    assert issued_server_uuid(obj["metadata"], key) == server_uuid
    spec = obj["spec"]
    assert spec["replicas"] == 2
    assert spec["model"] == {
        "name": model["name"],
        "uuid": model["uuid"],
        "source": {
            "s3": {"bucket": api.settings.models_bucket, "key": f"models/{model['uuid']}.gguf"}
        },
        "sha256": model["sha256"],
        "sizeBytes": model["size_bytes"],
    }
    assert spec["runtime"]["contextSize"] == 2048
    assert spec["runtime"]["gpuLayers"] == 99
    assert spec["runtime"]["extraArgs"] == ["--temp", "0.7"]

    status = await api.client.get("/status", headers=alice)
    mine = [s for s in status.json() if s["server_uuid"] == server_uuid]
    assert len(mine) == 1
    assert mine[0]["owner_id"] == user_id
    assert mine[0]["model_uuid"] == model["uuid"]

    # The model cannot be deleted while served.
    busy = await api.client.delete(f"/models/{model['uuid']}", headers=alice)
    assert busy.status_code == 409

    stopped = await api.client.delete(f"/stop/{server_uuid}", headers=alice)
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["phase"] == "Stopped"
    assert stopped.json()["stopped_at"] is not None
    assert await asyncio.to_thread(get_modelserve, kube_api, namespace, served["name"]) is None

    listed = (await api.client.get("/status", headers=alice)).json()
    assert server_uuid not in {s["server_uuid"] for s in listed}
    history = (await api.client.get("/status?include_stopped=true", headers=alice)).json()
    assert server_uuid in {s["server_uuid"] for s in history}
    # Once stopped, the model can go; the stopped record keeps its history.
    assert (await api.client.delete(f"/models/{model['uuid']}", headers=alice)).status_code == 204
    record = await api.client.get(f"/servers/{server_uuid}", headers=alice)
    assert record.status_code == 200
    assert record.json()["model_name"] == model["name"]


async def test_ownership_rules(api: Api, namespace: str, tmp_path: Path) -> None:
    _, alice = await api.new_user()
    _, bob = await api.new_user()
    admin = await api.admin()
    model = await upload(api, alice, tmp_path)
    served = await api.client.post("/serve", json={"model_uuid": model["uuid"]}, headers=alice)
    assert served.status_code == 201, served.text
    server_uuid = served.json()["server_uuid"]

    def uuids(response: Any) -> set[str]:
        return {s["server_uuid"] for s in response.json()}

    assert server_uuid in uuids(await api.client.get("/status", headers=alice))
    assert server_uuid not in uuids(await api.client.get("/status", headers=bob))
    assert server_uuid in uuids(await api.client.get("/status", headers=admin))
    assert (await api.client.get(f"/servers/{server_uuid}", headers=bob)).status_code == 404
    assert (await api.client.delete(f"/stop/{server_uuid}", headers=bob)).status_code == 404
    assert (await api.client.get(f"/servers/{server_uuid}", headers=admin)).status_code == 200
    assert (await api.client.delete(f"/stop/{server_uuid}", headers=admin)).status_code == 200


async def test_visibility_is_signed_on_the_modelserve_and_changed_by_owner_or_admin(
    api: Api, kube_api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    alice_id, alice = await api.new_user()
    _, bob = await api.new_user()
    admin = await api.admin()
    key = api.settings.server_uuid_key.get_secret_value()
    model = await upload(api, alice, tmp_path)
    served = await api.client.post("/serve", json={"model_uuid": model["uuid"]}, headers=alice)
    assert served.status_code == 201, served.text
    server_uuid, name = served.json()["server_uuid"], served.json()["name"]

    async def access() -> ServerAccess:
        obj = await asyncio.to_thread(get_modelserve, kube_api, namespace, name)
        assert obj is not None
        return trusted_access(obj["metadata"], key)

    assert await access() == ServerAccess(alice_id, "private")
    record = await api.client.get(f"/servers/{server_uuid}", headers=alice)
    assert record.json()["visibility"] == "private"

    path = f"/servers/{server_uuid}"
    foreign = await api.client.patch(path, json={"visibility": "public"}, headers=bob)
    assert foreign.status_code == 404
    invalid = await api.client.patch(path, json={"visibility": "team"}, headers=alice)
    assert invalid.status_code == 422
    shared = await api.client.patch(path, json={"visibility": "public"}, headers=alice)
    assert shared.status_code == 200, shared.text
    assert shared.json()["visibility"] == "public"
    assert await access() == ServerAccess(alice_id, "public")  # the owner stays alice
    hidden = await api.client.patch(path, json={"visibility": "private"}, headers=admin)
    assert hidden.status_code == 200, hidden.text
    assert await access() == ServerAccess(alice_id, "private")
    team = await api.client.patch(path, json={"visibility": "namespace"}, headers=alice)
    assert team.status_code == 200, team.text
    assert team.json()["visibility"] == "namespace"
    assert await access() == ServerAccess(alice_id, "namespace")

    assert (await api.client.delete(f"/stop/{server_uuid}", headers=alice)).status_code == 200
    stopped = await api.client.patch(path, json={"visibility": "public"}, headers=alice)
    assert stopped.status_code == 409


async def test_a_namespace_visible_server_is_seen_read_only_by_its_namespace_only(
    api: Api, namespace: str, tmp_path: Path
) -> None:
    """Bob's contract allows the server's namespace: he sees it, its events and pods, and
    may change nothing (403). Carol (no contract: the global default, which does not hold
    this test's namespace) and Dave (a contract for another namespace) do not see it."""
    _, alice = await api.new_user()
    admin = await api.admin()
    people: dict[str, dict[str, str]] = {}
    for who, allowed in (("bob", [namespace]), ("carol", None), ("dave", ["elsewhere"])):
        _, headers = await api.new_user()
        people[who] = headers
        if allowed is not None:
            username = (await api.client.get("/users/me", headers=headers)).json()["username"]
            put = await api.contract.put(
                f"/contracts/users/{username}", json={"allowed_namespaces": allowed}, headers=admin
            )
            assert put.status_code == 200, put.text
    model = await upload(api, alice, tmp_path)
    served = await api.client.post(
        "/serve", json={"model_uuid": model["uuid"], "visibility": "namespace"}, headers=alice
    )
    assert served.status_code == 201, served.text
    server_uuid = served.json()["server_uuid"]
    path = f"/servers/{server_uuid}"

    async def listed(headers: dict[str, str]) -> bool:
        response = await api.client.get("/status", headers=headers)
        assert response.status_code == 200, response.text
        return server_uuid in {s["server_uuid"] for s in response.json()}

    bob = people["bob"]
    assert await listed(bob)
    assert (await api.client.get(path, headers=bob)).json()["visibility"] == "namespace"
    assert (await api.client.get(f"{path}/events", headers=bob)).status_code == 200
    assert (await api.client.get(f"{path}/pods", headers=bob)).status_code == 200
    changes = [
        api.client.patch(path, json={"replicas": 2}, headers=bob),
        api.client.patch(path, json={"visibility": "public"}, headers=bob),
        api.client.delete(f"/stop/{server_uuid}", headers=bob),
    ]
    for change in changes:
        refused = await change
        assert refused.status_code == 403, refused.text
        assert "only its owner or an admin" in refused.json()["error"]["message"]
    for outsider in (people["carol"], people["dave"]):
        assert not await listed(outsider)
        assert (await api.client.get(path, headers=outsider)).status_code == 404
        assert (await api.client.get(f"{path}/events", headers=outsider)).status_code == 404
        foreign = await api.client.patch(path, json={"replicas": 2}, headers=outsider)
        assert foreign.status_code == 404

    private = await api.client.patch(path, json={"visibility": "private"}, headers=alice)
    assert private.status_code == 200, private.text
    assert not await listed(bob)
    assert (await api.client.get(path, headers=bob)).status_code == 404
    assert (await api.client.delete(f"/stop/{server_uuid}", headers=alice)).status_code == 200


async def test_without_a_contract_the_global_default_says_who_sees_a_shared_server(
    api_factory: ApiFactory, namespace: str, tmp_path: Path
) -> None:
    async with api_factory(allowed_namespaces=[namespace]) as api:
        _, alice = await api.new_user()
        _, bob = await api.new_user()
        model = await upload(api, alice, tmp_path)
        served = await api.client.post(
            "/serve", json={"model_uuid": model["uuid"], "visibility": "namespace"}, headers=alice
        )
        assert served.status_code == 201, served.text
        server_uuid = served.json()["server_uuid"]
        listed = (await api.client.get("/status", headers=bob)).json()
        assert [s["server_uuid"] for s in listed] == [server_uuid]
        stop = await api.client.delete(f"/stop/{server_uuid}", headers=bob)
        assert stop.status_code == 403
        assert (await api.client.delete(f"/stop/{server_uuid}", headers=alice)).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"runtime_params": "--model /etc/passwd"}, 422, "--model"),
        ({"runtime_params": "--host 0.0.0.0"}, 422, "--host"),
        ({"runtime_params": "--ctx-size lots"}, 422, "--ctx-size"),
        ({"runtime_params": "--ctx-size 2048 ; rm -rf /"}, 422, ";"),
        ({"replicas": 6}, 422, "replicas"),
        ({"namespace": "kube-system"}, 403, "kube-system"),
        ({"gpu": {"count": 0, "product": "NVIDIA-GeForce-RTX-4090"}}, 422, "gpu"),
    ],
)
async def test_refused_serve_requests(
    api: Api,
    kube_api: client.ApiClient,
    namespace: str,
    tmp_path: Path,
    body: dict[str, Any],
    status: int,
    needle: str,
) -> None:
    headers = await api.admin()
    model = await upload(api, headers, tmp_path)
    response = await api.client.post(
        "/serve", json={"model_uuid": model["uuid"], **body}, headers=headers
    )
    assert response.status_code == status, response.text
    assert needle in response.json()["error"]["message"]
    assert modelserves(kube_api, namespace) == []


@pytest.mark.parametrize(
    "body",
    [
        {"model_name": "does-not-exist"},
        {"model_uuid": "00000000-0000-4000-8000-000000000000"},
    ],
)
async def test_serving_an_unknown_model_is_404(api: Api, body: dict[str, Any]) -> None:
    response = await api.client.post("/serve", json=body, headers=await api.admin())
    assert response.status_code == 404


async def test_status_is_mirrored_from_modelserves_applied_with_kubectl(
    api: Api, kube_api: client.ApiClient, quiet_namespace: str
) -> None:
    namespace = quiet_namespace  # the stack's operator would write status here too
    admin = await api.admin()
    _, alice = await api.new_user()
    custom = client.CustomObjectsApi(kube_api)
    name = f"manual-{secrets.token_hex(3)}"
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelServe",
        "metadata": {"name": name},
        "spec": {
            "model": {
                "name": "manual:1b",
                "source": {"s3": {"bucket": "inference-models", "key": "models/x.gguf"}},
                "sha256": "a" * 64,
            },
            "replicas": 1,
        },
    }
    created = await asyncio.to_thread(
        custom.create_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, body
    )
    uid = created["metadata"]["uid"]

    async def listed() -> dict[str, Any] | None:
        servers = (await api.client.get("/status", headers=admin)).json()
        return next((s for s in servers if s["server_uuid"] == uid), None)

    server = await async_wait_for(listed)
    assert server["name"] == name
    assert server["namespace"] == namespace
    assert server["model_name"] == "manual:1b"
    assert server["owner_id"] is None
    assert server["endpoint"] == f"/{uid}/"
    # Not visible to ordinary users: it has no owner.
    assert uid not in {
        s["server_uuid"] for s in (await api.client.get("/status", headers=alice)).json()
    }

    # Status written to the ModelServe shows up in /status (no per-request polling).
    await write_status(
        kube_api,
        namespace,
        name,
        {
            "phase": "Pending",
            "readyReplicas": 0,
            "conditions": [
                {
                    "type": "Scheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "Insufficient nvidia.com/gpu",
                }
            ],
        },
    )

    async def mirrors_the_modelserve() -> bool:
        # Whoever writes the status (this test, or an operator if one runs), /status shows it.
        obj = await asyncio.to_thread(get_modelserve, kube_api, namespace, name)
        found = await listed()
        if obj is None or found is None:
            return False
        status = obj.get("status") or {}
        return bool(
            found["phase"] == status.get("phase", "Pending")
            and found["ready_replicas"] == status.get("readyReplicas", 0)
            and found["reasons"] == reasons(status.get("conditions") or [])
            and found["reasons"]
        )

    await async_wait_for(mirrors_the_modelserve)

    await asyncio.to_thread(
        custom.delete_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, name
    )

    async def stopped() -> bool:
        response = await api.client.get(f"/servers/{uid}", headers=admin)
        return bool(response.json()["stopped_at"])

    await async_wait_for(stopped)


async def test_a_modelserve_claiming_another_servers_uuid_leaves_its_record_alone(
    api: Api, kube_api: client.ApiClient, quiet_namespace: str
) -> None:
    """The uuid label is only a claim: the mirror updates a record only from the object it was
    made for, and an intruder (whose route the operator puts at its own uid) gets its own."""
    namespace = quiet_namespace
    admin = await api.admin()
    custom = client.CustomObjectsApi(kube_api)

    def body(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ModelServe",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {
                "model": {
                    "name": "claimed:1b",
                    "source": {"s3": {"bucket": "inference-models", "key": "models/x.gguf"}},
                    "sha256": "a" * 64,
                },
                "replicas": 1,
            },
        }

    async def create(obj: dict[str, Any]) -> str:
        created = await asyncio.to_thread(
            custom.create_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, obj
        )
        return str(created["metadata"]["uid"])

    async def record(server_uuid: str) -> dict[str, Any] | None:
        response = await api.client.get(f"/servers/{server_uuid}", headers=admin)
        return response.json() if response.status_code == 200 else None

    victim = f"victim-{secrets.token_hex(3)}"
    victim_uid = await create(body(victim))
    ready = {"phase": "Ready", "readyReplicas": 1, "serverUuid": victim_uid}
    await write_status(kube_api, namespace, victim, {**ready, "endpoint": f"/{victim_uid}/"})

    async def victim_ready() -> bool:
        found = await record(victim_uid)
        return found is not None and found["phase"] == "Ready"

    await async_wait_for(victim_ready)

    intruder = f"intruder-{secrets.token_hex(3)}"
    intruder_uid = await create(body(intruder, {SERVER_UUID_LABEL: victim_uid}))
    # what the operator writes: the route at the intruder's own uid
    await write_status(
        kube_api, namespace, intruder, {"phase": "Pending", "serverUuid": intruder_uid}
    )
    own = await async_wait_for(lambda: record(intruder_uid))
    assert (own["name"], own["phase"]) == (intruder, "Pending")

    await asyncio.to_thread(
        custom.delete_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, intruder
    )

    async def intruder_stopped() -> bool:
        found = await record(intruder_uid)
        return found is not None and found["stopped_at"] is not None

    await async_wait_for(intruder_stopped)
    kept = await record(victim_uid)
    assert kept is not None
    assert (kept["name"], kept["phase"], kept["ready_replicas"], kept["stopped_at"]) == (
        victim,
        "Ready",
        1,
        None,
    )


CONDITION_CASES: list[list[Any]] = [
    [],
    [{"type": "Ready", "status": "True", "reason": "Ok"}],
    [
        {
            "type": "Scheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "Insufficient nvidia.com/gpu",
        },
        {"type": "Ready", "status": "Unknown", "reason": "Loading"},
    ],
    [{"type": "Ready", "status": "False"}],
    [{"type": "Ready", "status": "False", "message": "only a message"}],
    [{"type": "Ready", "status": "False", "reason": "", "message": "empty reason"}],
    ["not-an-object", {"status": "False", "reason": "Kept"}],
]


async def test_status_rendering_matches_the_schema_and_the_reference_reasons(api: Api) -> None:
    """Mirrored status → servers table → /status (rendered by Postgres) fits ServerOut and
    carries the reasons of `mirror.reasons`."""
    admin = await api.admin()
    created: dict[str, list[Any]] = {}
    async with unit_of_work(api.state.sessions) as session:
        for conditions in CONDITION_CASES:
            server_uuid = str(uuid4())
            obj = {
                "metadata": {
                    "name": f"render-{server_uuid[:8]}",
                    "namespace": "inference",
                    "labels": {SERVER_UUID_LABEL: server_uuid},
                },
                "spec": {"model": {"name": "render:1b"}, "replicas": 1},
                "status": {"phase": "Pending", "conditions": conditions},
            }
            mirrored = mirrored_server(obj)
            assert mirrored is not None
            await ServerRepository(session).upsert_mirror(mirrored)
            created[server_uuid] = conditions
    response = await api.client.get("/status", headers=admin)
    assert response.status_code == 200
    servers = TypeAdapter(list[ServerOut]).validate_json(response.content)
    by_uuid = {str(s.server_uuid): s for s in servers}
    for server_uuid, conditions in created.items():
        expected = reasons([c for c in conditions if isinstance(c, dict)])
        assert by_uuid[server_uuid].reasons == expected, conditions
        single = await api.client.get(f"/servers/{server_uuid}", headers=admin)
        assert ServerOut.model_validate_json(single.content) == by_uuid[server_uuid]


# The rendering /status used before (json_build_object): the reference for the same values.
REFERENCE_JSON = """
SELECT json_build_object(
    'server_uuid', p.uuid, 'name', p.name, 'namespace', p.namespace,
    'model_uuid', p.model_uuid, 'model_name', p.model_name, 'owner_id', p.owner_id,
    'replicas', p.replicas, 'ready_replicas', p.ready_replicas, 'phase', p.phase,
    'reasons', p.reasons, 'endpoint', p.endpoint, 'runtime', p.runtime, 'gpu', p.gpu,
    'created_at', p.created_at, 'updated_at', p.updated_at, 'stopped_at', p.stopped_at,
    'visibility', p.visibility
)::text FROM servers p WHERE p.uuid = :uuid
"""


async def test_status_json_is_exact_for_awkward_values(api: Api) -> None:
    """Strings that need escaping, unicode, NULLs and a stopped server come out of the
    concatenated rendering as the same JSON values json_build_object gives, in ServerOut's
    field order."""
    admin = await api.admin()
    awkward = 'quote " backslash \\ newline \n tab \t bell \x07 unicode é ✓ 🦙 </script>'
    rows = [
        {
            "uuid": uuid4(),
            "name": f"awkward-{secrets.token_hex(3)}",
            "namespace": "inference",
            "model_uuid": None,
            "model_name": awkward,
            "owner_id": None,
            "replicas": 3,
            "gpu": {"count": 2, "product": awkward, "nested": [1, 2.5, None, True]},
            "runtime": {"extraArgs": ["--temp", "0.7"], "contextSize": 8192},
            "phase": "Degraded",
            "ready_replicas": 1,
            "endpoint": "/x/",
            "conditions": [],
            "reasons": [awkward, "Unschedulable: Insufficient nvidia.com/gpu"],
            "stopped_at": None,
        },
        {
            "uuid": uuid4(),
            "name": f"stopped-{secrets.token_hex(3)}",
            "namespace": "inference",
            "model_uuid": None,
            "model_name": "plain:1b",
            "owner_id": None,
            "replicas": 0,
            "gpu": {},
            "runtime": {},
            "phase": "Stopped",
            "ready_replicas": 0,
            "endpoint": "/y/",
            "conditions": [],
            "reasons": [],
            "stopped_at": datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC),
        },
    ]
    async with unit_of_work(api.state.sessions) as session:
        for row in rows:
            await ServerRepository(session).add(**row)
    response = await api.client.get("/status", params={"include_stopped": "true"}, headers=admin)
    assert response.status_code == 200
    listed = {item["server_uuid"]: item for item in json.loads(response.content)}
    async with unit_of_work(api.state.sessions) as session:
        for row in rows:
            reference = (
                await session.execute(text(REFERENCE_JSON), {"uuid": row["uuid"]})
            ).scalar_one()
            mine = listed[str(row["uuid"])]
            assert mine == json.loads(reference)
            assert list(mine) == list(ServerOut.model_fields)
            ServerOut.model_validate(mine)
            single = await api.client.get(f"/servers/{row['uuid']}", headers=admin)
            assert single.json() == mine
    assert listed[str(rows[0]["uuid"])]["model_name"] == awkward
    assert listed[str(rows[1]["uuid"])]["stopped_at"] is not None
    # Without include_stopped the stopped one is left out.
    running = (await api.client.get("/status", headers=admin)).json()
    assert str(rows[1]["uuid"]) not in {item["server_uuid"] for item in running}


def largest_gpu_node(kube_api: client.ApiClient) -> int:
    nodes = client.CoreV1Api(kube_api).list_node().items
    return max(int((n.status.allocatable or {}).get("nvidia.com/gpu", 0)) for n in nodes)


@pytest.mark.parametrize(
    ("role", "body", "status", "needle", "rule"),
    [
        (
            "user",
            {"runtime_params": "--ctx-size 4194304"},
            422,
            "runtime_params: --ctx-size 4194304 exceeds the model's context length 4096",
            "context_length",
        ),
        (
            "user",
            {"runtime_params": "--mlock"},
            403,
            "--mlock is for admins only",
            "admin_only_flag",
        ),
        (
            "user",
            {"runtime_params": "-c 2048 --no-mmap"},
            403,
            "--no-mmap is for admins only",
            "admin_only_flag",
        ),
        (
            "user",
            {"runtime_params": "--parallel 256"},
            422,
            "parallel slots 256 is above the limit of 32",
            "parallel_exceeded",
        ),
        (
            "admin",
            {"runtime_params": "--parallel 33"},
            422,
            "parallel slots 33 is above the limit of 32",
            "parallel_exceeded",
        ),
        (
            "user",
            {"replicas": 6},
            422,
            "replicas_per_server_exceeded",
            "replicas_per_server_exceeded",
        ),
        (
            "user",
            {"namespace": "kube-system"},
            403,
            "namespace_not_allowed",
            "namespace_not_allowed",
        ),
        (
            "admin",
            {"runtime_params": "-c 8192"},
            422,
            "exceeds the model's context length 4096",
            "context_length",
        ),
    ],
)
async def test_serve_limits(
    api: Api,
    kube_api: client.ApiClient,
    namespace: str,
    tmp_path: Path,
    role: str,
    body: dict[str, Any],
    status: int,
    needle: str,
    rule: str,
) -> None:
    headers = await api.admin() if role == "admin" else (await api.new_user())[1]
    model = await upload(api, headers, tmp_path)
    response = await api.client.post(
        "/serve", json={"model_uuid": model["uuid"], **body}, headers=headers
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert needle in error["message"]
    assert error["detail"]["rule"] == rule
    assert modelserves(kube_api, namespace) == []


async def test_more_gpus_than_any_node_has_is_refused_with_the_largest_free(
    api: Api, kube_api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    largest = await asyncio.to_thread(largest_gpu_node, kube_api)
    assert largest >= 1, "the stack's simulated GPU nodes are missing"
    _, alice = await api.new_user()
    model = await upload(api, alice, tmp_path)
    response = await api.client.post(
        "/serve",
        json={"model_uuid": model["uuid"], "gpu": {"count": largest + 1}},
        headers=alice,
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["message"].startswith(
        f"gpu.count {largest + 1} can never be scheduled: the largest eligible node has "
        f"{largest} nvidia.com/gpu (largest free now: "
    )
    assert error["detail"]["largest_node_gpus"] == largest
    assert 0 <= error["detail"]["largest_free"]["gpus"] <= largest
    # A product no node has: nothing is eligible.
    absent = await api.client.post(
        "/serve",
        json={"model_uuid": model["uuid"], "gpu": {"count": 1, "product": "No-Such-GPU"}},
        headers=alice,
    )
    assert absent.status_code == 422, absent.text
    assert "(no eligible node)" in absent.json()["error"]["message"]
    assert modelserves(kube_api, namespace) == []


async def test_serves_within_the_limits_still_work(
    api: Api, kube_api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    _, alice = await api.new_user()
    admin = await api.admin()
    model = await upload(api, alice, tmp_path)
    requests = [
        (alice, {"runtime_params": "--ctx-size 4096 --parallel 32", "gpu": {"count": 1}}),
        (admin, {"runtime_params": "--mlock --no-mmap --parallel 32"}),
    ]
    names: set[str] = set()
    for headers, body in requests:
        response = await api.client.post(
            "/serve", json={"model_uuid": model["uuid"], **body}, headers=headers
        )
        assert response.status_code == 201, response.text
        names.add(response.json()["name"])
    assert {item["metadata"]["name"] for item in modelserves(kube_api, namespace)} == names
