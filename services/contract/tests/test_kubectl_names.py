"""What only the webhook can know, through the toolchain's real kubectl against the REAL
shared apiserver: which registry models a kubectl user may serve (own, shared with the
namespace, public), model alias annotations the user may not claim (another owner's alias
or server, a model the user may not serve; on create and on `kubectl annotate`), and names
that collide with a Deployment or Service the operator does not own."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx
import pytest
from kubernetes import client

from inference_common.modelserve import ALIASES_ANNOTATION
from inference_contract.settings import ContractSettings
from inference_testkit.waiting import wait_for

from .conftest import OpenWebhookRig, Users, register_model
from .test_kubectl import KUBECTL, Kubectl, _refused
from .test_webhook import _label_and_grant, _modelserve, webhook_configuration


def _also_grant(kube_api: client.ApiClient, namespace: str, user: str) -> None:
    """`user` gets the Role `_label_and_grant` made in `namespace`."""
    client.RbacAuthorizationV1Api(kube_api).create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": f"modelserves-{user}"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "modelserves",
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        },
    )


def _named(name: str, model: str, aliases: str | None = None) -> dict[str, Any]:
    body = _modelserve(name)
    body["spec"]["model"]["name"] = model
    if aliases is not None:
        body["metadata"]["annotations"] = {ALIASES_ANNOTATION: aliases}
    return body


@pytest.mark.skipif(not KUBECTL.exists(), reason="the toolchain's kubectl is not built")
def test_kubectl_models_aliases_and_child_names(
    kube_api: client.ApiClient,
    contract_settings: ContractSettings,
    users: Users,
    open_webhook_rig: OpenWebhookRig,
    stack_env: dict[str, str],
) -> None:
    tag = secrets.token_hex(3)
    bob = f"bob-{tag}"
    with open_webhook_rig("opt-kn") as rig:
        _label_and_grant(kube_api, rig.namespace, rig.token, rig.user)
        _also_grant(kube_api, rig.namespace, bob)
        models = {
            "private": {"visibility": "private"},
            "public": {"visibility": "public"},
            "here": {"visibility": "shared", "shared_with": [rig.namespace]},
            "there": {"visibility": "shared", "shared_with": [rig.elsewhere]},
        }
        for kind, access in models.items():
            asyncio.run(
                register_model(contract_settings.database_url, f"{kind}-{tag}", bob, **access)
            )
        asyncio.run(register_model(contract_settings.database_url, f"mine-{tag}", rig.user))
        for user in (rig.user, bob):  # both may serve in the test's namespace
            put = httpx.put(
                f"{rig.url}/contracts/users/{user}",
                json={"allowed_namespaces": [rig.namespace]},
                headers=rig.admin,
            )
            assert put.status_code == 200, put.text
        kubectl = Kubectl(stack_env["KUBECONFIG"], rig.user)
        with webhook_configuration(kube_api, rig.webhook, rig.ca_pem, rig.token):
            # models: another user's private one and one shared elsewhere are refused
            for kind in ("private", "there"):
                refused = kubectl.apply(rig.namespace, _named("m", f"{kind}-{tag}"))
                _refused(refused, "model_not_allowed")
            for kind in ("public", "here", "mine"):
                allowed = kubectl.apply(rig.namespace, _named("m", f"{kind}-{tag}"), True)
                assert allowed.returncode == 0, (kind, allowed.stderr)

            # aliases: bob holds a server answering to "chat-<tag>" (and to its own name)
            theirs = Kubectl(stack_env["KUBECONFIG"], bob).apply(
                rig.namespace, _named(f"theirs-{tag}", f"public-{tag}", f"chat-{tag}")
            )
            assert theirs.returncode == 0, theirs.stderr
            for alias in (f"chat-{tag}", f"chat-{tag}:latest", f"theirs-{tag}"):
                refused = kubectl.apply(rig.namespace, _named("a", f"mine-{tag}", alias))
                _refused(refused, "alias_taken")
            refused = kubectl.apply(rig.namespace, _named("a", f"mine-{tag}", f"private-{tag}"))
            _refused(refused, "alias_not_allowed")
            created = kubectl.apply(rig.namespace, _named("a", f"mine-{tag}", f"own-{tag}"))
            assert created.returncode == 0, created.stderr
            annotated = kubectl.run(
                "annotate",
                "-n",
                rig.namespace,
                "modelserve/a",
                "--overwrite",
                f"{ALIASES_ANNOTATION}=own-{tag},chat-{tag}",
            )
            _refused(annotated, "alias_taken")
            relabelled = kubectl.run(
                "annotate",
                "-n",
                rig.namespace,
                "modelserve/a",
                "--overwrite",
                f"{ALIASES_ANNOTATION}=own-{tag},more-{tag}",
            )
            assert relabelled.returncode == 0, relabelled.stderr

            # child names: a Deployment and a Service nobody's ModelServe owns
            client.AppsV1Api(kube_api).create_namespaced_deployment(
                rig.namespace,
                {
                    "metadata": {"name": "taken"},
                    "spec": {
                        "replicas": 0,
                        "selector": {"matchLabels": {"app": "taken"}},
                        "template": {
                            "metadata": {"labels": {"app": "taken"}},
                            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                        },
                    },
                },
            )
            client.CoreV1Api(kube_api).create_namespaced_service(
                rig.namespace, {"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}
            )
            for name, kind in (("taken", "Deployment"), ("svc", "Service")):
                # the webhook knows them from its watch: a dry run asks until it has seen them
                wait_for(
                    lambda name=name: (
                        kubectl.apply(  # type: ignore[misc]
                            rig.namespace, _named(name, f"mine-{tag}"), True
                        ).returncode
                        != 0
                    ),
                    timeout=30,
                    what=f"the webhook seeing {kind} {name}",
                )
                refused = kubectl.apply(rig.namespace, _named(name, f"mine-{tag}"))
                _refused(refused, "name_collides_with_child")
                assert f"{kind} {name} exists" in refused.stderr, refused.stderr
            free = kubectl.apply(rig.namespace, _named("free", f"mine-{tag}"), True)
            assert free.returncode == 0, free.stderr
