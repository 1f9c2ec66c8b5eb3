from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from inference_common.model_access import name_forms
from inference_gateway.catalog import (
    Catalog,
    Endpoint,
    ServeInfo,
    SliceInfo,
    serve_from_object,
    slice_from_object,
    smallest_ready,
)


def _serve_obj(name: str = "smol", model: str = "smollm2:135m", **extra: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": "u-1", **extra.get("meta", {})},
        "spec": {"model": {"name": model, "sizeBytes": extra.get("size", 100)}},
        **({"status": extra["status"]} if "status" in extra else {}),
    }


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({}, None),
        ({"metadata": {"name": "a", "namespace": "n"}, "spec": {}}, None),
        (_serve_obj(), ServeInfo("ns", "smol", "smollm2:135m", ("smol",), 100, "u-1")),
        (
            _serve_obj(
                meta={
                    "labels": {"inference-service.dev/server-uuid": "s-1"},
                    "annotations": {"inference-service.dev/aliases": "a, b,"},
                }
            ),
            # A label alone is no proof: another ModelServe can copy it.
            ServeInfo("ns", "smol", "smollm2:135m", ("smol", "a", "b"), 100, "u-1"),
        ),
        (
            _serve_obj(status={"serverUuid": "s-1"}),
            ServeInfo("ns", "smol", "smollm2:135m", ("smol",), 100, "s-1"),
        ),
        (
            _serve_obj(name="smollm2:135m"),
            ServeInfo("ns", "smollm2:135m", "smollm2:135m", (), 100, "u-1"),
        ),
    ],
)
def test_serve_from_object(obj: dict[str, Any], expected: ServeInfo | None) -> None:
    assert serve_from_object(obj) == expected


@pytest.mark.parametrize(
    ("name", "forms"),
    [
        ("smollm2:135m", ("smollm2:135m",)),
        ("smollm2", ("smollm2", "smollm2:latest")),
        ("smollm2:latest", ("smollm2:latest", "smollm2")),
    ],
)
def test_name_forms(name: str, forms: tuple[str, ...]) -> None:
    assert name_forms(name) == forms


def _slice(
    endpoints: list[dict[str, Any]],
    ports: list[dict[str, Any]] | None = None,
    address_type: str = "IPv4",
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "smol-abc",
            "namespace": "ns",
            "labels": {"kubernetes.io/service-name": "smol"},
        },
        "addressType": address_type,
        "ports": ports if ports is not None else [{"name": "http", "port": 8080}],
        "endpoints": endpoints,
    }


E = Endpoint
POD = ipaddress.ip_network("10.244.0.0/24")


@pytest.mark.parametrize(
    ("obj", "networks", "endpoints"),
    [
        (
            _slice([{"addresses": ["10.244.0.5"], "conditions": {"ready": True}}]),
            [],
            {E("10.244.0.5", 8080)},
        ),
        (_slice([{"addresses": ["10.244.0.5"]}]), [], {E("10.244.0.5", 8080)}),
        (_slice([{"addresses": ["10.244.0.5"], "conditions": {"ready": False}}]), [], set()),
        (
            _slice(
                [{"addresses": ["10.244.0.5"], "conditions": {"ready": True, "terminating": True}}]
            ),
            [],
            set(),
        ),
        (
            _slice([{"addresses": ["10.244.0.5"]}], ports=[{"name": "metrics", "port": 9}]),
            [],
            set(),
        ),
        (
            _slice([{"addresses": ["10.244.0.5"]}], ports=[{"name": "http", "port": 9000}]),
            [],
            {E("10.244.0.5", 9000)},
        ),
        (
            _slice([{"addresses": ["10.244.3.5"]}, {"addresses": ["10.244.0.7"]}]),
            [POD],
            {E("10.244.0.7", 8080)},
        ),
        (_slice([{"addresses": ["127.0.0.1"]}]), [], set()),
        (_slice([{"addresses": ["x.example"]}], address_type="FQDN"), [], set()),
    ],
)
def test_slice_from_object(
    obj: dict[str, Any], networks: list[Any], endpoints: set[Endpoint]
) -> None:
    info = slice_from_object(obj, networks)
    assert info is not None
    assert info.service == "smol"
    assert info.endpoints == frozenset(endpoints)


def test_slice_without_service_label_is_ignored() -> None:
    assert slice_from_object({"metadata": {"name": "x", "namespace": "n"}}) is None


