"""A validating webhook registered in the shared apiserver for one test's namespaces only:
its namespaceSelector matches a label only those namespaces carry, and it is always removed."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes import client

SELECTOR_LABEL = "test.inference-service.dev/webhook"


@contextmanager
def scoped_validating_webhook(
    kube_api: client.ApiClient,
    *,
    token: str,
    url: str,
    ca_pem: bytes,
    group: str,
    version: str,
    resources: list[str],
    timeout_seconds: int = 5,
) -> Iterator[str]:
    """Registers `url` (failurePolicy Fail) for namespaces labelled SELECTOR_LABEL=token."""
    name = f"test-webhook-{token}"
    body: dict[str, Any] = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": f"{token}.test.inference-service.dev",
                "clientConfig": {"url": url, "caBundle": base64.b64encode(ca_pem).decode()},
                "rules": [
                    {
                        "apiGroups": [group],
                        "apiVersions": [version],
                        "resources": resources,
                        "operations": ["CREATE", "UPDATE"],
                        "scope": "Namespaced",
                    }
                ],
                "namespaceSelector": {"matchLabels": {SELECTOR_LABEL: token}},
                "failurePolicy": "Fail",
                "sideEffects": "NoneOnDryRun",
                "timeoutSeconds": timeout_seconds,
                "admissionReviewVersions": ["v1"],
            }
        ],
    }
    registration = client.AdmissionregistrationV1Api(kube_api)
    registration.create_validating_webhook_configuration(body)  # type: ignore[arg-type]  # a dict body is sent as is
    try:
        yield name
    finally:
        registration.delete_validating_webhook_configuration(name)


def label_namespace(kube_api: client.ApiClient, namespace: str, token: str) -> None:
    client.CoreV1Api(kube_api).patch_namespace(
        namespace, {"metadata": {"labels": {SELECTOR_LABEL: token}}}
    )
