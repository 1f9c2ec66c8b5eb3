"""Throwaway Kubernetes namespaces for tests and benchmarks."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from kubernetes import client

CONTRACT_WEBHOOK_OFF = {"inference-service.dev/contract-webhook": "off"}
"""The stack's contract webhook skips namespaces with this label: a test's namespace is
decided by the contract service the test runs itself (with the test's own database), if any
(see `inference_testkit.webhooks`)."""


@contextmanager
def temporary_namespace(kube_api: client.ApiClient, prefix: str = "t") -> Iterator[str]:
    """A new namespace `<prefix>-<random>`, deleted (in the background) on exit. Prefix
    `opt` for namespaces the stack's own operator must leave alone (it skips `opt-*`).
    Labelled CONTRACT_WEBHOOK_OFF."""
    name = f"{prefix}-{secrets.token_hex(4)}"
    core = client.CoreV1Api(kube_api)
    core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=CONTRACT_WEBHOOK_OFF))
    )
    try:
        yield name
    finally:
        core.delete_namespace(name, propagation_policy="Background")
