"""The contract service's `ValidatingWebhookConfiguration`: ModelServe CREATE and UPDATE
(and the `scale` subresource) are decided by `inference-contract` over HTTPS, fail closed.

Registered only once the service is healthy (so `failurePolicy: Fail` never blocks start-up)
and deleted before the service stops (or every ModelServe write would be refused)."""

from __future__ import annotations

import base64
from typing import Any

NAME = "inference-contract"
WEBHOOK = "modelserves.contract.inference-service.dev"
OFF_LABEL = "inference-service.dev/contract-webhook"
"""Namespaces labelled `<OFF_LABEL>=off` are skipped: tests that run a contract service of
their own (`inference_testkit.namespaces`). Only cluster admins may label namespaces."""
TIMEOUT_SECONDS = 5


def webhook_configuration(url: str, ca_pem: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": NAME},
        "webhooks": [
            {
                "name": WEBHOOK,
                "clientConfig": {"url": url, "caBundle": base64.b64encode(ca_pem).decode()},
                "rules": [
                    {
                        "apiGroups": ["inference-service.dev"],
                        "apiVersions": ["v1alpha1"],
                        "resources": ["modelserves", "modelserves/scale"],
                        "operations": ["CREATE", "UPDATE"],
                        "scope": "Namespaced",
                    }
                ],
                "failurePolicy": "Fail",
                "sideEffects": "NoneOnDryRun",
                "timeoutSeconds": TIMEOUT_SECONDS,
                "admissionReviewVersions": ["v1"],
                "namespaceSelector": {
                    "matchExpressions": [
                        {
                            "key": "kubernetes.io/metadata.name",
                            "operator": "NotIn",
                            "values": ["kube-system"],
                        },
                        {"key": OFF_LABEL, "operator": "NotIn", "values": ["off"]},
                    ]
                },
            }
        ],
    }
