"""Test hosts: processes in network namespaces of the stack's own, on its local pod bridge,
with real pod-range IPs (EndpointSlices reject loopback; Traefik and the gateway reach
these). Everything a host starts is stopped and its namespace deleted on exit."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from inference_localstack.config import Network

# The top of the local pod range is kept for test hosts (the node runtime allocates upwards).
_FIRST_HOST = 200


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _existing_netns() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


@dataclass
class NetnsHost:
    name: str
    ip: str
    net: Network
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn(
        self, argv: Sequence[str], log: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Runs argv inside this host's namespace (as an argument list, never via a shell)."""
        out = log.open("ab") if log else subprocess.DEVNULL
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.name, *argv],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        self.processes.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.processes:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.processes:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.processes.clear()


def _free_address(net: Network) -> tuple[str, str]:
    taken = _existing_netns()
    subnet = ipaddress.ip_network(net.local_pod_cidr)
    for offset in range(_FIRST_HOST, subnet.num_addresses - 1):
        ip = str(subnet.network_address + offset)
        name = f"{net.prefix}-h{offset}"
        if name not in taken:
            return name, ip
    raise RuntimeError("no free test host address left in the local pod range")


@contextmanager
def netns_host(net: Network | None = None) -> Iterator[NetnsHost]:
    net = net or Network()
    for _attempt in range(20):
        name, ip = _free_address(net)
        try:
            _ip("netns", "add", name)
            break
        except subprocess.CalledProcessError:
            continue  # taken by a concurrent test between the scan and the add
    else:
        raise RuntimeError("could not create a test host namespace")
    host_if = f"{name}v"
    host = NetnsHost(name, ip, net)
    try:
        prefix = net.local_pod_cidr.split("/")[1]
        _ip("link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", name)
        _ip("link", "set", host_if, "master", net.bridge, "up")
        _ip("-n", name, "addr", "add", f"{ip}/{prefix}", "dev", "eth0")
        _ip("-n", name, "link", "set", "eth0", "up")
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "route", "add", "default", "via", net.local_pod_gateway)
        yield host
    finally:
        host.stop_all()
        subprocess.run(["ip", "link", "delete", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)
