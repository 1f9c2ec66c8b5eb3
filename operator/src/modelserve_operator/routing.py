"""How requests reach a model server: Traefik's Middlewares and IngressRoute, and the
NetworkPolicy that keeps everything else out."""

from __future__ import annotations

from typing import Any

from inference_common.modelserve import LLAMA_PORT
from modelserve_operator.childmeta import ManifestConfig, Owner, child_metadata, selector_labels

TRAEFIK_API_VERSION = "traefik.io/v1alpha1"
AUTHZ_REQUEST_HEADERS = ["Authorization", "X-Api-Key"]
"""What ForwardAuth copies to the gateway besides Traefik's X-Forwarded-* headers."""


def middleware_name(owner: Owner) -> str:
    return f"{owner.name}-strip"


def authz_middleware_name(owner: Owner) -> str:
    return f"{owner.name}-authz"


def middleware(owner: Owner) -> dict[str, Any]:
    return {
        "apiVersion": TRAEFIK_API_VERSION,
        "kind": "Middleware",
        "metadata": child_metadata(owner, middleware_name(owner)),
        "spec": {"stripPrefix": {"prefixes": [f"/{owner.server_uuid}"]}},
    }


def authz_middleware(owner: Owner, config: ManifestConfig) -> dict[str, Any] | None:
    """ForwardAuth to the gateway, which lets through only callers that may use this
    server, and only to its inference endpoints."""
    if not config.authz_url:
        return None
    return {
        "apiVersion": TRAEFIK_API_VERSION,
        "kind": "Middleware",
        "metadata": child_metadata(owner, authz_middleware_name(owner)),
        "spec": {
            "forwardAuth": {
                "address": f"{config.authz_url.rstrip('/')}/authz/servers/{owner.server_uuid}",
                "authRequestHeaders": AUTHZ_REQUEST_HEADERS,
            }
        },
    }


def route_middlewares(owner: Owner, config: ManifestConfig) -> list[dict[str, str]]:
    """Authorization first (it sees the path with the server's prefix), then the strip."""
    names = [authz_middleware_name(owner)] if config.authz_url else []
    return [{"name": n} for n in (*names, middleware_name(owner))]


def ingress_route(owner: Owner, config: ManifestConfig) -> dict[str, Any]:
    return {
        "apiVersion": TRAEFIK_API_VERSION,
        "kind": "IngressRoute",
        "metadata": child_metadata(owner, owner.name),
        "spec": {
            "entryPoints": [config.entry_point],
            "routes": [
                {
                    "kind": "Rule",
                    "match": f"PathPrefix(`/{owner.server_uuid}/`)",
                    "middlewares": route_middlewares(owner, config),
                    "services": [{"name": owner.name, "port": LLAMA_PORT}],
                }
            ],
        },
    }


def network_policy(owner: Owner, config: ManifestConfig) -> dict[str, Any] | None:
    """Ingress to the model server's pods only from the configured peers, only to its port:
    no other pod reaches llama.cpp around Traefik's and the gateway's authentication."""
    if not config.network_policy_peers:
        return None
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": child_metadata(owner, owner.name),
        "spec": {
            "podSelector": {"matchLabels": selector_labels(owner)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [dict(peer) for peer in config.network_policy_peers],
                    "ports": [{"protocol": "TCP", "port": LLAMA_PORT}],
                }
            ],
        },
    }
