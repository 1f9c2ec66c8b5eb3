"""The validating webhook in the REAL shared apiserver, scoped to this test's namespace only
(a namespaceSelector on a label only that namespace carries): kubectl-equivalent creates are
refused with the rule in the message, a near-quota create warns, an over-quota scale through
the scale subresource is refused."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from inference_common.kube import api_client
from inference_common.modelserve import GROUP, PLURAL, SERVER_UUID_LABEL, VERSION
from inference_testkit.namespaces import temporary_namespace
from inference_testkit.servers import free_port
from inference_testkit.tls import serving_cert
from inference_testkit.webhooks import label_namespace, scoped_validating_webhook

from .conftest import OpenWebhookRig, modelserve_spec


@contextmanager
def webhook_configuration(
    kube_api: client.ApiClient, url: str, ca_pem: bytes, token: str
) -> Iterator[str]:
    """The contract webhook for this test's labelled namespaces only; always removed."""
    with scoped_validating_webhook(
        kube_api,
        token=token,
        url=url,
        ca_pem=ca_pem,
        group=GROUP,
        version=VERSION,
        resources=[PLURAL, f"{PLURAL}/scale"],
    ) as name:
        yield name


def _label_and_grant(kube_api: client.ApiClient, namespace: str, token: str, user: str) -> None:
    label_namespace(kube_api, namespace, token)
    rbac = client.RbacAuthorizationV1Api(kube_api)
    rbac.create_namespaced_role(
        namespace,
        {
            "metadata": {"name": "modelserves"},
            "rules": [
                {
                    "apiGroups": [GROUP],
                    "resources": [PLURAL, f"{PLURAL}/scale"],
                    "verbs": ["create", "get", "update", "patch", "delete"],
                }
            ],
        },
    )
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "modelserves"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "modelserves",
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        },
    )


def _modelserve(name: str, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = labels
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelServe",
        "metadata": metadata,
        "spec": modelserve_spec(**spec),
    }


class AsUser:
    """The official client acting as `user` (impersonation by the stack's admin)."""

    def __init__(self, kubeconfig: str, user: str) -> None:
        self.api = api_client(kubeconfig)
        self.api.set_default_header("Impersonate-User", user)
        self.custom = client.CustomObjectsApi(self.api)

    def create(self, namespace: str, body: dict[str, Any], dry_run: bool = False) -> list[str]:
        """Creates; returns the apiserver's Warning headers."""
        extra = {"dry_run": "All"} if dry_run else {}
        _, _, headers = self.custom.create_namespaced_custom_object_with_http_info(
            GROUP, VERSION, namespace, PLURAL, body, **extra
        )
        return [v for k, v in headers.items() if k.lower() == "warning"]

    def refused(self, namespace: str, body: dict[str, Any]) -> str:
        with pytest.raises(ApiException) as caught:
            self.create(namespace, body)
        return str(caught.value.body)

    def scale(self, namespace: str, name: str, replicas: int) -> None:
        self.custom.patch_namespaced_custom_object_scale(
            GROUP, VERSION, namespace, PLURAL, name, {"spec": {"replicas": replicas}}
        )


def test_webhook_in_the_real_apiserver(
    open_webhook_rig: OpenWebhookRig, kube_api: client.ApiClient, stack_env: dict[str, str]
) -> None:
    with open_webhook_rig("opt-ct") as rig:
        _label_and_grant(kube_api, rig.namespace, rig.token, rig.user)
        _label_and_grant(kube_api, rig.elsewhere, f"{rig.token}-not", rig.user)
        response = httpx.put(
            f"{rig.url}/contracts/users/{rig.user}",
            json={
                "max_servers": 2,
                "max_gpus": 3,
                "allowed_namespaces": [rig.namespace, rig.elsewhere],
            },
            headers=rig.admin,
        )
        assert response.status_code == 200, response.text
        with webhook_configuration(kube_api, rig.webhook, rig.ca_pem, rig.token):
            as_alice = AsUser(stack_env["KUBECONFIG"], rig.user)

            message = as_alice.refused(rig.namespace, _modelserve("bad", image="docker.io/x/y:1"))
            assert "image_not_allowed" in message
            message = as_alice.refused(
                rig.namespace, _modelserve("forged", labels={SERVER_UUID_LABEL: "not-issued"})
            )
            assert "server_uuid_not_issued" in message
            message = as_alice.refused(
                rig.namespace, _modelserve("mlock", runtime={"extraArgs": ["--mlock"]})
            )
            assert "admin_only_flag" in message

            as_alice.create(rig.namespace, _modelserve("dry", gpus=1), dry_run=True)  # not held
            assert as_alice.create(rig.namespace, _modelserve("s1", gpus=1)) == []
            warnings = as_alice.create(rig.namespace, _modelserve("s2", gpus=1))
            assert any("near_quota" in w for w in warnings), warnings
            message = as_alice.refused(rig.namespace, _modelserve("s3"))
            assert "server_quota_exceeded" in message

            with pytest.raises(ApiException) as caught:
                as_alice.scale(rig.namespace, "s1", 3)  # 3 + 1 GPUs > 3
            assert "gpu_quota_exceeded" in str(caught.value.body)
            as_alice.scale(rig.namespace, "s1", 2)  # 2 + 1 GPUs: the limit exactly

            # Namespaces without the label are not this webhook's business.
            as_alice.create(rig.elsewhere, _modelserve("free", image="docker.io/x/y:1"))
            as_alice.api.close()
        registered = client.AdmissionregistrationV1Api(kube_api)
        names = [c.metadata.name for c in registered.list_validating_webhook_configuration().items]
        assert f"test-webhook-{rig.token}" not in names

        usage = httpx.get(f"{rig.url}/usage/users/{rig.user}", headers=rig.admin).json()
        assert usage["gpus"]["used"] == 3
        assert usage["servers"]["used"] == 2


def test_webhook_down_fails_closed(
    kube_api: client.ApiClient, tmp_path: Path, stack_env: dict[str, str]
) -> None:
    """Nothing listens on the webhook's port: ModelServe writes are refused, nothing made."""
    token = secrets.token_hex(4)
    alice = f"alice-{token}"
    cert = serving_cert(tmp_path)
    webhook = f"https://127.0.0.1:{free_port()}/admission/modelserves"
    with (
        temporary_namespace(kube_api, "opt-ct") as namespace,
        webhook_configuration(kube_api, webhook, cert.ca_pem, token),
    ):
        _label_and_grant(kube_api, namespace, token, alice)
        as_alice = AsUser(stack_env["KUBECONFIG"], alice)
        message = as_alice.refused(namespace, _modelserve("s1"))
        as_alice.api.close()
        assert "failed calling webhook" in message
        listed = client.CustomObjectsApi(kube_api).list_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL
        )
        assert listed["items"] == []
