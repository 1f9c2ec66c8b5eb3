"""Throwaway Kubernetes namespaces for tests and benchmarks."""

from __future__ import annotations

import secrets
import time
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


def wait_namespaces_gone(kube_api: client.ApiClient, names: list[str], timeout: float) -> bool:
    """Waits (bounded) until the namespaces and everything in them are deleted: a
    benchmark that ends only then leaves the next run a cluster that is not still deleting
    its objects. False when the time ran out."""
    core = client.CoreV1Api(kube_api)
    deadline = time.monotonic() + timeout
    for name in names:
        while time.monotonic() < deadline:
            try:
                core.read_namespace(name)
            except client.ApiException as exc:
                if exc.status == 404:
                    break
                raise
            time.sleep(0.5)
        else:
            return False
    return True
