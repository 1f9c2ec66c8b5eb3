"""The chart rendered offline: lint, Kubernetes 1.35 schemas, required secrets, the schema of
values, the generated webhook certificate, hardened pods and release-named cluster objects."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cryptography import x509
from kubernetes_validate.utils import SchemaNotFoundError

from .helm import (
    CHART,
    KUBE_VERSION,
    OVERLAYS,
    REPO,
    REQUIRED_SECRETS,
    HelmError,
    helm,
    render,
    values_args,
    write_values,
)

# Kinds of other projects' CRDs (no schema in kubernetes-validate; the apiserver install test
# checks the Traefik ones against their real CRDs).
CUSTOM_KINDS = {
    "IngressRoute",
    "Middleware",
    "Issuer",
    "Certificate",
    "ServiceMonitor",
    "PodMonitor",
}
CLUSTER_SCOPED = {
    "ClusterRole",
    "ClusterRoleBinding",
    "ValidatingWebhookConfiguration",
    "Namespace",
}

# Every optional part switched on: external stores, cert-manager, a PVC cache, monitoring,
# an operator serving namespace patterns (cluster-wide RBAC), download from a quant store.
EVERYTHING: dict[str, Any] = {
    "auth": {"existingSecret": "is-auth"},
    "postgresql": {"enabled": False},
    "externalDatabase": {"existingSecret": "is-db"},
    "minio": {"enabled": False},
    "externalS3": {"endpoint": "s3.example.internal:443", "existingSecret": "is-s3"},
    "contract": {"webhook": {"certManager": "true"}},
    "download": {"quantS3": {"endpoint": "quant.example.internal:9000", "existingSecret": "q"}},
    "modelCache": {"type": "pvc"},
    "metrics": {"serviceMonitor": {"enabled": True}, "podMonitor": {"enabled": True}},
    "operator": {"namespaces": ["*", "!opt-*"]},
    "traefik": {"host": "inference.example.internal", "tlsSecretName": "inference-tls"},
    "createServingNamespace": True,
}

pytestmark = pytest.mark.stack  # helm comes from the stack's toolchain


@pytest.fixture
def secrets_file(tmp_path: Path) -> Path:
    return write_values(tmp_path / "secrets.yaml", REQUIRED_SECRETS)


def test_chart_crd_is_the_repository_crd() -> None:
    chart_crd = (CHART / "crds" / "modelserve.yaml").read_bytes()
    assert chart_crd == (REPO / "crds" / "modelserve.yaml").read_bytes()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_lint_strict(overlay: str, secrets_file: Path) -> None:
    out = helm("lint", "--strict", str(CHART), *values_args(overlay, secrets_file))
    assert "1 chart(s) linted, 0 chart(s) failed" in out


def _validate(docs: list[dict[str, Any]]) -> list[str]:
    problems = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        except SchemaNotFoundError:
            if doc["kind"] not in CUSTOM_KINDS:
                problems.append(f"{doc['kind']}: no schema")
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message}")
    return problems


@pytest.mark.parametrize("overlay", [*OVERLAYS, "everything"])
def test_renders_valid_kubernetes_1_35(overlay: str, tmp_path: Path, secrets_file: Path) -> None:
    if overlay == "everything":
        args = values_args(values=write_values(tmp_path / "all.yaml", EVERYTHING))
    else:
        args = values_args(overlay, secrets_file)
    docs = render(*args)
    assert _validate(docs) == []
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "ValidatingWebhookConfiguration", "NetworkPolicy"} <= kinds
    if overlay == "everything":
        assert {"Certificate", "ServiceMonitor", "PodMonitor", "PersistentVolumeClaim"} <= kinds
        assert "StatefulSet" not in kinds


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"postgresql": {"existingSecret": "p"}, "minio": {"existingSecret": "m"}},
            "auth.existingSecret is required",
        ),
        (
            {"auth": {"existingSecret": "a"}, "minio": {"existingSecret": "m"}},
            "postgresql.existingSecret is required",
        ),
        (
            {"auth": {"existingSecret": "a"}, "postgresql": {"existingSecret": "p"}},
            "minio.existingSecret is required",
        ),
        (
            {"auth": {"existingSecret": "a"}, "postgresql": {"enabled": False}},
            "externalDatabase.existingSecret is required",
        ),
        (
            {**REQUIRED_SECRETS, "minio": {"enabled": False}},
            "externalS3.endpoint is required",
        ),
        (
            {**REQUIRED_SECRETS, "download": {"quantS3": {"endpoint": "q:9000"}}},
            "download.quantS3.existingSecret is required",
        ),
        ({**REQUIRED_SECRETS, "api": {"replica": 2}}, "additional properties 'replica'"),
        (
            {**REQUIRED_SECRETS, "operator": {"replicas": 2}},
            "/operator/replicas': maximum: got 2, want 1",
        ),
        (
            {**REQUIRED_SECRETS, "modelCache": {"type": "nfs"}},
            "/modelCache/type': value must be one of",
        ),
    ],
)
def test_refused_values_name_the_problem(
    values: dict[str, Any], message: str, tmp_path: Path
) -> None:
    with pytest.raises(HelmError) as refused:
        render(*values_args(values=write_values(tmp_path / "v.yaml", values)))
    assert message in str(refused.value)


def _one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind]
    return found


def test_generated_ca_signs_the_webhook_certificate(secrets_file: Path) -> None:
    docs = render(*values_args(values=secrets_file), "--namespace", "ns", release="rel")
    secret = _one(docs, "Secret")
    webhook = _one(docs, "ValidatingWebhookConfiguration")["webhooks"][0]
    assert webhook["clientConfig"]["caBundle"] == secret["data"]["ca.crt"]
    ca = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["ca.crt"]))
    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    service = webhook["clientConfig"]["service"]
    assert f"{service['name']}.ns.svc" in names.get_values_for_type(x509.DNSName)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_hardened_and_cluster_objects_carry_the_release(
    overlay: str, secrets_file: Path
) -> None:
    docs = render(*values_args(overlay, secrets_file), release="myrel")
    for doc in docs:
        if doc["kind"] in CLUSTER_SCOPED - {"Namespace"}:
            assert doc["metadata"]["name"].startswith("myrel-"), doc["metadata"]["name"]
        if doc["kind"] not in {"Deployment", "StatefulSet", "Pod"}:
            continue
        pod = doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, doc["metadata"]["name"]
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, container["name"]
            assert security["allowPrivilegeEscalation"] is False, container["name"]
            assert security["capabilities"] == {"drop": ["ALL"]}, container["name"]


def test_overlays_only_use_known_keys() -> None:
    schema = yaml.safe_load((CHART / "values.schema.json").read_text())
    assert schema["additionalProperties"] is False
    for overlay in OVERLAYS[1:]:
        values = yaml.safe_load((CHART / overlay).read_text())
        assert set(values) <= set(schema["properties"]), overlay
