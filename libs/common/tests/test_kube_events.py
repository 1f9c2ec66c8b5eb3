"""Events against the real apiserver: a repeat within the interval is only counted, the next
one after it writes the total; a different message is an Event of its own."""

from __future__ import annotations

from kubernetes import client

from inference_common.kube_events import WARNING, EventRecorder


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_repeats_aggregate_into_one_event(kube_api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(kube_api)
    cm = core.create_namespaced_config_map(namespace, {"metadata": {"name": "subject"}, "data": {}})
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"namespace": namespace, "name": "subject", "uid": cm.metadata.uid},
    }
    clock = Clock()
    recorder = EventRecorder(kube_api, component="test-recorder", host="here", clock=clock)
    for step in (0.0, 1.0, 2.0, 20.0):
        clock.now = 1000.0 + step
        recorder.record(obj, WARNING, "BackOff", "restarting")
    recorder.record(obj, WARNING, "BackOff", "something else")

    events = core.list_namespaced_event(
        namespace, field_selector=f"involvedObject.uid={cm.metadata.uid}"
    ).items
    by_message = {e.message: e for e in events}
    assert set(by_message) == {"restarting", "something else"}
    assert by_message["restarting"].count == 4
    assert by_message["restarting"].reason == "BackOff"
    assert by_message["restarting"].type == "Warning"
    assert by_message["restarting"].source.component == "test-recorder"
    assert by_message["something else"].count == 1
