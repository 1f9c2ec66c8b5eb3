"""Table tests of the informer's event handling: watch lines, resourceVersions, relist or
retry, backoff, the cache, its indexes, the diff of a relist and which callback gets what."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from inference_common.informer import ThreadInformer
from inference_common.informer_core import (
    Cache,
    Change,
    ExpiredError,
    Listed,
    WatchError,
    WatchEvent,
    absorb,
    after_failure,
    index_values,
    next_backoff,
    next_resource_version,
    object_key,
    parse_event,
)


def obj(name: str, rv: str | None = "1", namespace: str | None = "ns", **extra: Any) -> Any:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if rv is not None:
        meta["resourceVersion"] = rv
    return {"metadata": meta, **extra}


def by_model(o: dict[str, Any]) -> Any:
    return (o.get("spec") or {}).get("model")


def line(kind: str, body: dict[str, Any]) -> bytes:
    return json.dumps({"type": kind, "object": body}).encode()


@pytest.mark.parametrize(
    ("o", "key"),
    [
        (obj("a"), "ns/a"),
        (obj("node-1", namespace=None), "node-1"),
        ({"metadata": {"name": "x", "namespace": ""}}, "x"),
        ({}, ""),
    ],
)
def test_object_key(o: dict[str, Any], key: str) -> None:
    assert object_key(o) == key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (line("ADDED", obj("a", "5")), WatchEvent("ADDED", obj("a", "5"))),
        ('{"type": "DELETED", "object": {"metadata": {"name": "a"}}}',
         WatchEvent("DELETED", {"metadata": {"name": "a"}})),
        (line("BOOKMARK", {"metadata": {"resourceVersion": "9"}}),
         WatchEvent("BOOKMARK", {"metadata": {"resourceVersion": "9"}})),
        (b'{"type": "MODIFIED"}', WatchEvent("MODIFIED", {})),
    ],
)  # fmt: skip
def test_parse_event(raw: str | bytes, expected: WatchEvent) -> None:
    assert parse_event(raw) == expected


@pytest.mark.parametrize(
    ("raw", "error", "status"),
    [
        (line("ERROR", {"code": 410, "message": "too old resource version"}), ExpiredError, None),
        (line("ERROR", {"code": 500, "message": "etcd down"}), WatchError, 500),
        (line("ERROR", {"reason": "Forbidden"}), WatchError, None),
    ],
)
def test_error_events_raise(raw: bytes, error: type[Exception], status: int | None) -> None:
    with pytest.raises(error) as caught:
        parse_event(raw)
    assert getattr(caught.value, "status", None) == status


@pytest.mark.parametrize(
    ("event", "current", "expected"),
    [
        (WatchEvent("ADDED", obj("a", "12")), "10", "12"),
        (WatchEvent("BOOKMARK", {"metadata": {"resourceVersion": "40"}}), "12", "40"),
        (WatchEvent("MODIFIED", obj("a", None)), "12", "12"),
        (WatchEvent("DELETED", {}), "7", "7"),
    ],
)
def test_next_resource_version(event: WatchEvent, current: str, expected: str) -> None:
    assert next_resource_version(event, current) == expected


@pytest.mark.parametrize(
    ("error", "current", "expected"),
    [
        (ExpiredError("gone"), "10", (None, False)),
        (ApiException(status=410, reason="Gone"), "10", (None, False)),
        (ApiException(status=500, reason="boom"), "10", ("10", True)),
        (WatchError(500, "etcd"), "10", ("10", True)),
        (ConnectionResetError(), "10", ("10", True)),
        (TimeoutError(), None, (None, True)),
    ],
)
def test_after_failure_relists_on_expiry_and_retries_otherwise(
    error: BaseException, current: str | None, expected: tuple[str | None, bool]
) -> None:
    assert after_failure(error, current) == expected


@pytest.mark.parametrize(
    ("current", "maximum", "expected"),
    [(0.5, 10.0, 1.0), (4.0, 10.0, 8.0), (8.0, 10.0, 10.0), (10.0, 10.0, 10.0)],
)
def test_backoff_doubles_up_to_the_maximum(current: float, maximum: float, expected: float) -> None:
    assert next_backoff(current, maximum) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, ()), ("m", ("m",)), (["a", "b"], ("a", "b")), ((), ())],
)
def test_index_values(value: Any, expected: tuple[str, ...]) -> None:
    assert index_values(lambda _o: value, {}) == expected


A1 = obj("a", "1", spec={"model": "m1"})
A2 = obj("a", "2", spec={"model": "m2"})
B1 = obj("b", "1", spec={"model": "m1"})


@pytest.mark.parametrize(
    ("events", "change", "keys", "m1", "m2"),
    [
        ([("ADDED", A1)], Change("ADDED", A1, None), ["ns/a"], [A1], []),
        ([("ADDED", A1), ("MODIFIED", A2)], Change("MODIFIED", A2, A1), ["ns/a"], [], [A2]),
        ([("ADDED", A1), ("DELETED", A2)], Change("DELETED", A2, A1), [], [], []),
        # a MODIFIED for an unknown object (e.g. first seen after a relist) adds it
        ([("MODIFIED", A1)], Change("ADDED", A1, None), ["ns/a"], [A1], []),
        # a DELETED for an unknown object still reports the deletion, with no old object
        ([("DELETED", A1)], Change("DELETED", A1, None), [], [], []),
        ([("ADDED", A1), ("ADDED", B1)], Change("ADDED", B1, None), ["ns/a", "ns/b"], [A1, B1], []),
        ([("ADDED", A1), ("BOOKMARK", obj("", "5"))], None, ["ns/a"], [A1], []),
    ],
)
def test_cache_applies_events_and_keeps_the_index(
    events: list[tuple[str, Any]],
    change: Change | None,
    keys: list[str],
    m1: list[Any],
    m2: list[Any],
) -> None:
    cache = Cache({"by_model": by_model})
    last = None
    for kind, o in events:
        last = cache.apply(kind, o)
    assert last == change
    assert sorted(cache.keys()) == keys
    assert cache.by_index("by_model", "m1") == m1
    assert cache.by_index("by_model", "m2") == m2
    assert [cache.get(k) for k in keys] == cache.items()


C1 = obj("c", "1")


@pytest.mark.parametrize(
    ("before", "listed", "changes"),
    [
        ([], [A1, B1], [Change("ADDED", A1, None), Change("ADDED", B1, None)]),
        ([A1, B1], [A1, B1], []),
        ([A1, B1], [A2, B1], [Change("MODIFIED", A2, A1)]),
        ([A1, B1], [B1], [Change("DELETED", A1, A1)]),
        (
            [A1, B1],
            [A2, C1],
            [Change("DELETED", B1, B1), Change("MODIFIED", A2, A1), Change("ADDED", C1, None)],
        ),
        # no resourceVersion: compared whole
        ([obj("x", None, v=1)], [obj("x", None, v=1)], []),
        (
            [obj("x", None, v=1)],
            [obj("x", None, v=2)],
            [Change("MODIFIED", obj("x", None, v=2), obj("x", None, v=1))],
        ),
    ],
)
def test_replace_is_the_diff_a_watch_would_have_shown(
    before: list[Any], listed: list[Any], changes: list[Change]
) -> None:
    cache = Cache({"by_model": by_model})
    for o in before:
        cache.apply("ADDED", o)
    assert cache.replace(listed) == changes
    assert cache.items() == listed
    assert cache.by_index("by_model", "m1") == [o for o in listed if by_model(o) == "m1"]


def test_unknown_index_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        Cache().by_index("nope", "x")


@pytest.mark.parametrize(
    ("delivery", "changes"),
    [
        (Listed([A1], "3", datetime.now(UTC)), [Change("ADDED", A1, None)]),
        (WatchEvent("MODIFIED", A2), [Change("MODIFIED", A2, A1)]),
        (WatchEvent("BOOKMARK", obj("", "9")), []),
    ],
)
def test_absorb(delivery: Listed | WatchEvent, changes: list[Change]) -> None:
    cache = Cache()
    if isinstance(delivery, WatchEvent):
        cache.apply("ADDED", A1)
    assert absorb(cache, delivery) == changes


def _no_io(**_kwargs: Any) -> Any:
    raise AssertionError("not started: no list or watch")


@pytest.mark.parametrize(
    ("with_relist", "deliveries", "calls"),
    [
        # a list goes whole to on_relist when there is one...
        (True, [Listed([A1, B1], "3", datetime(2026, 1, 1, tzinfo=UTC))], [("relist", "3")]),
        # ...and as the events it stands for otherwise
        (False, [Listed([A1], "3", datetime(2026, 1, 1, tzinfo=UTC))], [("ADDED", "ns/a", None)]),
        (True, [WatchEvent("ADDED", A1), WatchEvent("MODIFIED", A2)],
         [("ADDED", "ns/a", None), ("MODIFIED", "ns/a", "1")]),
        (False, [WatchEvent("ADDED", A1), WatchEvent("DELETED", A2)],
         [("ADDED", "ns/a", None), ("DELETED", "ns/a", "1")]),
        (False, [WatchEvent("BOOKMARK", obj("", "8"))], []),
    ],
)  # fmt: skip
def test_deliveries_reach_the_right_callback(
    with_relist: bool, deliveries: list[Listed | WatchEvent], calls: list[tuple[Any, ...]]
) -> None:
    made: list[tuple[Any, ...]] = []

    def on_event(kind: str, o: dict[str, Any], old: dict[str, Any] | None) -> None:
        made.append(
            (kind, object_key(o), None if old is None else old["metadata"]["resourceVersion"])
        )

    def on_relist(listed: Listed) -> None:
        made.append(("relist", listed.resource_version))

    informer = ThreadInformer(
        _no_io, name="t", on_event=on_event, on_relist=on_relist if with_relist else None
    )
    for delivery in deliveries:
        for call in informer.calls(delivery):
            call()
    assert made == calls


def test_an_indexer_that_raises_leaves_the_cache_as_it_was() -> None:
    cache = Cache({"by_model": lambda o: o["spec"]["model"]})
    cache.apply("ADDED", A1)
    with pytest.raises(KeyError):
        cache.apply("MODIFIED", obj("a", "2"))  # no spec
    with pytest.raises(KeyError):
        cache.replace([obj("z", "3")])
    assert cache.items() == [A1]
    assert cache.by_index("by_model", "m1") == [A1]


def test_a_failing_indexer_costs_one_change_not_the_informer() -> None:
    made: list[str] = []
    informer = ThreadInformer(
        _no_io,
        name="t",
        indexers={"by_model": lambda o: o["spec"]["model"]},
        on_event=lambda kind, o, _old: made.append(object_key(o)),
    )
    for delivery in (WatchEvent("ADDED", obj("bad", "1")), WatchEvent("ADDED", B1)):
        for call in informer.calls(delivery):
            call()
    assert made == ["ns/b"]
    assert informer.cache.keys() == ["ns/b"]