def test_endpoint_url() -> None:
    assert E("10.0.0.1", 80).url == "http://10.0.0.1:80"
    assert E("fd00::1", 80).url == "http://[fd00::1]:80"


def test_catalog_finds_by_any_name_and_unions_slices() -> None:
    catalog = Catalog()
    serve = ServeInfo("ns", "smol", "smollm2:135m", ("tiny",), 10)
    catalog.put_serve(serve)
    catalog.put_slice(SliceInfo("ns", "a", "smol", frozenset({E("10.244.0.5", 8080)})))
    catalog.put_slice(SliceInfo("ns", "b", "smol", frozenset({E("10.244.0.6", 8080)})))
    assert catalog.find("smollm2:135m") == [serve]
    assert catalog.find("tiny") == [serve]
    assert catalog.find("tiny:latest") == [serve]
    assert catalog.find("other") == []
    assert catalog.endpoints_of(serve) == {E("10.244.0.5", 8080), E("10.244.0.6", 8080)}
    catalog.delete_slice("ns", "smol", "a")
    assert catalog.endpoints_of(serve) == {E("10.244.0.6", 8080)}
    catalog.delete_serve("ns", "smol")
    assert catalog.find("tiny") == []


def test_replica_urls_follow_every_change() -> None:
    catalog = Catalog()
    serve = ServeInfo("ns", "smol", "smollm2:135m", ("tiny",), 10)
    catalog.put_serve(serve)
    assert catalog.replica_urls("tiny") == ()
    catalog.put_slice(SliceInfo("ns", "b", "smol", frozenset({E("10.244.0.6", 8080)})))
    catalog.put_slice(SliceInfo("ns", "a", "smol", frozenset({E("10.244.0.5", 8080)})))
    assert catalog.replica_urls("tiny") == ("http://10.244.0.5:8080", "http://10.244.0.6:8080")
    catalog.delete_slice("ns", "smol", "a")
    assert catalog.replica_urls("tiny") == ("http://10.244.0.6:8080",)
    catalog.replace_slices([])
    assert catalog.replica_urls("tiny") == ()
    catalog.replace_slices([SliceInfo("ns", "c", "smol", frozenset({E("10.244.0.7", 8080)}))])
    assert catalog.replica_urls("smollm2:135m") == ("http://10.244.0.7:8080",)
    catalog.delete_serve("ns", "smol")
    assert catalog.replica_urls("tiny") == ()


def test_serve_at_a_replica_follows_changes_and_prefers_the_routed_serve() -> None:
    catalog = Catalog()
    a = ServeInfo("ns", "a", "m", server_uuid="ua")
    b = ServeInfo("ns", "b", "m", server_uuid="ub")
    catalog.put_serve(a)
    catalog.put_serve(b)
    shared = E("10.244.0.5", 8080)
    catalog.put_slice(SliceInfo("ns", "a1", "a", frozenset({shared})))
    assert catalog.serve_at(shared.url) == a
    assert catalog.serve_at("http://10.244.0.9:8080") is None
    catalog.put_slice(SliceInfo("ns", "b1", "b", frozenset({shared, E("10.244.0.6", 8080)})))
    assert catalog.serve_at(shared.url, preferred=b) == b
    assert catalog.serve_at(shared.url, preferred=a) == a
    assert catalog.serve_at("http://10.244.0.6:8080", preferred=a) == b
    catalog.delete_slice("ns", "b", "b1")
    assert catalog.serve_at("http://10.244.0.6:8080") is None
    catalog.delete_serve("ns", "a")
    assert catalog.serve_at(shared.url) is None


def test_smallest_ready_skips_unready_and_prefers_known_small_sizes() -> None:
    catalog = Catalog()
    big = ServeInfo("ns", "big", "big:7b", (), 7_000)
    small = ServeInfo("ns", "small", "small:1b", (), 1_000)
    unknown = ServeInfo("ns", "unk", "unk:x", (), None)
    tiny_unready = ServeInfo("ns", "tiny", "tiny:1m", (), 1)
    for s in (big, small, unknown, tiny_unready):
        catalog.put_serve(s)
    for svc in ("big", "small", "unk"):
        catalog.put_slice(SliceInfo("ns", svc, svc, frozenset({E(f"10.244.0.{len(svc)}", 1)})))
    assert smallest_ready(catalog, catalog.serves.values()) == small
    assert smallest_ready(catalog, [unknown]) == unknown
    assert smallest_ready(catalog, [tiny_unready]) is None
