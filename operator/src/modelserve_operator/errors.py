"""How API errors become kopf's retry decisions."""

from __future__ import annotations

import kopf
from kubernetes.client.exceptions import ApiException

from modelserve_operator import kubeapi

RETRY_DELAY = 5.0
MISSING_CRD_DELAY = 30.0


def is_permanent(exc: ApiException) -> bool:
    return exc.status in {400, 403, 422}


def raise_for(exc: ApiException, what: str) -> None:
    message = f"{what}: {kubeapi.error_message(exc)}"
    if exc.status == 404:
        # the kind is missing (e.g. Traefik CRDs not installed) or the namespace is going away
        raise kopf.TemporaryError(message, delay=MISSING_CRD_DELAY) from exc
    if is_permanent(exc):
        raise kopf.PermanentError(message) from exc
    raise kopf.TemporaryError(message, delay=RETRY_DELAY) from exc


def namespace_terminating(exc: ApiException) -> bool:
    """The apiserver refused a write because the namespace is being deleted: nothing to do."""
    return exc.status == 403 and "being terminated" in kubeapi.error_message(exc)
