"""Model-server pods accept connections only from this host (Traefik, the gateway, the
kubelet's probes), never from another pod or test host on the bridge (issue 11, item 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from inference_localstack import network
from inference_localstack.config import Network
from inference_testkit.hosts import NetnsHost, netns_host
from inference_testkit.waiting import wait_for

PORT = "8080"


def _reachable_from(client: NetnsHost, url: str) -> bool:
    """Whether a connection from inside `client`'s namespace gets an HTTP answer."""
    probe = f"import urllib.request; urllib.request.urlopen({url!r}, timeout=3)"
    result = subprocess.run(
        ["ip", "netns", "exec", client.name, sys.executable, "-c", probe],
        capture_output=True,
        timeout=20,
    )
    return result.returncode == 0


def _serve(host: NetnsHost, directory: Path) -> str:
    (directory / "health").write_text("ok\n")
    host.spawn(
        [
            sys.executable,
            "-m",
            "http.server",
            PORT,
            "--bind",
            host.ip,
            "--directory",
            str(directory),
        ],
        log=directory / "server.log",
    )
    return f"http://{host.ip}:{PORT}/health"


def test_isolation_rules_accept_only_the_host() -> None:
    net = Network()
    commands = network.isolation_commands(net, "infsvc-p7")
    assert all(c[:4] == ["ip", "netns", "exec", "infsvc-p7"] for c in commands)
    accepts = [c for c in commands if "ACCEPT" in c and "-s" in c]
    assert [c[c.index("-s") + 1] for c in accepts] == [net.local_pod_gateway]
    assert commands[-1][-3:] == ["REJECT", "--reject-with", "tcp-reset"]


def test_an_isolated_pod_is_reachable_from_the_host_and_not_from_another_pod(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    with netns_host() as pod, netns_host() as other:
        url = _serve(pod, tmp_path)

        def up() -> bool:
            try:
                return httpx.get(url, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=20, what="server in the pod namespace")
        assert _reachable_from(other, url)  # without the rules another pod gets in

        network.isolate_pod_namespace(pod.net, pod.name)
        assert httpx.get(url, timeout=5).status_code == 200  # the host: Traefik, the gateway
        assert not _reachable_from(other, url)
