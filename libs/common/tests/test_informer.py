"""The informer against the real apiserver: ConfigMaps in the test's namespace, listed,
added, modified and deleted, seen in order, with the cache and its index following."""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any

from kubernetes import client

from inference_common.informer import Informer, ThreadInformer
from inference_common.informer_core import Listed
from inference_testkit.waiting import async_wait_for, wait_for

MODEL_LABEL = "test.inference-service.dev/model"


def config_map(name: str, model: str, value: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {MODEL_LABEL: model}},
        "data": {"value": value},
    }


def by_model(obj: dict[str, Any]) -> str | None:
    return ((obj.get("metadata") or {}).get("labels") or {}).get(MODEL_LABEL)


def names(objs: list[dict[str, Any]]) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objs)


def changes(core: client.CoreV1Api, namespace: str) -> None:
    """Adds b, modifies a (moving it to model m2), deletes b."""
    core.create_namespaced_config_map(namespace, config_map("b", "m1", "1"))  # type: ignore[arg-type]
    core.replace_namespaced_config_map("a", namespace, config_map("a", "m2", "2"))  # type: ignore[arg-type]
    core.delete_namespaced_config_map("b", namespace)


EXPECTED = [("ADDED", "b", None), ("MODIFIED", "a", "1"), ("DELETED", "b", "1")]


def seen(kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> tuple[str, str, Any]:
    return kind, obj["metadata"]["name"], None if old is None else old["data"]["value"]


async def test_informer_lists_then_follows_every_change_in_order(
    kube_api: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube_api)
    core.create_namespaced_config_map(namespace, config_map("a", "m1", "1"))  # type: ignore[arg-type]
    events: list[tuple[str, str, Any]] = []
    versions: list[int] = []

    async def on_event(kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        events.append(seen(kind, obj, old))
        versions.append(int(obj["metadata"]["resourceVersion"]))

    informer = Informer(
        functools.partial(core.list_namespaced_config_map, namespace),
        name="configmaps",
        label_selector=MODEL_LABEL,
        indexers={"by_model": by_model},
        on_event=on_event,
        watch_timeout=30,
    )
    informer.start()
    try:
        await asyncio.wait_for(informer.synced.wait(), timeout=30)
        assert events == [("ADDED", "a", None)]  # a first list, as the events it stands for
        assert names(informer.cache.by_index("by_model", "m1")) == ["a"]
        events.clear()

        await asyncio.to_thread(changes, core, namespace)

        async def all_seen() -> bool:
            return len(events) >= len(EXPECTED)

        await async_wait_for(all_seen, timeout=30, interval=0.05, what="three events")
        assert events == EXPECTED
        # the next watch resumes from the last event (or a later bookmark), not the list
        assert int(informer.listwatch.resource_version or 0) >= versions[-1]
        cached = informer.cache.get(f"{namespace}/a")
        assert cached is not None
        assert cached["data"] == {"value": "2"}
        assert names(informer.cache.items()) == ["a"]
        assert informer.cache.by_index("by_model", "m1") == []
        assert names(informer.cache.by_index("by_model", "m2")) == ["a"]
    finally:
        started = time.monotonic()
        await informer.stop()
        stopped_in = time.monotonic() - started
    assert stopped_in < 3, f"stop took {stopped_in:.1f}s with a watch open"
    assert not informer.listwatch.running


def test_thread_informer_calls_back_on_its_thread_with_relists_whole(
    kube_api: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube_api)
    core.create_namespaced_config_map(namespace, config_map("a", "m1", "1"))  # type: ignore[arg-type]
    events: list[tuple[str, str, Any]] = []
    lists: list[list[str]] = []

    def on_relist(listed: Listed) -> None:
        lists.append(names(listed.items))

    informer = ThreadInformer(
        functools.partial(core.list_namespaced_config_map, namespace),
        name="configmaps",
        label_selector=MODEL_LABEL,
        indexers={"by_model": by_model},
        on_event=lambda kind, obj, old: events.append(seen(kind, obj, old)),
        on_relist=on_relist,
        watch_timeout=30,
    )
    informer.start()
    try:
        assert informer.synced.wait(30)
        assert lists == [["a"]]
        assert events == []  # the list went to on_relist, not to on_event
        changes(core, namespace)
        wait_for(lambda: len(events) >= len(EXPECTED), timeout=30, interval=0.05, what="events")
        assert events == EXPECTED
        assert names(informer.cache.by_index("by_model", "m2")) == ["a"]
    finally:
        started = time.monotonic()
        informer.stop()
    assert time.monotonic() - started < 3
    assert not informer.listwatch.running
