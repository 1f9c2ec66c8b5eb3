"""Tenant isolation against the real stack: the gateway routes a caller only to servers it
may use (its own before anybody else's, then those shared with a namespace it is allowed in,
or public ones), and Traefik lets a request through to a model
server at `/<server uuid>/` only when the gateway's ForwardAuth says so (issue 11, items 1
and 2). The routes are the operator's own manifests, applied to the stack's Traefik."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
from kubernetes import client
from sqlalchemy import select
from sqlalchemy.pool import NullPool

from inference_common.auth import TokenSigner
from inference_common.db import make_engine, make_sessionmaker, unit_of_work
from inference_common.modelserve import SERVER_UUID_LABEL, ModelServeSpec
from inference_common.server_identity import (
    NAMESPACE,
    PRIVATE,
    SIGNATURE_ANNOTATION,
    access_annotations,
    sign_server_uuid,
)
from inference_common.tables import User, UserContract
from inference_testkit.namespaces import temporary_namespace
from inference_testkit.waiting import async_wait_for
from modelserve_operator.childmeta import ManifestConfig, Owner
from modelserve_operator.routing import authz_middleware, ingress_route, middleware

from .conftest import (
    JWT_SECRET,
    MODEL,
    Cluster,
    GatewayFactory,
    Replica,
    create_api_key,
    create_user,
)

KEY = "access-tests-" + secrets.token_hex(16)


@pytest.fixture
def namespace(kube_api: client.ApiClient) -> Iterator[str]:
    """`opt-*`: the stack's own operator leaves it alone, so the routes here are the test's."""
    with temporary_namespace(kube_api, "opt") as name:
        yield name


def signed(namespace: str, name: str, owner: str, visibility: str) -> dict[str, Any]:
    """Labels and annotations of a ModelServe as the API makes it for `owner`."""
    server_uuid = str(uuid4())
    return {
        "labels": {SERVER_UUID_LABEL: server_uuid},
        "annotations": {
            SIGNATURE_ANNOTATION: sign_server_uuid(KEY, namespace, name, server_uuid),
            **access_annotations(KEY, namespace, name, server_uuid, owner, visibility),
        },
    }


def bearer(user_id: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {TokenSigner(JWT_SECRET).issue(str(user_id), 't', 'user')}"}


async def predicted_tokens(replica: Replica) -> float:
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(replica.url + "/metrics")).text
    match = re.search(r"^llamacpp:tokens_predicted_total (\S+)$", text, re.MULTILINE)
    assert match is not None, text
    return float(match.group(1))


async def test_requests_go_only_to_servers_the_caller_may_use(
    cluster: Cluster,
    replicas: list[Replica],
    gateway_factory: GatewayFactory,
    database_url: str,
    namespace: str,
) -> None:
    alice, bob, carol = [await create_user(database_url) for _ in range(3)]
    cluster.serve(
        "alice-smol",
        MODEL,
        [replicas[0].ip],
        **signed(namespace, "alice-smol", str(alice), PRIVATE),
    )
    cluster.serve(
        "bob-smol", MODEL, [replicas[1].ip], **signed(namespace, "bob-smol", str(bob), PRIVATE)
    )
    gw = await gateway_factory(server_uuid_key=KEY)
    await gw.wait_routable(MODEL, count=2)
    body = {"model": MODEL, "prompt": "Hello", "max_tokens": 2, "ignore_eos": True}

    before = [await predicted_tokens(r) for r in replicas]
    for _ in range(6):
        response = await gw.client.post("/v1/completions", headers=bearer(alice), json=body)
        assert response.status_code == 200, response.text
    after = [await predicted_tokens(r) for r in replicas]
    assert after[0] - before[0] == 12  # every one of Alice's requests went to her server
    assert after[1] == before[1]  # none to Bob's

    for _ in range(2):
        response = await gw.client.post("/v1/completions", headers=bearer(bob), json=body)
        assert response.status_code == 200, response.text
    assert await predicted_tokens(replicas[0]) == after[0]
    assert await predicted_tokens(replicas[1]) == after[1] + 4

    refused = await gw.client.post("/v1/completions", headers=bearer(carol), json=body)
    assert refused.status_code == 404, refused.text
    listed = await gw.client.get("/v1/models", headers=bearer(carol))
    assert listed.json()["data"] == []


async def allow_namespaces(database_url: str, user_id: object, namespaces: list[str]) -> None:
    """The user's contract (as the contract service stores it) allows these namespaces."""
    engine = make_engine(database_url, poolclass=NullPool)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as db:
            username = (
                await db.execute(select(User.username).where(User.id == user_id))
            ).scalar_one()
            db.add(UserContract(username=username, allowed_namespaces=namespaces))
    finally:
        await engine.dispose()


