"""The stack's own network: a sink namespace that swallows every cluster range, and a
bridge for the pods and test hosts that really run on this machine.

No packet to a node, pod or service address leaves the machine: those ranges are routed
into the sink namespace (which has no route out), and only the local pod range, more
specific, goes to the bridge. IP forwarding is never turned on.
"""

from __future__ import annotations

import subprocess

from inference_localstack.config import Network


class NetworkError(RuntimeError):
    pass


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def _netns_exists(name: str) -> bool:
    return name in _ip("netns", "list").stdout.split()


def _link_exists(name: str) -> bool:
    return _ip("link", "show", name, check=False).returncode == 0


def prefix_len(cidr: str) -> str:
    return cidr.split("/")[1]


def setup_commands(net: Network) -> list[list[str]]:
    """The `ip` commands that build the network from nothing (pure; applied in order)."""
    ns, veth, br = net.sink_netns, net.sink_veth, net.bridge
    return [
        ["netns", "add", ns],
        ["link", "add", veth, "type", "veth", "peer", "name", "sink", "netns", ns],
        ["addr", "add", f"{net.host_node_ip}/{prefix_len(net.node_cidr)}", "dev", veth],
        ["link", "set", veth, "up"],
        ["-n", ns, "link", "set", "lo", "up"],
        ["-n", ns, "addr", "add", f"{net.sink_ip}/{prefix_len(net.node_cidr)}", "dev", "sink"],
        ["-n", ns, "link", "set", "sink", "up"],
        ["route", "replace", net.pod_cidr, "via", net.sink_ip, "dev", veth],
        ["route", "replace", net.service_cidr, "via", net.sink_ip, "dev", veth],
        ["link", "add", br, "type", "bridge"],
        ["addr", "add", f"{net.local_pod_gateway}/{prefix_len(net.local_pod_cidr)}", "dev", br],
        ["link", "set", br, "up"],
    ]


def up(net: Network) -> None:
    if _netns_exists(net.sink_netns) and _link_exists(net.bridge):
        return
    down(net)
    for args in setup_commands(net):
        _ip(*args)


def down(net: Network) -> None:
    """Removes every namespace and link with the stack's prefix (test hosts and pods too)."""
    for name in _ip("netns", "list", check=False).stdout.split():
        if name.startswith(f"{net.prefix}-"):
            _ip("netns", "delete", name, check=False)
    for link in (net.sink_veth, net.bridge):
        if _link_exists(link):
            _ip("link", "delete", link, check=False)
    for cidr in (net.pod_cidr, net.service_cidr):
        _ip("route", "delete", cidr, check=False)


def is_up(net: Network) -> bool:
    return _netns_exists(net.sink_netns) and _link_exists(net.bridge)


def host_link_name(netns: str) -> str:
    return f"{netns}v"[:15]


def pod_namespace_commands(net: Network, netns: str, ip: str) -> list[list[str]]:
    """A namespace with one veth on the local pod bridge, `ip` on it, default via the bridge."""
    link = host_link_name(netns)
    return [
        ["netns", "add", netns],
        ["link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", netns],
        ["link", "set", link, "master", net.bridge, "up"],
        ["-n", netns, "addr", "add", f"{ip}/{prefix_len(net.local_pod_cidr)}", "dev", "eth0"],
        ["-n", netns, "link", "set", "eth0", "up"],
        ["-n", netns, "link", "set", "lo", "up"],
        ["-n", netns, "route", "add", "default", "via", net.local_pod_gateway],
    ]


def isolation_commands(net: Network, netns: str) -> list[list[str]]:
    """iptables rules (pure) that let a pod namespace accept new TCP connections only from
    this host — Traefik, the gateway and the kubelet's probes, all reaching pods from the
    bridge's address — and not from other pods or test hosts on the bridge: what a
    NetworkPolicy allowing only Traefik and the gateway does on a real cluster."""
    rule = ["ip", "netns", "exec", netns, "iptables", "-w", "5"]
    return [
        [*rule, "-A", "INPUT", "-i", "lo", "-j", "ACCEPT"],
        [*rule, "-A", "INPUT", "-p", "tcp", "--syn", "-s", net.local_pod_gateway, "-j", "ACCEPT"],
        [*rule, "-A", "INPUT", "-p", "tcp", "--syn", "-j", "REJECT", "--reject-with", "tcp-reset"],
    ]


def isolate_pod_namespace(net: Network, netns: str) -> None:
    for command in isolation_commands(net, netns):
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise NetworkError(f"{' '.join(command)}: {result.stderr.strip()}")


def forget_neighbour(net: Network, ip: str) -> None:
    """A new namespace reusing an address has a new MAC: the host must not keep the old one."""
    _ip("neigh", "flush", "to", ip, "dev", net.bridge, check=False)


def add_pod_namespace(net: Network, netns: str, ip: str, isolated: bool = False) -> None:
    """Creates the namespace (`isolated`: reachable only from this host, see
    `isolation_commands`); raises NetworkError (leaving nothing behind) when it cannot."""
    forget_neighbour(net, ip)
    commands = pod_namespace_commands(net, netns, ip)
    _ip(*commands[0])
    try:
        for args in commands[1:]:
            _ip(*args)
        if isolated:
            isolate_pod_namespace(net, netns)
    except NetworkError:
        delete_pod_namespace(netns)
        raise


def delete_pod_namespace(netns: str) -> None:
    _ip("link", "delete", host_link_name(netns), check=False)
    _ip("netns", "delete", netns, check=False)


def namespaces() -> set[str]:
    return {line.split()[0] for line in _ip("netns", "list").stdout.splitlines() if line.strip()}
