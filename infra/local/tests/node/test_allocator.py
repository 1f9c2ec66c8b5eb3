"""Pod IPs and GPUs handed out by the local kubelet."""

from __future__ import annotations

from inference_localstack.config import Network
from inference_localstack.network import pod_namespace_commands
from inference_localstack.node.kubelet import Allocator

NET = Network()


def test_ips_are_stable_per_pod_and_not_reused_at_once() -> None:
    alloc = Allocator(NET, gpus=0)
    first = alloc.allocate_ip("a", None)
    assert first == ("infsvc-p2", "10.244.0.2")
    assert alloc.allocate_ip("a", None) == first
    assert alloc.allocate_ip("b", None) == ("infsvc-p3", "10.244.0.3")
    alloc.release_ip("a")
    assert alloc.allocate_ip("c", None) == ("infsvc-p4", "10.244.0.4")


def test_a_restarted_pod_keeps_its_address_when_free() -> None:
    alloc = Allocator(NET, gpus=0)
    assert alloc.allocate_ip("a", "10.244.0.42") == ("infsvc-p42", "10.244.0.42")
    assert alloc.allocate_ip("b", "10.244.0.42")[1] != "10.244.0.42"
    assert alloc.allocate_ip("c", "10.244.3.9")[1] != "10.244.3.9"  # not the local range


def test_gpus_are_exclusive_and_returned() -> None:
    alloc = Allocator(NET, gpus=4)
    assert alloc.allocate_gpus("a", 2) == [0, 1]
    assert alloc.allocate_gpus("b", 3) is None
    assert alloc.allocate_gpus("b", 2) == [2, 3]
    alloc.release_gpus("a")
    assert alloc.allocate_gpus("c", 1) == [0]


def test_pod_namespace_sits_on_the_bridge_with_the_bridge_as_gateway() -> None:
    commands = pod_namespace_commands(NET, "infsvc-p7", "10.244.0.7")
    assert ["-n", "infsvc-p7", "addr", "add", "10.244.0.7/24", "dev", "eth0"] in commands
    assert ["link", "set", "infsvc-p7v", "master", NET.bridge, "up"] in commands
    assert ["-n", "infsvc-p7", "route", "add", "default", "via", NET.local_pod_gateway] in commands