async def test_namespace_visible_server_is_used_by_its_team_only(
    cluster: Cluster,
    replicas: list[Replica],
    gateway_factory: GatewayFactory,
    database_url: str,
    namespace: str,
) -> None:
    alice, bob, carol, dave = [await create_user(database_url) for _ in range(4)]
    await allow_namespaces(database_url, bob, ["default", namespace])
    await allow_namespaces(database_url, carol, ["default"])  # dave: the default list
    team = cluster.serve(
        "alice-team",
        MODEL,
        [replicas[0].ip],
        **signed(namespace, "alice-team", str(alice), NAMESPACE),
    )
    server_uuid = team["metadata"]["labels"][SERVER_UUID_LABEL]
    gw = await gateway_factory(server_uuid_key=KEY)
    await gw.wait_routable(MODEL)
    body = {"model": MODEL, "prompt": "Hello", "max_tokens": 2, "ignore_eos": True}
    bobs_key = await create_api_key(database_url, user_id=bob)

    before = await predicted_tokens(replicas[0])
    for headers in (bearer(alice), bearer(bob), {"x-api-key": bobs_key}):
        used = await gw.client.post("/v1/completions", headers=headers, json=body)
        assert used.status_code == 200, used.text
    assert await predicted_tokens(replicas[0]) - before == 6
    listed = await gw.client.get("/v1/models", headers=bearer(bob))
    assert [m["id"] for m in listed.json()["data"]] == [MODEL]

    for outsider in (carol, dave):
        refused = await gw.client.post("/v1/completions", headers=bearer(outsider), json=body)
        assert refused.status_code == 404, refused.text
        assert (await gw.client.get("/v1/models", headers=bearer(outsider))).json()["data"] == []

    forwarded = {"X-Forwarded-Uri": f"/{server_uuid}/v1/models"}
    authz = f"/authz/servers/{server_uuid}"
    allowed = await gw.client.get(authz, headers={**bearer(bob), **forwarded})
    assert allowed.status_code == 200, allowed.text
    hidden = await gw.client.get(authz, headers={**bearer(carol), **forwarded})
    assert hidden.status_code == 404, hidden.text


def route_objects(obj: dict[str, Any], authz_url: str) -> list[dict[str, Any]]:
    """The operator's route for a ModelServe: strip and ForwardAuth middlewares, IngressRoute."""
    meta = obj["metadata"]
    server_uuid = meta.get("labels", {}).get(SERVER_UUID_LABEL) or meta["uid"]
    owner = Owner(
        name=meta["name"],
        namespace=meta["namespace"],
        uid=meta["uid"],
        server_uuid=server_uuid,
        spec=ModelServeSpec.model_validate(obj["spec"]),
    )
    config = ManifestConfig(
        llama_image="x", llama_cuda_image="x", fetch_image="x", authz_url=authz_url
    )
    authz = authz_middleware(owner, config)
    assert authz is not None
    return [middleware(owner), authz, ingress_route(owner, config)]


def apply_route(api: client.ApiClient, obj: dict[str, Any], authz_url: str) -> str:
    custom = client.CustomObjectsApi(api)
    for child in route_objects(obj, authz_url):
        plural = "middlewares" if child["kind"] == "Middleware" else "ingressroutes"
        custom.create_namespaced_custom_object(
            "traefik.io", "v1alpha1", obj["metadata"]["namespace"], plural, child
        )
    return str(route_objects(obj, authz_url)[2]["spec"]["routes"][0]["match"]).split("`")[1]


async def test_traefik_routes_only_authorized_inference_requests(
    cluster: Cluster,
    replicas: list[Replica],
    gateway_factory: GatewayFactory,
    database_url: str,
    namespace: str,
    kube_api: client.ApiClient,
    stack_env: dict[str, str],
) -> None:
    alice, bob = [await create_user(database_url) for _ in range(2)]
    public = cluster.serve("open", MODEL, [replicas[0].ip])
    private = cluster.serve(
        "bobs", MODEL, [replicas[1].ip], **signed(namespace, "bobs", str(bob), PRIVATE)
    )
    gw = await gateway_factory(server_uuid_key=KEY)
    await gw.wait_routable(MODEL, count=2)
    traefik = stack_env["TRAEFIK_URL"]
    open_prefix = apply_route(kube_api, public, gw.url)
    bobs_prefix = apply_route(kube_api, private, gw.url)

    async with httpx.AsyncClient(base_url=traefik, timeout=60) as http:

        async def routed() -> bool:
            response = await http.get(f"{open_prefix}health", headers=bearer(alice))
            return response.status_code == 200

        await async_wait_for(routed, timeout=30, interval=0.2, what="route through ForwardAuth")
        chat = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
        path = f"{open_prefix}v1/chat/completions"

        anonymous = await http.post(path, json=chat)
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.json()["error"]["message"].startswith("missing credentials")
        wrong = await http.post(path, json=chat, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        answered = await http.post(path, json=chat, headers=bearer(alice))
        assert answered.status_code == 200, answered.text
        assert answered.json()["choices"][0]["message"]["content"] is not None

        for hidden in ("slots", "props", "metrics", "lora-adapters", "", "v1/../props"):
            refused = await http.get(f"{open_prefix}{hidden}", headers=bearer(alice))
            assert refused.status_code in (403, 404), (hidden, refused.text)
            assert "error" in refused.json(), hidden
        # a client's own X-Forwarded-Uri does not reach the gateway in place of the real one
        spoofed = await http.get(
            f"{open_prefix}props",
            headers={**bearer(alice), "X-Forwarded-Uri": f"{open_prefix}v1/models"},
        )
        assert spoofed.status_code == 403, spoofed.text

        limited = await create_api_key(database_url, allowed_models=["another:1b"])
        by_key = await http.post(path, json=chat, headers={"x-api-key": limited})
        assert by_key.status_code == 403, by_key.text

        foreign = await http.get(f"{bobs_prefix}v1/models", headers=bearer(alice))
        assert foreign.status_code == 404, foreign.text
        own = await http.get(f"{bobs_prefix}v1/models", headers=bearer(bob))
        assert own.status_code == 200, own.text
