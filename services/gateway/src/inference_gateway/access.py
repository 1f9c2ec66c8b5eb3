"""Who may use which server, and which of a server's paths are reachable from outside.
Pure decisions: the catalog and the authz route apply them."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from inference_common.model_access import name_forms
from inference_common.server_identity import NAMESPACE, PUBLIC
from inference_gateway.auth import Principal
from inference_gateway.catalog import ServeInfo

INFERENCE_PATHS = frozenset(
    {
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/models",
        "/v1/rerank",
        "/chat/completions",
        "/completions",
        "/completion",
        "/embedding",
        "/embeddings",
        "/rerank",
        "/infill",
        "/tokenize",
        "/detokenize",
        "/apply-template",
        "/health",
    }
)
"""llama.cpp's inference endpoints. Everything else (`/slots`, `/props`, `/metrics`,
`/lora-adapters`, the web UI) is for the platform only: it shows file paths, slot contents,
or changes server state."""


def may_use_server(principal: Principal, serve: ServeInfo) -> bool:
    """Admins use every server; the owner its own; a server shared with its namespace every
    principal allowed in that namespace; everyone else only public ones."""
    if principal.role == "admin" or serve.visibility == PUBLIC:
        return True
    if serve.visibility == NAMESPACE and serve.namespace in principal.namespaces:
        return True
    return serve.owner is not None and serve.owner == principal.user_id


def route_pool(
    principal: Principal, requested: str, serves: Sequence[ServeInfo]
) -> list[ServeInfo]:
    """The servers a request for `requested` goes to: only those the principal may use, and
    of those only the best tier — the caller's own before anybody else's, a server whose
    model is the name (or its `:latest` form) before one that has it as an alias — so no
    other tenant's server, by alias or `:latest`, joins or shadows the caller's own."""
    usable = [s for s in serves if may_use_server(principal, s)]
    if not usable:
        return []

    def tier(serve: ServeInfo) -> tuple[bool, bool]:
        own = serve.owner is not None and serve.owner == principal.user_id
        return (not own, requested not in name_forms(serve.model))

    best = min(tier(s) for s in usable)
    return [s for s in usable if tier(s) == best]


def strip_server_prefix(uri: str, server_uuid: str) -> str | None:
    """The path a forwarded request asks the server for: the URI without its query and
    without the `/<server uuid>` prefix; None when it is not under that prefix or is not
    plainly written (dot segments, doubled or encoded slashes — no path games)."""
    path = uri.split("?", 1)[0].split("#", 1)[0]
    prefix = f"/{server_uuid}"
    if not path.startswith(prefix + "/"):
        return None
    rest = path[len(prefix) :]
    if "%" in rest or "\\" in rest or posixpath.normpath(rest) != rest.rstrip("/") or "//" in rest:
        return None
    return rest


def is_inference_path(path: str) -> bool:
    return path in INFERENCE_PATHS
