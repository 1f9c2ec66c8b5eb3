"""`/authz/servers/{server_uuid}`: Traefik's ForwardAuth asks here before a request reaches a
model server at `/<server uuid>/…`. Allowed (200) only for a caller that authenticates like
on the inference routes, may use that server (ownership, visibility, the key's model list)
and asks for one of its inference endpoints; otherwise 401/403/404 in the OpenAI error
shape, which Traefik hands back to the caller as is."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from inference_gateway.access import is_inference_path, may_use_server, strip_server_prefix
from inference_gateway.deps import GatewayDep
from inference_gateway.errors import GatewayError, Kind

router = APIRouter(tags=["platform"])

FORWARDED_URI = "x-forwarded-uri"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@router.api_route("/authz/servers/{server_uuid}", methods=METHODS, include_in_schema=False)
async def authorize_server_request(server_uuid: str, request: Request, gw: GatewayDep) -> Response:
    """Traefik ForwardAuth target: 200 lets the forwarded request (`X-Forwarded-Uri`)
    through to the model server; any other answer goes back to the caller."""
    principal = await gw.auth.authenticate(request.headers)
    # Counted like any request, before anything else; only the request: ForwardAuth never
    # learns when it ends or what it used.
    ticket = gw.rates.admit(principal) if gw.rates is not None else None
    if gw.rates is not None:
        gw.rates.release(ticket)
    serve = gw.catalog.by_server_uuid(server_uuid)
    # Another tenant's private server is reported as unknown, not as forbidden.
    if serve is None or not may_use_server(principal, serve):
        raise GatewayError(Kind.NOT_FOUND, f"server {server_uuid!r} not found")
    if not principal.may_use(serve.names):
        raise GatewayError(Kind.FORBIDDEN, f"this API key may not use model {serve.model!r}")
    path = strip_server_prefix(request.headers.get(FORWARDED_URI, ""), server_uuid)
    if path is None or not is_inference_path(path):
        raise GatewayError(
            Kind.FORBIDDEN,
            "only the inference endpoints of a model server are reachable "
            "(/v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models, …)",
        )
    return Response(status_code=200, headers=ticket.headers if ticket is not None else None)
