"""The one table of the kinds the operator writes: kopf's watches, REST paths and the kind names
of the manifests all come from it."""

from __future__ import annotations

from dataclasses import dataclass

from inference_common.modelserve import GROUP, KIND, PLURAL, VERSION


@dataclass(frozen=True)
class Kind:
    group: str
    """API group; "" for the core group."""
    version: str
    kind: str
    plural: str
    create_only: bool = False
    """The operator creates objects of this kind but never reads, watches or patches them (its
    role grants `create` alone: Secrets)."""
    watched: bool = True
    """Watched, indexed and restored from the spec (the fetch slots' objects are not: see
    fetchslots)."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> tuple[str, str] | tuple[str, str, str]:
        """kopf's resource spec: (group, version, plural), or (version, plural) for core."""
        if self.group:
            return (self.group, self.version, self.plural)
        return (self.version, self.plural)

    def collection(self, namespace: str) -> str:
        """REST path of the kind in a namespace, e.g. /apis/apps/v1/namespaces/ns/deployments."""
        prefix = f"/apis/{self.api_version}" if self.group else f"/api/{self.version}"
        return f"{prefix}/namespaces/{namespace}/{self.plural}"

    def path(self, namespace: str, name: str) -> str:
        """REST path of one object, e.g. /apis/apps/v1/namespaces/ns/deployments/n."""
        return f"{self.collection(namespace)}/{name}"


MODELSERVE = Kind(GROUP, VERSION, KIND, PLURAL)

CHILD_KINDS: tuple[Kind, ...] = (
    Kind("apps", "v1", "Deployment", "deployments"),
    Kind("", "v1", "Service", "services"),
    Kind("", "v1", "Secret", "secrets", create_only=True, watched=False),
    Kind("", "v1", "ConfigMap", "configmaps", watched=False),
    Kind("traefik.io", "v1alpha1", "Middleware", "middlewares"),
    Kind("traefik.io", "v1alpha1", "IngressRoute", "ingressroutes"),
    Kind("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies"),
)

WATCHED_CHILD_KINDS = tuple(k for k in CHILD_KINDS if k.watched)

_BY_NAME = {(k.api_version, k.kind): k for k in (*CHILD_KINDS, MODELSERVE)}


def kind_of(api_version: str, kind: str) -> Kind:
    """The table's entry for an object's apiVersion and kind; KeyError for any other kind."""
    return _BY_NAME[(api_version, kind)]
