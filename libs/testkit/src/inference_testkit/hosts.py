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

from inference_localstack import network
from inference_localstack.config import Network

# The top of the local pod range is kept for test hosts (the local kubelet allocates upwards).
_FIRST_HOST = 200


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


def _free_address(net: Network, taken: set[str]) -> tuple[str, str]:
    subnet = ipaddress.ip_network(net.local_pod_cidr)
    for offset in range(_FIRST_HOST, subnet.num_addresses - 1):
        name = f"{net.prefix}-h{offset}"
        if name not in taken:
            return name, str(subnet.network_address + offset)
    raise RuntimeError("no free test host address left in the local pod range")


@contextmanager
def netns_host(net: Network | None = None) -> Iterator[NetnsHost]:
    net = net or Network()
    for _attempt in range(20):
        name, ip = _free_address(net, network.namespaces())
        try:
            network.add_pod_namespace(net, name, ip)
            break
        except network.NetworkError:
            continue  # taken by a concurrent test between the scan and the add
    else:
        raise RuntimeError("could not create a test host namespace")
    host = NetnsHost(name, ip, net)
    try:
        yield host
    finally:
        host.stop_all()
        network.delete_pod_namespace(name)
