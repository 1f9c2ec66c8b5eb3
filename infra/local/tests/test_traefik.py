"""Traefik is real: it answers its ping and routes an IngressRoute it read from the
apiserver to a backend in one of the stack's network namespaces (via its EndpointSlice)."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import httpx
from kubernetes import client

from inference_testkit.hosts import netns_host
from inference_testkit.waiting import wait_for


def test_traefik_answers_ping(stack_env: dict[str, str]) -> None:
    from inference_localstack.config import Ports

    response = httpx.get(f"http://127.0.0.1:{Ports().traefik_admin}/ping", timeout=5)
    assert response.status_code == 200
    assert response.text == "OK"


def test_ingressroute_routes_to_a_backend_through_its_endpointslice(
    stack_env: dict[str, str], kube_api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    token = secrets.token_hex(8)
    (tmp_path / "hello.txt").write_text(f"backend {token}\n")
    with netns_host() as host:
        host.spawn(
            [
                sys.executable,
                "-m",
                "http.server",
                "8000",
                "--bind",
                host.ip,
                "--directory",
                str(tmp_path),
            ],
            log=tmp_path / "server.log",
        )
        direct = f"http://{host.ip}:8000/hello.txt"
        wait_for(lambda: _get_ok(direct), timeout=20, what="backend up")

        core = client.CoreV1Api(kube_api)
        core.create_namespaced_service(
            namespace,
            {
                "metadata": {"name": "backend"},
                "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8000}]},
            },
        )
        client.DiscoveryV1Api(kube_api).create_namespaced_endpoint_slice(
            namespace,
            {
                "metadata": {
                    "name": "backend-1",
                    "labels": {"kubernetes.io/service-name": "backend"},
                },
                "addressType": "IPv4",
                "endpoints": [{"addresses": [host.ip], "conditions": {"ready": True}}],
                "ports": [{"name": "http", "port": 8000, "protocol": "TCP"}],
            },
        )
        custom = client.CustomObjectsApi(kube_api)
        custom.create_namespaced_custom_object(
            "traefik.io",
            "v1alpha1",
            namespace,
            "middlewares",
            {
                "apiVersion": "traefik.io/v1alpha1",
                "kind": "Middleware",
                "metadata": {"name": "strip"},
                "spec": {"stripPrefix": {"prefixes": [f"/{token}"]}},
            },
        )
        custom.create_namespaced_custom_object(
            "traefik.io",
            "v1alpha1",
            namespace,
            "ingressroutes",
            {
                "apiVersion": "traefik.io/v1alpha1",
                "kind": "IngressRoute",
                "metadata": {"name": "backend"},
                "spec": {
                    "entryPoints": ["web"],
                    "routes": [
                        {
                            "kind": "Rule",
                            "match": f"PathPrefix(`/{token}/`)",
                            "middlewares": [{"name": "strip"}],
                            "services": [{"name": "backend", "port": "http"}],
                        }
                    ],
                },
            },
        )
        routed = f"{stack_env['TRAEFIK_URL']}/{token}/hello.txt"
        body = wait_for(lambda: _get_ok(routed), timeout=30, what="Traefik route")
        assert body == f"backend {token}\n"
        assert _get_status(f"{stack_env['TRAEFIK_URL']}/{secrets.token_hex(8)}/hello.txt") == 404


def _get_ok(url: str) -> str | None:
    try:
        response = httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None
    return response.text if response.status_code == 200 else None


def _get_status(url: str) -> int:
    return httpx.get(url, timeout=5).status_code
