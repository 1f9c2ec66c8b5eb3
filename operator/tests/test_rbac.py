"""The operator's ClusterRole (deploy/operator/rbac.yaml), bound to a throwaway user on the real
apiserver and asked with `kubectl auth can-i --as`: it may create Secrets, never read, watch
or patch them anywhere, and still do what reconciling needs."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "operator" / "rbac.yaml"
GROUP = "rbac.authorization.k8s.io"


@pytest.fixture
def operator_user(kube_api: client.ApiClient) -> Iterator[str]:
    """A user bound to a copy of the operator's ClusterRole under a name of its own (the
    stack's own operator keeps its role untouched)."""
    (role,) = [d for d in yaml.safe_load_all(RBAC.read_text()) if d["kind"] == "ClusterRole"]
    name = f"opt-rbac-{secrets.token_hex(4)}"
    rbac = client.RbacAuthorizationV1Api(kube_api)
    rbac.create_cluster_role(
        {"apiVersion": f"{GROUP}/v1", "kind": "ClusterRole", "metadata": {"name": name}}
        | {"rules": role["rules"]}
    )
    rbac.create_cluster_role_binding(
        {
            "apiVersion": f"{GROUP}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": name},
            "subjects": [{"apiGroup": GROUP, "kind": "User", "name": name}],
        }
    )
    try:
        yield name
    finally:
        rbac.delete_cluster_role_binding(name)
        rbac.delete_cluster_role(name)


CASES = [
    # (verb, resource, scope, allowed)
    ("get", "secrets", "--all-namespaces", False),
    ("list", "secrets", "--all-namespaces", False),
    ("watch", "secrets", "--all-namespaces", False),
    ("patch", "secrets", "--all-namespaces", False),
    ("get", "secrets", "-n=kube-system", False),
    ("list", "secrets", "-n=inference", False),
    ("patch", "secrets", "-n=inference", False),
    ("update", "secrets", "-n=inference", False),
    ("delete", "secrets", "-n=inference", False),
    ("create", "secrets", "-n=inference", True),
    ("delete", "configmaps", "-n=inference", True),
    ("list", "configmaps", "--all-namespaces", False),
    ("patch", "deployments.apps", "-n=inference", True),
    ("get", "services", "-n=inference", True),
    ("patch", "ingressroutes.traefik.io", "-n=inference", True),
    ("patch", "modelserves.inference-service.dev", "-n=inference", True),
]


def test_the_operator_role_reads_no_secrets(stack_env: dict[str, str], operator_user: str) -> None:
    kubectl = shutil.which("kubectl", path=stack_env["PATH"]) or shutil.which("kubectl")
    assert kubectl is not None, "kubectl of the stack's toolchain"
    answers = {}
    for verb, resource, scope, _ in CASES:
        command = [kubectl, f"--kubeconfig={stack_env['KUBECONFIG']}", "auth", "can-i"]
        result = subprocess.run(
            [*command, verb, resource, scope, f"--as={operator_user}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.stdout.strip() in {"yes", "no"}, result.stderr
        answers[(verb, resource, scope)] = result.stdout.strip() == "yes"
    assert answers == {(v, r, s): allowed for v, r, s, allowed in CASES}
