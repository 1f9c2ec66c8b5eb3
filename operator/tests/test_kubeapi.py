"""REST paths and kopf resources of the kinds the operator writes (one table)."""

from __future__ import annotations

import pytest

from modelserve_operator.kinds import kind_of
from modelserve_operator.kubeapi import object_path


@pytest.mark.parametrize(
    ("api_version", "kind", "path"),
    [
        ("v1", "Secret", "/api/v1/namespaces/ns/secrets/n"),
        ("v1", "ConfigMap", "/api/v1/namespaces/ns/configmaps/n"),
        ("v1", "Service", "/api/v1/namespaces/ns/services/n"),
        ("apps/v1", "Deployment", "/apis/apps/v1/namespaces/ns/deployments/n"),
        (
            "traefik.io/v1alpha1",
            "Middleware",
            "/apis/traefik.io/v1alpha1/namespaces/ns/middlewares/n",
        ),
        (
            "traefik.io/v1alpha1",
            "IngressRoute",
            "/apis/traefik.io/v1alpha1/namespaces/ns/ingressroutes/n",
        ),
        (
            "inference-service.dev/v1alpha1",
            "ModelServe",
            "/apis/inference-service.dev/v1alpha1/namespaces/ns/modelserves/n",
        ),
    ],
)
def test_object_path(api_version: str, kind: str, path: str) -> None:
    assert object_path(api_version, kind, "ns", "n") == path


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(KeyError):
        object_path("v1", "PersistentVolumeClaim", "ns", "n")


@pytest.mark.parametrize(
    ("api_version", "kind", "resource"),
    [
        ("v1", "Service", ("v1", "services")),
        ("apps/v1", "Deployment", ("apps", "v1", "deployments")),
        ("traefik.io/v1alpha1", "IngressRoute", ("traefik.io", "v1alpha1", "ingressroutes")),
        (
            "inference-service.dev/v1alpha1",
            "ModelServe",
            ("inference-service.dev", "v1alpha1", "modelserves"),
        ),
    ],
)
def test_kopf_resource_of_each_kind(api_version: str, kind: str, resource: tuple[str, ...]) -> None:
    assert kind_of(api_version, kind).resource == resource
