"""The gateway's state (catalog, balancer, upstream client, auth, tracker) and model
resolution: which replicas serve the model a request names."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inference_gateway.access import may_use_server, route_pool
from inference_gateway.auth import Authenticator, Principal
from inference_gateway.balancer import Balancer
from inference_gateway.catalog import Catalog, ServeInfo, smallest_ready
from inference_gateway.errors import GatewayError, Kind
from inference_gateway.rategate import RateGate
from inference_gateway.settings import GatewaySettings
from inference_gateway.tracking import Tracker
from inference_gateway.upstream import Upstream


@dataclass(frozen=True)
class Route:
    model: str  # the name the client used (or the chosen default)
    serve: ServeInfo
    replicas: tuple[str, ...]


@dataclass
class Gateway:
    settings: GatewaySettings
    catalog: Catalog
    balancer: Balancer
    upstream: Upstream
    auth: Authenticator
    tracker: Tracker
    sessions: async_sessionmaker[AsyncSession] | None
    rates: RateGate | None = None

    def present_replicas(self) -> set[str]:
        return {e.url for e in self.catalog.all_endpoints()}

    def on_catalog_change(self) -> None:
        self.balancer.forget_missing(self.present_replicas())

    def visible(self, principal: Principal) -> list[ServeInfo]:
        return [
            s
            for s in self.catalog.models(lambda s: may_use_server(principal, s))
            if principal.may_use(s.names)
        ]

    def pool(self, principal: Principal, requested: str) -> list[ServeInfo]:
        """The serves named `requested` this principal's requests go to (see `route_pool`).
        Unknown, or only other tenants' private servers → not found; not allowed for this
        key → forbidden."""
        serves = route_pool(principal, requested, self.catalog.find(requested))
        if not serves:
            raise GatewayError(Kind.NOT_FOUND, f"model {requested!r} not found", param="model")
        if not principal.may_use(serves[0].names):
            raise GatewayError(
                Kind.FORBIDDEN, f"this API key may not use model {requested!r}", param="model"
            )
        return serves

    def resolve(self, principal: Principal, requested: str | None) -> Route:
        """The replicas for a model name; the smallest ready model when none is named.
        Unknown → not found; not allowed for this key → forbidden; no Ready replica →
        unavailable with Retry-After."""
        if not requested:
            allowed = [
                s
                for s in self.catalog.serves.values()
                if may_use_server(principal, s) and principal.may_use(s.names)
            ]
            serve = smallest_ready(self.catalog, allowed)
            if serve is None:
                raise GatewayError(
                    Kind.UNAVAILABLE,
                    "no model is ready to serve requests; retry later",
                    retry_after=self.settings.retry_after_seconds,
                )
            return self._route(serve.model, self.pool(principal, serve.model))
        return self._route(requested, self.pool(principal, requested))

    def _route(self, name: str, serves: list[ServeInfo]) -> Route:
        replicas = self.catalog.urls_of(serves)
        ejected = self.balancer.ejected
        if not any(r not in ejected for r in replicas):
            raise GatewayError(
                Kind.UNAVAILABLE,
                f"model {name!r} has no ready replica; retry later",
                retry_after=self.settings.retry_after_seconds,
            )
        return Route(model=name, serve=serves[0], replicas=replicas)
