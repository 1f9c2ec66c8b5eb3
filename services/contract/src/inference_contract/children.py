"""Which objects named like a new ModelServe the operator could not take as its children:
a Deployment, Service or Traefik IngressRoute of that name in its namespace without a
controller ownerReference to a ModelServe (the operator would refuse to write over it and
report ChildNotOwned; the webhook refuses the ModelServe up front instead).

The objects come from list-watch caches (the shared informer), so a review asks nothing of
the apiserver: an object made in the last moments may be missed, and the operator's own
check remains for it. Until a cache has its first list, its kind is reported unchecked."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from inference_common.informer import Informer, ListFn, custom_objects
from inference_common.modelserve import GROUP, KIND


@dataclass(frozen=True)
class ChildCheck:
    foreign: tuple[str, ...] = ()
    unchecked: tuple[str, ...] = ()  # kinds whose cache has no first list yet


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


def child_kinds(api: client.ApiClient) -> dict[str, ListFn]:
    """The kinds named after their ModelServe (the operator's Deployment, Service and
    IngressRoute), each listed in every namespace."""
    return {
        "Deployment": client.AppsV1Api(api).list_deployment_for_all_namespaces,
        "Service": client.CoreV1Api(api).list_service_for_all_namespaces,
        "IngressRoute": custom_objects(api, "traefik.io", "v1alpha1", "ingressroutes"),
    }


def check(
    found: Mapping[str, Mapping[str, Any] | None], synced: Mapping[str, bool], name: str
) -> ChildCheck:
    """`found`: per kind, the object of that name (None: none); pure."""
    foreign = tuple(
        f"{kind} {name}"
        for kind, obj in found.items()
        if synced[kind] and obj is not None and not owned_by_a_modelserve(obj, name)
    )
    unchecked = tuple(kind for kind, ready in synced.items() if not ready)
    return ChildCheck(foreign, unchecked)


class ChildNames:
    """One informer per child kind; `check` reads their caches (no I/O)."""

    def __init__(self, kinds: Mapping[str, ListFn]) -> None:
        self.informers = {
            kind: Informer(list_fn, name=f"contract-{kind.lower()}s")
            for kind, list_fn in kinds.items()
        }

    def start(self) -> None:
        for informer in self.informers.values():
            informer.start()

    async def stop(self) -> None:
        await asyncio.gather(*(i.stop() for i in self.informers.values()))

    def check(self, namespace: str, name: str) -> ChildCheck:
        key = f"{namespace}/{name}"
        return check(
            {kind: i.cache.get(key) for kind, i in self.informers.items()},
            {kind: i.synced.is_set() for kind, i in self.informers.items()},
            name,
        )
