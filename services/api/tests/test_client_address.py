from __future__ import annotations

import pytest

from inference_api.client_address import client_address, parse_networks

PROXIES = parse_networks(["127.0.0.1/32", "10.0.0.0/8", "fd00::/8"])


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "proxies", "expected"),
    [
        # no trusted proxies: the socket peer, whatever the header says
        ("127.0.0.1", ["203.0.113.9"], (), "127.0.0.1"),
        ("198.51.100.1", [], PROXIES, "198.51.100.1"),
        # an untrusted peer cannot pick its address
        ("198.51.100.1", ["203.0.113.9"], PROXIES, "198.51.100.1"),
        # a trusted proxy: the address it saw
        ("127.0.0.1", ["203.0.113.9"], PROXIES, "203.0.113.9"),
        ("127.0.0.1", [" 203.0.113.9 "], PROXIES, "203.0.113.9"),
        # a chain of trusted proxies
        ("127.0.0.1", ["203.0.113.9, 10.1.2.3"], PROXIES, "203.0.113.9"),
        ("127.0.0.1", ["203.0.113.9", "10.1.2.3"], PROXIES, "203.0.113.9"),
        # a client-written entry left of the real one is ignored
        ("127.0.0.1", ["1.2.3.4, 203.0.113.9"], PROXIES, "203.0.113.9"),
        ("127.0.0.1", ["1.2.3.4, 203.0.113.9, 10.0.0.2"], PROXIES, "203.0.113.9"),
        # malformed: the proxy that passed it on
        ("127.0.0.1", ["not-an-ip"], PROXIES, "127.0.0.1"),
        ("127.0.0.1", ["203.0.113.9, junk, 10.0.0.2"], PROXIES, "10.0.0.2"),
        ("127.0.0.1", [""], PROXIES, "127.0.0.1"),
        # every hop trusted: the leftmost
        ("127.0.0.1", ["10.0.0.5, 10.0.0.6"], PROXIES, "10.0.0.5"),
        # IPv6
        ("fd00::1", ["2001:db8::7"], PROXIES, "2001:db8::7"),
        ("2001:db8::1", ["203.0.113.9"], PROXIES, "2001:db8::1"),
        # no peer at all
        (None, ["203.0.113.9"], PROXIES, "unknown"),
    ],
)
def test_client_address(
    peer: str | None, forwarded_for: list[str], proxies: tuple[object, ...], expected: str
) -> None:
    assert client_address(peer, forwarded_for, proxies) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "nope", "10.0.0.300"])
def test_bad_proxy_networks_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        parse_networks([bad])
