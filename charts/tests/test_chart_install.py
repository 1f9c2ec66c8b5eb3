"""The chart against the local stack's real apiserver: install into a fresh namespace (pods
land on kwok's simulated nodes and are never sent traffic), upgrade with changed values,
uninstall without orphans. The ModelServe CRD already exists there: `--skip-crds`."""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError

from inference_testkit.namespaces import temporary_namespace
from inference_testkit.waiting import wait_for

from .helm import CHART, HelmError, can_i, helm, values_args, write_values

pytestmark = pytest.mark.timeout(600)

INSTANCE = "app.kubernetes.io/instance"


class Release:
    def __init__(self, api: client.ApiClient, kubeconfig: str, namespace: str) -> None:
        self.api = api
        self.kubeconfig = kubeconfig
        self.ns = namespace
        self.name = f"is-{secrets.token_hex(3)}"
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.rbac = client.RbacAuthorizationV1Api(api)
        self.admission = client.AdmissionregistrationV1Api(api)
        self.dynamic = DynamicClient(api)

    def helm(self, *args: str) -> str:
        return helm(*args, "--namespace", self.ns, kubeconfig=self.kubeconfig)

    def manifest(self) -> list[dict[str, str]]:
        """kind, name and namespace of every object helm applied for the release."""
        docs = yaml.safe_load_all(self.helm("get", "manifest", self.name))
        return [
            {
                "kind": d["kind"],
                "name": d["metadata"]["name"],
                "namespace": d["metadata"].get("namespace", ""),
                "apiVersion": d["apiVersion"],
            }
            for d in docs
            if d
        ]

    def exists(self, obj: dict[str, str]) -> bool:
        resource = self.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        try:
            resource.get(name=obj["name"], namespace=obj["namespace"] or None)
        except NotFoundError:
            return False
        return True

    def deployments(self) -> list[client.V1Deployment]:
        items: list[client.V1Deployment] = self.apps.list_namespaced_deployment(
            self.ns, label_selector=f"{INSTANCE}={self.name}"
        ).items
        return items

    def all_pods_scheduled_on_kwok(self) -> dict[str, list[str]] | None:
        """Deployment name → nodes of its pods, once every wanted pod is bound to a kwok node."""
        placed: dict[str, list[str]] = {}
        for dep in self.deployments():
            selector = ",".join(f"{k}={v}" for k, v in dep.spec.selector.match_labels.items())
            pods = self.core.list_namespaced_pod(self.ns, label_selector=selector).items
            live = [p for p in pods if p.metadata.deletion_timestamp is None]
            nodes = [p.spec.node_name or "" for p in live]
            if len(nodes) != dep.spec.replicas or not all(n.startswith("kwok-") for n in nodes):
                return None
            placed[dep.metadata.name] = nodes
        return placed

    def webhook(self) -> client.V1ValidatingWebhookConfiguration:
        name = f"{self.name}-inference-service-contract"
        result: client.V1ValidatingWebhookConfiguration = (
            self.admission.read_validating_webhook_configuration(name)
        )
        return result

    def permissions(
        self, component: str, asked: dict[tuple[str, str], bool]
    ) -> dict[tuple[str, str], bool]:
        """What a component's service account may do cluster-wide, as `kubectl auth can-i`
        says, for each (verb, resource) in `asked`."""
        user = f"system:serviceaccount:{self.ns}:{self.name}-inference-service-{component}"
        return {
            (verb, resource): can_i(self.kubeconfig, user, verb, resource)
            for verb, resource in asked
        }


# The API reads nodes, the pods on them and every ModelServe cluster-wide; it changes none.
API_PERMISSIONS = {
    ("list", "nodes"): True,
    ("watch", "nodes"): True,
    ("list", "pods"): True,
    ("watch", "modelserves.inference-service.dev"): True,
    ("delete", "nodes"): False,
    ("patch", "nodes"): False,
    ("get", "secrets"): False,
    ("delete", "pods"): False,
    ("create", "modelserves.inference-service.dev"): False,
}

# The contract service counts ModelServes and, for its webhook's name-collision rule, watches
# the kinds of the operator's children; it changes none of them.
CONTRACT_PERMISSIONS = {
    ("watch", "modelserves.inference-service.dev"): True,
    ("list", "deployments.apps"): True,
    ("watch", "services"): True,
    ("list", "ingressroutes.traefik.io"): True,
    ("delete", "deployments.apps"): False,
    ("create", "services"): False,
    ("patch", "modelserves.inference-service.dev"): False,
    ("get", "secrets"): False,
}


def _secret(name: str, data: dict[str, str]) -> client.V1Secret:
    return client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data=data)


