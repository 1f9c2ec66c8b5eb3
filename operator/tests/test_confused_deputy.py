"""The operator is no confused deputy (against the real apiserver, one operator per test): a
ModelServe cannot borrow another server's uuid without the API's signature, and the operator
never writes over an object that is not its ModelServe's own."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from kubernetes import client

from inference_common.modelserve import SERVER_UUID_LABEL
from inference_common.server_identity import SIGNATURE_ANNOTATION, sign_server_uuid
from inference_testkit.waiting import wait_for

from .conftest import SERVER_UUID_KEY, Cluster, OperatorProcess, ms_body

pytestmark = pytest.mark.timeout(180)


def _claiming(name: str, server_uuid: str, signature: str) -> dict[str, Any]:
    body = ms_body(name)
    body["metadata"]["labels"] = {SERVER_UUID_LABEL: server_uuid}
    body["metadata"]["annotations"] = {SIGNATURE_ANNOTATION: signature}
    return body


def _route_matches(cluster: Cluster) -> dict[str, str]:
    routes = cluster.custom.list_namespaced_custom_object(
        "traefik.io", "v1alpha1", cluster.ns, "ingressroutes"
    )["items"]
    return {r["metadata"]["name"]: r["spec"]["routes"][0]["match"] for r in routes}


def test_a_server_uuid_is_honoured_only_when_the_api_signed_it_for_that_modelserve(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    issued = str(uuid.uuid4())
    signature = sign_server_uuid(SERVER_UUID_KEY, cluster.ns, "victim", issued)
    cluster.create(_claiming("victim", issued, signature))
    assert cluster.wait_phase("victim", "Ready")["endpoint"] == f"/{issued}/"

    # the same label and a copy of the victim's signature
    intruder = cluster.create(_claiming("intruder", issued, signature))
    own = intruder["metadata"]["uid"]
    status = cluster.wait_phase("intruder", "Ready")
    assert (status["endpoint"], status["serverUuid"]) == (f"/{own}/", own)

    assert _route_matches(cluster) == {
        "victim": f"PathPrefix(`/{issued}/`)",
        "intruder": f"PathPrefix(`/{own}/`)",
    }
    strip = cluster.traefik("middlewares", "intruder-strip")
    assert strip is not None
    assert strip["spec"]["stripPrefix"]["prefixes"] == [f"/{own}"]
    victim = cluster.status("victim")
    assert (victim["phase"], victim["endpoint"]) == ("Ready", f"/{issued}/")


def test_a_foreign_object_with_a_childs_name_is_left_untouched(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    theirs = cluster.core.create_namespaced_service(
        cluster.ns,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="taken", labels={"app": "theirs"}),
            spec=client.V1ServiceSpec(
                selector={"app": "theirs"},
                ports=[client.V1ServicePort(name="web", port=80, target_port=8080)],
            ),
        ),
    )
    cluster.create(ms_body("taken"))

    def refused() -> dict[str, Any] | None:
        cond = cluster.condition("taken", "Ready")
        return cond if cond and cond.get("reason") == "ChildNotOwned" else None

    cond = wait_for(refused, timeout=60, what="taken: ChildNotOwned")
    assert cond["status"] == "False"
    assert cond["message"].startswith("Service taken exists and is not owned")
    assert cluster.status("taken")["phase"] == "Failed"

    after = cluster.service("taken")
    assert after is not None
    assert after.metadata.resource_version == theirs.metadata.resource_version
    assert after.metadata.owner_references is None  # so garbage collection leaves it alone
    assert after.spec.selector == {"app": "theirs"}
    assert [(p.name, p.port) for p in after.spec.ports] == [("web", 80)]
    # nothing else was written either: no route to somebody else's Service
    assert cluster.deployment("taken") is None
    assert cluster.traefik("ingressroutes", "taken") is None
