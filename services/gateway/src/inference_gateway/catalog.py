"""What the gateway knows about served models: ModelServes (name, aliases, size) and the
Ready endpoints of their EndpointSlices. Parsing is pure; `Catalog` is the in-memory state,
changed only on the event loop (the watch threads hand events over)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from inference_common.model_access import name_forms
from inference_common.modelserve import ALIASES_ANNOTATION
from inference_common.server_identity import UNOWNED, issued_server_uuid, trusted_access

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
PORT_NAME = "http"


@dataclass(frozen=True)
class ServeInfo:
    namespace: str
    name: str
    model: str
    aliases: tuple[str, ...] = ()
    size_bytes: int | None = None
    server_uuid: str | None = None
    model_uuid: str | None = None
    created: int = 0
    owner: str | None = UNOWNED.owner
    visibility: str = UNOWNED.visibility

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def names(self) -> tuple[str, ...]:
        """Every name this serve answers to, canonical first."""
        seen: list[str] = []
        for candidate in (self.model, *self.aliases):
            for form in name_forms(candidate):
                if form not in seen:
                    seen.append(form)
        return tuple(seen)


@dataclass(frozen=True)
class Endpoint:
    address: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}"


def _timestamp(value: Any) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, str) and value:
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            return 0
    return 0


def serve_from_object(obj: Mapping[str, Any], access_key: str = "") -> ServeInfo | None:
    """A ModelServe custom object as routing info; None when it names no model. Owner and
    visibility count only when the API signed them (`access_key`: SERVER_UUID_KEY)."""
    metadata = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    model = spec.get("model") or {}
    name = metadata.get("name")
    namespace = metadata.get("namespace")
    model_name = model.get("name")
    if not (isinstance(name, str) and isinstance(namespace, str) and isinstance(model_name, str)):
        return None
    annotations = metadata.get("annotations") or {}
    # A label alone can be copied from another server: the uuid counts when its signature
    # checks out here, or when the operator (which checks it too) wrote it to the status.
    server_uuid = issued_server_uuid(metadata, access_key) or (obj.get("status") or {}).get(
        "serverUuid"
    )
    aliases = [name]
    raw_aliases = annotations.get(ALIASES_ANNOTATION, "")
    if isinstance(raw_aliases, str):
        aliases += [a.strip() for a in raw_aliases.split(",") if a.strip()]
    size = model.get("sizeBytes")
    access = trusted_access(metadata, access_key)
    return ServeInfo(
        namespace=namespace,
        name=name,
        model=model_name,
        aliases=tuple(a for a in dict.fromkeys(aliases) if a != model_name),
        size_bytes=size if isinstance(size, int) else None,
        server_uuid=server_uuid if isinstance(server_uuid, str) else metadata.get("uid"),
        model_uuid=model.get("uuid") if isinstance(model.get("uuid"), str) else None,
        created=_timestamp(metadata.get("creationTimestamp")),
        owner=access.owner,
        visibility=access.visibility,
    )


@dataclass(frozen=True)
class SliceInfo:
    namespace: str
    name: str
    service: str
    endpoints: frozenset[Endpoint]


def _allowed(
    address: str, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.is_loopback or ip.is_unspecified or ip.is_multicast or ip.is_link_local:
        return False
    return not networks or any(ip in net for net in networks)


def slice_from_object(
    obj: Mapping[str, Any],
    networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network] = (),
) -> SliceInfo | None:
    """An EndpointSlice as its Ready, non-terminating endpoints on the port named `http`."""
    metadata = obj.get("metadata") or {}
    labels = metadata.get("labels") or {}
    service = labels.get(SERVICE_NAME_LABEL)
    name = metadata.get("name")
    namespace = metadata.get("namespace")
    if not (isinstance(service, str) and isinstance(name, str) and isinstance(namespace, str)):
        return None
    if obj.get("addressType", obj.get("address_type")) not in ("IPv4", "IPv6"):
        return SliceInfo(namespace, name, service, frozenset())
    port = next(
        (
            p.get("port")
            for p in obj.get("ports") or []
            if p.get("name") == PORT_NAME and isinstance(p.get("port"), int)
        ),
        None,
    )
    if port is None:
        return SliceInfo(namespace, name, service, frozenset())
    endpoints: set[Endpoint] = set()
    for endpoint in obj.get("endpoints") or []:
        conditions = endpoint.get("conditions") or {}
        if conditions.get("ready") is False or conditions.get("terminating") is True:
            continue
        for address in endpoint.get("addresses") or []:
            if isinstance(address, str) and _allowed(address, networks):
                endpoints.add(Endpoint(address, port))
    return SliceInfo(namespace, name, service, frozenset(endpoints))


@dataclass
class Catalog:
    """ModelServes and their endpoints; lookups by any of a serve's names."""

    serves: dict[tuple[str, str], ServeInfo] = field(default_factory=dict)
    slices: dict[tuple[str, str], dict[str, frozenset[Endpoint]]] = field(default_factory=dict)
    _by_name: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    _by_server: dict[str, tuple[str, str]] = field(default_factory=dict)
    _urls: dict[tuple[tuple[str, str], ...], tuple[str, ...]] = field(default_factory=dict)
    _serve_at: dict[str, list[tuple[str, str]]] | None = None

    # --- changes (event loop only) ---
    def replace_serves(self, serves: Iterable[ServeInfo]) -> None:
        self.serves = {s.key: s for s in serves}
        self._reindex()

    def put_serve(self, serve: ServeInfo) -> None:
        self.serves[serve.key] = serve
        self._reindex()

    def delete_serve(self, namespace: str, name: str) -> None:
        if self.serves.pop((namespace, name), None) is not None:
            self._reindex()

    def replace_slices(self, slices: Iterable[SliceInfo]) -> None:
        self.slices = {}
        self._urls.clear()
        self._serve_at = None
        for s in slices:
            self.put_slice(s)

    def put_slice(self, info: SliceInfo) -> None:
        self._urls.clear()
        self._serve_at = None
        self.slices.setdefault((info.namespace, info.service), {})[info.name] = info.endpoints

    def delete_slice(self, namespace: str, service: str, name: str) -> None:
        by_name = self.slices.get((namespace, service))
        if by_name is not None:
            self._urls.clear()
            self._serve_at = None
            by_name.pop(name, None)
            if not by_name:
                del self.slices[(namespace, service)]

    def _reindex(self) -> None:
        index: dict[str, list[tuple[str, str]]] = {}
        by_server: dict[str, tuple[str, str]] = {}
        for key in sorted(self.serves):
            for name in self.serves[key].names:
                index.setdefault(name, []).append(key)
            server_uuid = self.serves[key].server_uuid
            if server_uuid is not None:
                by_server.setdefault(server_uuid, key)
        self._by_name = index
        self._by_server = by_server
        self._urls.clear()
        self._serve_at = None

    # --- queries ---
    def find(self, model: str) -> list[ServeInfo]:
        return [self.serves[k] for k in self._by_name.get(model, ())]

    def by_server_uuid(self, server_uuid: str) -> ServeInfo | None:
        key = self._by_server.get(server_uuid)
        return None if key is None else self.serves.get(key)

    def replica_urls(self, model: str) -> tuple[str, ...]:
        """The sorted URLs of all endpoints of the serves named `model`."""
        return self.urls_of(self.find(model))

    def urls_of(self, serves: Iterable[ServeInfo]) -> tuple[str, ...]:
        """The sorted URLs of all endpoints of `serves`; kept until the catalog next
        changes (every request asks)."""
        chosen = list(serves)
        keys = tuple(s.key for s in chosen)
        urls = self._urls.get(keys)
        if urls is None:
            urls = tuple(sorted({e.url for s in chosen for e in self.endpoints_of(s)}))
            if len(self._urls) >= 4096:
                self._urls.clear()
            self._urls[keys] = urls
        return urls

    def serve_at(self, url: str, preferred: ServeInfo | None = None) -> ServeInfo | None:
        """The serve whose endpoint `url` is: `preferred` when it is one of them (one
        replica may serve several ModelServes). An index built once per catalog change."""
        if self._serve_at is None:
            index: dict[str, list[tuple[str, str]]] = {}
            for key in sorted(self.serves):
                for endpoint in self.endpoints_of(self.serves[key]):
                    index.setdefault(endpoint.url, []).append(key)
            self._serve_at = index
        keys = self._serve_at.get(url)
        if not keys:
            return None
        if preferred is not None and preferred.key in keys:
            return preferred
        return self.serves.get(keys[0])

    def endpoints_of(self, serve: ServeInfo) -> frozenset[Endpoint]:
        by_name = self.slices.get(serve.key)
        if not by_name:
            return frozenset()
        return frozenset().union(*by_name.values())

    def all_endpoints(self) -> frozenset[Endpoint]:
        out: set[Endpoint] = set()
        for by_name in self.slices.values():
            for endpoints in by_name.values():
                out |= endpoints
        return frozenset(out)

    def models(self, usable: Callable[[ServeInfo], bool] = lambda _: True) -> list[ServeInfo]:
        """One ServeInfo per distinct model name among the `usable` serves (the first by
        namespace/name)."""
        out: dict[str, ServeInfo] = {}
        for key in sorted(self.serves):
            serve = self.serves[key]
            if usable(serve):
                out.setdefault(serve.model, serve)
        return list(out.values())


def smallest_ready(catalog: Catalog, ready: Iterable[ServeInfo]) -> ServeInfo | None:
    """The ready serve with the smallest model file (unknown sizes last; then by name)."""
    candidates = [s for s in ready if catalog.endpoints_of(s)]
    if not candidates:
        return None
    return min(
        candidates,
        key=lambda s: (s.size_bytes is None, s.size_bytes or 0, s.model, s.namespace, s.name),
    )
