"""The operator's route asks the gateway first, and a NetworkPolicy admits only Traefik's and
the gateway's pods to the server's port: both made (and restored) by the real operator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from inference_localstack.object_store_users import ScopedUser
from inference_testkit.waiting import wait_for

from .conftest import Cluster, OperatorProcess, ms_body, operator_env

pytestmark = pytest.mark.timeout(180)

AUTHZ_URL = "http://127.0.0.1:8203"


@pytest.fixture
def operator_with_authz(
    crd: dict[str, Any],
    stack_env: dict[str, str],
    model_reader: ScopedUser,
    namespace: str,
    tmp_path: Path,
) -> Iterator[OperatorProcess]:
    env = {**operator_env(stack_env, model_reader), "GATEWAY_AUTHZ_URL": AUTHZ_URL}
    proc = OperatorProcess(env, [namespace], tmp_path / "operator.log").start()
    yield proc
    proc.stop()


def _policy(kube_api: client.ApiClient, namespace: str, name: str) -> Any:
    try:
        return client.NetworkingV1Api(kube_api).read_namespaced_network_policy(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def test_route_with_forward_auth_and_network_policy(
    cluster: Cluster,
    operator_with_authz: OperatorProcess,
    kube_api: client.ApiClient,
) -> None:
    uid = cluster.create(ms_body("guarded"))["metadata"]["uid"]
    authz = wait_for(
        lambda: cluster.traefik("middlewares", "guarded-authz"), timeout=30, what="authz"
    )
    assert authz["spec"]["forwardAuth"] == {
        "address": f"{AUTHZ_URL}/authz/servers/{uid}",
        "authRequestHeaders": ["Authorization", "X-Api-Key"],
    }
    route = wait_for(lambda: cluster.traefik("ingressroutes", "guarded"), timeout=30, what="route")
    assert route["spec"]["routes"][0]["middlewares"] == [
        {"name": "guarded-authz"},
        {"name": "guarded-strip"},
    ]

    policy = wait_for(lambda: _policy(kube_api, cluster.ns, "guarded"), timeout=30, what="policy")
    assert policy.spec.pod_selector.match_labels == {"inference-service.dev/modelserve": "guarded"}
    assert policy.spec.policy_types == ["Ingress"]
    (rule,) = policy.spec.ingress
    assert [p.port for p in rule.ports] == [8080]
    assert sorted(p.pod_selector.match_labels["app.kubernetes.io/name"] for p in rule._from) == [
        "inference-gateway",
        "traefik",
    ]

    # a route without its ForwardAuth would open the server: a deleted one comes back
    client.CustomObjectsApi(kube_api).delete_namespaced_custom_object(
        "traefik.io", "v1alpha1", cluster.ns, "middlewares", "guarded-authz"
    )
    wait_for(lambda: cluster.traefik("middlewares", "guarded-authz"), timeout=60, what="restored")
    client.NetworkingV1Api(kube_api).delete_namespaced_network_policy("guarded", cluster.ns)
    wait_for(lambda: _policy(kube_api, cluster.ns, "guarded"), timeout=60, what="policy back")
