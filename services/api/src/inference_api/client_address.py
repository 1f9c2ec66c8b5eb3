"""Who is logging in: the socket peer, or — only when the peer is a configured proxy — the
address that proxy (and any trusted proxies before it) saw, from X-Forwarded-For."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """`TRUSTED_PROXIES` entries (`10.0.0.0/8`, `127.0.0.1`); a bad one raises ValueError."""
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs)


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: Address, proxies: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[Network]
) -> str:
    """The first hop, walking X-Forwarded-For from the right, that is not a trusted proxy.

    Entries a client wrote itself sit left of those the proxies appended, so they are only
    reached when every hop right of them is trusted. A malformed entry ends the walk at the
    proxy that passed it on."""
    if peer is None:
        return "unknown"
    current = _address(peer)
    if current is None or not _trusted(current, proxies):
        return peer
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        current = address
        if not _trusted(address, proxies):
            break
    return str(current)
