"""Which objects named like a new ModelServe the operator could not take as its children:
a Deployment, Service or Traefik IngressRoute of that name in its namespace without a
controller ownerReference to a ModelServe (the operator would refuse to write over it and
report ChildNotOwned; the webhook refuses the ModelServe up front instead)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from inference_common.modelserve import GROUP, KIND

LOOKUP_TIMEOUT_SECONDS = 2.0


Reader = Callable[[client.ApiClient, str, str], Any]

CHILD_KINDS: tuple[tuple[str, Reader], ...] = (
    (
        "Deployment",
        lambda api, ns, name: client.AppsV1Api(api).read_namespaced_deployment(
            name, ns, _request_timeout=LOOKUP_TIMEOUT_SECONDS
        ),
    ),
    (
        "Service",
        lambda api, ns, name: client.CoreV1Api(api).read_namespaced_service(
            name, ns, _request_timeout=LOOKUP_TIMEOUT_SECONDS
        ),
    ),
    (
        "IngressRoute",
        lambda api, ns, name: client.CustomObjectsApi(api).get_namespaced_custom_object(
            "traefik.io",
            "v1alpha1",
            ns,
            "ingressroutes",
            name,
            _request_timeout=LOOKUP_TIMEOUT_SECONDS,
        ),
    ),
)


def owned_by_a_modelserve(obj: Mapping[str, Any], name: str) -> bool:
    """A controller ownerReference to a ModelServe of this name (an earlier one, not yet
    garbage-collected, is a passing state the operator waits out)."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(
        ref.get("controller")
        and ref.get("kind") == KIND
        and str(ref.get("apiVersion", "")).startswith(f"{GROUP}/")
        and ref.get("name") == name
        for ref in refs
    )


@dataclass(frozen=True)
class ChildCheck:
    foreign: tuple[str, ...] = ()
    unchecked: tuple[str, ...] = ()  # lookups that failed (no right to read, apiserver error)


def _read(api: client.ApiClient, read: Reader, namespace: str, name: str) -> dict[str, Any] | None:
    """The object as plain JSON (camelCase keys), None when absent."""
    try:
        found = read(api, namespace, name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    plain: dict[str, Any] = api.sanitize_for_serialization(found)
    return plain


async def check_children(api: client.ApiClient, namespace: str, name: str) -> ChildCheck:
    """Looks the names up at once (threads: the client is blocking)."""
    results = await asyncio.gather(
        *(asyncio.to_thread(_read, api, read, namespace, name) for _, read in CHILD_KINDS),
        return_exceptions=True,
    )
    foreign: list[str] = []
    unchecked: list[str] = []
    for (kind, _), result in zip(CHILD_KINDS, results, strict=True):
        label = f"{kind} {name}"
        if isinstance(result, ApiException | HTTPError | OSError | ValueError):
            why = getattr(result, "status", None) or type(result).__name__
            unchecked.append(f"{label} ({why})")
        elif isinstance(result, BaseException):
            raise result
        elif result is not None and not owned_by_a_modelserve(result, name):
            foreign.append(label)
    return ChildCheck(tuple(foreign), tuple(unchecked))