@pytest.fixture
def release(kube_api: client.ApiClient, stack_env: dict[str, str]) -> Iterator[Release]:
    # `opt-`: the stack's own operator leaves the namespace alone
    with temporary_namespace(kube_api, prefix="opt") as ns:
        rel = Release(kube_api, stack_env["KUBECONFIG"], ns)
        for secret in (
            _secret(
                "is-auth",
                {
                    "jwt-secret": secrets.token_urlsafe(32),
                    "admin-password": secrets.token_urlsafe(16),
                    "server-uuid-key": secrets.token_urlsafe(32),
                },
            ),
            _secret("is-postgres", {"password": secrets.token_urlsafe(16)}),
            _secret(
                "is-minio", {"root-user": "inference", "root-password": secrets.token_urlsafe(16)}
            ),
        ):
            rel.core.create_namespaced_secret(ns, secret)
        try:
            yield rel
        finally:
            with contextlib.suppress(HelmError):  # a failed test's release, cluster objects too
                rel.helm("uninstall", rel.name, "--ignore-not-found")


def _test_values(ns: str) -> dict[str, Any]:
    return {
        "auth": {"existingSecret": "is-auth"},
        "postgresql": {"existingSecret": "is-postgres"},
        "minio": {"existingSecret": "is-minio"},
        "servingNamespace": ns,
        "createServingNamespace": False,
        "image": {"pullPolicy": "Never"},
        # kwok's simulated nodes only: nothing of this release really runs
        "nodeSelector": {"type": "kwok"},
        # the webhook can only ever judge ModelServes of this test's namespace
        "contract": {
            "webhook": {
                "failurePolicy": "Ignore",
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
            }
        },
    }


def test_install_upgrade_uninstall(release: Release, tmp_path: Path) -> None:
    values = write_values(tmp_path / "test.yaml", _test_values(release.ns))
    args = [
        *values_args("values-cpu-dev.yaml", values),
        "--skip-crds",
        "--wait",
        "--timeout",
        "180s",
    ]

    started = time.monotonic()
    release.helm("install", release.name, str(CHART), *args)
    install_seconds = time.monotonic() - started

    objects = release.manifest()
    missing = [o for o in objects if not release.exists(o)]
    assert missing == []
    cluster_scoped = [o for o in objects if not o["namespace"]]
    assert cluster_scoped, "ClusterRoles, bindings and the webhook configuration"
    assert all(o["name"].startswith(f"{release.name}-") for o in cluster_scoped)

    placed = wait_for(release.all_pods_scheduled_on_kwok, timeout=120, what="pods on kwok")
    assert {name.rsplit("-", 1)[-1] for name in placed} == {
        "operator",
        "api",
        "gateway",
        "contract",
        "download",
        "frontend",
    }

    hook = release.webhook().webhooks[0]
    assert hook.failure_policy == "Ignore"
    assert hook.namespace_selector.match_labels == {"kubernetes.io/metadata.name": release.ns}
    tls = release.core.read_namespaced_secret(
        f"{release.name}-inference-service-contract-webhook-tls", release.ns
    )
    ca_before = tls.data["ca.crt"]
    assert base64.b64decode(hook.client_config.ca_bundle) == base64.b64decode(ca_before)

    assert release.permissions("api", API_PERMISSIONS) == API_PERMISSIONS
    assert release.permissions("contract", CONTRACT_PERMISSIONS) == CONTRACT_PERMISSIONS

    started = time.monotonic()
    release.helm(
        "upgrade", release.name, str(CHART), *args,
        "--set", "api.replicas=2", "--set", "download.enabled=false",
        "--set", "contract.webhook.timeoutSeconds=7",
    )  # fmt: skip
    upgrade_seconds = time.monotonic() - started

    api = release.apps.read_namespaced_deployment(
        f"{release.name}-inference-service-api", release.ns
    )
    assert api.spec.replicas == 2
    placed = wait_for(release.all_pods_scheduled_on_kwok, timeout=120, what="upgraded pods")
    assert len(placed[f"{release.name}-inference-service-api"]) == 2
    assert not any(name.endswith("-download") for name in placed)
    hook = release.webhook().webhooks[0]
    assert hook.timeout_seconds == 7
    assert hook.client_config.ca_bundle == ca_before  # the CA kept across the upgrade

    objects = release.manifest()
    started = time.monotonic()
    release.helm("uninstall", release.name, "--wait", "--timeout", "120s")
    uninstall_seconds = time.monotonic() - started

    assert wait_for(
        lambda: [o for o in objects if release.exists(o)] == [] or None,
        timeout=60,
        what="every object of the release gone",
    )
    leftovers = {
        "clusterroles": release.rbac.list_cluster_role(label_selector=f"{INSTANCE}={release.name}"),
        "clusterrolebindings": release.rbac.list_cluster_role_binding(
            label_selector=f"{INSTANCE}={release.name}"
        ),
        "webhooks": release.admission.list_validating_webhook_configuration(
            label_selector=f"{INSTANCE}={release.name}"
        ),
    }
    assert {k: [i.metadata.name for i in v.items] for k, v in leftovers.items()} == {
        "clusterroles": [], "clusterrolebindings": [], "webhooks": []
    }  # fmt: skip
    assert release.permissions("api", {("list", "nodes"): True}) == {("list", "nodes"): False}
    print(json.dumps({"install_s": install_seconds, "upgrade_s": upgrade_seconds,
                      "uninstall_s": uninstall_seconds}))  # fmt: skip
