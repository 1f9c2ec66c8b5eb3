"""Which models a user may see and serve: uploads are private until their owner shares them
(`PATCH /models/{uuid}`); the contract service refuses a serve of a model the user may not
serve (`model_not_allowed`), public ones serve, shared ones only in their namespaces."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from .conftest import Api
from .gguf_files import gguf_bytes
from .routes.test_servers import OCTET, modelserves, upload
from .test_contract_serving import _username


async def _listed(api: Api, headers: dict[str, str]) -> set[str]:
    response = await api.client.get("/models", params={"limit": 1000}, headers=headers)
    assert response.status_code == 200, response.text
    return {m["uuid"] for m in response.json()}


async def _share(api: Api, model: dict[str, Any], headers: dict[str, str], **body: Any) -> Any:
    return await api.client.patch(f"/models/{model['uuid']}", json=body, headers=headers)


async def test_uploads_are_private_and_the_owner_shares_them(api: Api, tmp_path: Path) -> None:
    _, alice = await api.new_user()
    _, bob = await api.new_user()
    admin = await api.admin()
    model = await upload(api, alice, tmp_path)
    assert (model["visibility"], model["shared_with"]) == ("private", [])

    assert model["uuid"] in await _listed(api, alice)
    assert model["uuid"] in await _listed(api, admin)
    assert model["uuid"] not in await _listed(api, bob)
    assert (await api.client.get(f"/models/{model['uuid']}", headers=bob)).status_code == 404
    assert (await _share(api, model, bob, visibility="public")).status_code == 404

    # shared with a namespace bob may not serve in: still not his to see
    shared = await _share(api, model, alice, visibility="shared", shared_with=["team-x"])
    assert shared.status_code == 200, shared.text
    assert (shared.json()["visibility"], shared.json()["shared_with"]) == ("shared", ["team-x"])
    assert model["uuid"] not in await _listed(api, bob)
    bob_name = await _username(api, bob)
    put = await api.contract.put(
        f"/contracts/users/{bob_name}", json={"allowed_namespaces": ["team-x"]}, headers=admin
    )
    assert put.status_code == 200, put.text
    assert model["uuid"] in await _listed(api, bob)
    assert (await api.client.get(f"/models/{model['uuid']}", headers=bob)).status_code == 200
    # seeing is not owning
    assert (await _share(api, model, bob, visibility="public")).status_code == 403

    public = await _share(api, model, admin, visibility="public")
    assert (public.json()["visibility"], public.json()["shared_with"]) == ("public", [])
    _, carol = await api.new_user()
    assert model["uuid"] in await _listed(api, carol)


@pytest.mark.parametrize(
    "body",
    [
        {"visibility": "shared"},
        {"visibility": "shared", "shared_with": []},
        {"visibility": "public", "shared_with": ["team-x"]},
        {"visibility": "namespace"},
        {"visibility": "shared", "shared_with": ["Not_A_Namespace"]},
    ],
)
async def test_invalid_sharing_is_422(api: Api, tmp_path: Path, body: dict[str, Any]) -> None:
    _, alice = await api.new_user()
    model = await upload(api, alice, tmp_path)
    response = await _share(api, model, alice, **body)
    assert response.status_code == 422, response.text
    assert "error" in response.json()


async def test_upload_may_be_public_at_once(api: Api, tmp_path: Path) -> None:
    _, alice = await api.new_user()
    _, bob = await api.new_user()
    response = await api.client.post(
        "/models",
        params={"name": "public-at-once:1b", "visibility": "public"},
        content=gguf_bytes(tmp_path, tokens=33),
        headers={**alice, **OCTET},
    )
    assert response.status_code == 201, response.text
    assert response.json()["visibility"] == "public"
    assert response.json()["uuid"] in await _listed(api, bob)


async def test_serving_another_users_model_follows_its_visibility(
    api: Api, kube_api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    _, alice = await api.new_user()
    _, bob = await api.new_user()
    model = await upload(api, alice, tmp_path)

    refused = await api.client.post("/serve", json={"model_uuid": model["uuid"]}, headers=bob)
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["detail"]["rule"] == "model_not_allowed"
    assert error["message"].startswith("model_not_allowed: ")
    by_name = await api.client.post("/serve", json={"model_name": model["name"]}, headers=bob)
    assert by_name.status_code == 403, by_name.text
    assert await asyncio.to_thread(modelserves, kube_api, namespace) == []

    elsewhere = await _share(api, model, alice, visibility="shared", shared_with=["team-x"])
    assert elsewhere.status_code == 200, elsewhere.text
    refused = await api.client.post("/serve", json={"model_uuid": model["uuid"]}, headers=bob)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["detail"]["rule"] == "model_not_allowed"

    here = await _share(api, model, alice, visibility="shared", shared_with=[namespace])
    assert here.status_code == 200, here.text
    served = await api.client.post("/serve", json={"model_uuid": model["uuid"]}, headers=bob)
    assert served.status_code == 201, served.text
    stop = await api.client.delete(f"/stop/{served.json()['server_uuid']}", headers=bob)
    assert stop.status_code == 200, stop.text

    public = await _share(api, model, alice, visibility="public")
    assert public.status_code == 200, public.text
    served = await api.client.post("/serve", json={"model_uuid": model["uuid"]}, headers=bob)
    assert served.status_code == 201, served.text
    stop = await api.client.delete(f"/stop/{served.json()['server_uuid']}", headers=bob)
    assert stop.status_code == 200, stop.text
