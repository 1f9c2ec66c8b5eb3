"""No packet to a cluster address leaves the machine: the kernel routes every node, pod and
service range into the stack's own namespaces, and forwarding stays off."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from inference_localstack.config import Network

NET = Network()


def _route_device(address: str) -> str:
    out = subprocess.run(
        ["ip", "route", "get", address], capture_output=True, text=True, check=True
    )
    words = out.stdout.split()
    return words[words.index("dev") + 1]


@pytest.mark.parametrize(
    ("address", "device"),
    [
        ("10.244.7.9", NET.sink_veth),  # a simulated node's pod
        ("10.244.254.3", NET.sink_veth),  # kwok's default pod range
        ("10.96.0.1", NET.sink_veth),  # the kubernetes Service ClusterIP
        ("10.96.200.17", NET.sink_veth),  # any ClusterIP
        ("10.250.0.11", NET.sink_veth),  # a node address
        ("10.244.0.77", NET.bridge),  # a pod that really runs here
    ],
)
def test_cluster_addresses_route_into_the_stacks_namespaces(
    stack_env: dict[str, str], address: str, device: str
) -> None:
    assert _route_device(address) == device


def test_ip_forwarding_stays_off(stack_env: dict[str, str]) -> None:
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "0"


def test_sink_namespace_has_no_route_out(stack_env: dict[str, str]) -> None:
    out = subprocess.run(
        ["ip", "-n", NET.sink_netns, "route", "show"], capture_output=True, text=True, check=True
    ).stdout
    assert "default" not in out
