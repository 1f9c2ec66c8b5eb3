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

from inference_common.modelserve import ModelServeSpec
from modelserve_operator.childmeta import ManifestConfig, Owner
from modelserve_operator.manifests import deployment

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


METRICS_COMPONENTS = {"api", "gateway", "contract", "download", "operator"}


def _monitoring(tmp_path: Path, **extra: Any) -> list[dict[str, Any]]:
    values = {
        **REQUIRED_SECRETS,
        "metrics": {"serviceMonitor": {"enabled": True}, "podMonitor": {"enabled": True}},
        **extra,
    }
    return render(*values_args(values=write_values(tmp_path / "m.yaml", values)), release="r")


def _selected(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = selector.get("matchLabels") or {}
    if any(labels.get(k) != v for k, v in wanted.items()):
        return False
    for rule in selector.get("matchExpressions") or []:
        value = labels.get(rule["key"])
        if rule["operator"] == "In" and value not in rule["values"]:
            return False
        if rule["operator"] == "Exists" and value is None:
            return False
    return True


def test_the_service_monitor_scrapes_every_component(tmp_path: Path) -> None:
    """Every component with /metrics has a Service the ServiceMonitor selects, with one of
    its endpoint ports, and pod annotations naming a port its container listens on."""
    docs = _monitoring(tmp_path)
    monitor = _one(docs, "ServiceMonitor")
    endpoint_ports = {e["port"] for e in monitor["spec"]["endpoints"]}
    scraped = {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: {
            p["name"] for p in d["spec"]["ports"]
        }
        & endpoint_ports
        for d in docs
        if d["kind"] == "Service"
        and _selected(monitor["spec"]["selector"], d["metadata"]["labels"])
    }
    assert scraped == {c: {"metrics" if c == "operator" else "http"} for c in METRICS_COMPONENTS}
    for doc in docs:
        if doc["kind"] != "Deployment":
            continue
        component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        template = doc["spec"]["template"]
        annotations = template["metadata"].get("annotations") or {}
        if component not in METRICS_COMPONENTS:
            assert "prometheus.io/scrape" not in annotations, component
            continue
        ports = {
            (p["name"], str(p["containerPort"])) for c in template["spec"]["containers"]
            for p in c["ports"]
        }  # fmt: skip
        expected = "metrics" if component == "operator" else "http"
        assert (expected, annotations["prometheus.io/port"]) in ports, component
        assert (annotations["prometheus.io/scrape"], annotations["prometheus.io/path"]) == (
            "true",
            "/metrics",
        )
    operator = _one([d for d in docs if d["metadata"]["name"] == "r-inference-service-operator"
                     and d["kind"] == "Deployment"], "Deployment")  # fmt: skip
    env = {
        e["name"]: e.get("value")
        for e in operator["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["METRICS_PORT"] == "8211"


@pytest.mark.parametrize(
    ("operator", "namespaces"),
    [
        ({}, {"matchNames": ["inference"]}),
        ({"namespaces": ["team-a", "team-b"]}, {"matchNames": ["team-a", "team-b"]}),
        ({"namespaces": ["team-*"]}, {"any": True}),
    ],
)
def test_the_pod_monitor_scrapes_the_operators_model_servers(
    tmp_path: Path, operator: dict[str, Any], namespaces: dict[str, Any]
) -> None:
    """The PodMonitor selects the pods the operator makes (its own manifests) on the port
    llama.cpp serves --metrics on, in the namespaces the operator serves."""
    docs = _monitoring(tmp_path, operator=operator)
    monitor = _one(docs, "PodMonitor")["spec"]
    assert monitor["namespaceSelector"] == namespaces
    spec = ModelServeSpec.model_validate(
        {
            "model": {
                "name": "m",
                "source": {"s3": {"bucket": "models", "key": "m.gguf"}},
                "sha256": "a" * 64,
            }
        }
    )
    owner = Owner(name="m", namespace="inference", uid="u", server_uuid="s", spec=spec)
    config = ManifestConfig("llama:cpu", "llama:cuda", "fetch:1")
    template = deployment(owner, config)["spec"]["template"]
    assert _selected(monitor["selector"], template["metadata"]["labels"])
    (server,) = template["spec"]["containers"]
    assert "--metrics" in server["args"]
    assert [e["port"] for e in monitor["podMetricsEndpoints"]] == [
        p["name"] for p in server["ports"]
    ]
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(server["ports"][0]["containerPort"])


def test_scrapers_may_reach_the_model_servers(tmp_path: Path) -> None:
    prometheus = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    }
    docs = _monitoring(tmp_path, metrics={"scrapers": [prometheus]})
    assert _validate(docs) == []
    (policy,) = [d for d in docs if d["metadata"]["name"] == "r-inference-service-model-servers"]
    peers = policy["spec"]["ingress"][0]["from"]
    assert len(peers) == 3
    assert peers[-1] == prometheus
