"""Helpers of the end-to-end tests: the README's walk-through, done for real."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import urllib3
from kubernetes import client, watch

from inference_common.modelserve import GROUP, PLURAL, SERVER_UUID_LABEL, VERSION
from inference_localstack import network


@pytest.fixture(scope="session")
def api(stack_env: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack_env["API_URL"], timeout=30) as http:
        token = (
            http.post(
                "/auth/token",
                json={
                    "username": stack_env["ADMIN_USERNAME"],
                    "password": stack_env["ADMIN_PASSWORD"],
                },
            )
            .raise_for_status()
            .json()["access_token"]
        )
        http.headers["Authorization"] = f"Bearer {token}"
        yield http


def bearer(api: httpx.Client) -> dict[str, str]:
    """The API client's own credential, for the routes through Traefik."""
    return {"Authorization": api.headers["Authorization"]}


class PhaseRecorder:
    """Every phase a ModelServe's status takes, in order, from a watch (not by polling)."""

    def __init__(self, kube_api: client.ApiClient, namespace: str, server_uuid: str) -> None:
        self.phases: list[str] = []
        self.reasons: list[str] = []
        self._custom = client.CustomObjectsApi(kube_api)
        self._watch = watch.Watch()
        self._namespace, self._selector = namespace, f"{SERVER_UUID_LABEL}={server_uuid}"
        self._changed = threading.Condition()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        """Watches until stopped (at most 300 s); a cut stream is watched again (the
        replayed current object repeats a phase, which is not recorded twice)."""
        deadline = time.monotonic() + 300
        while not self._stopped.is_set() and time.monotonic() < deadline:
            try:
                self._watch_once(max(1, int(deadline - time.monotonic())))
            except (urllib3.exceptions.HTTPError, OSError):
                if self._stopped.wait(0.2):
                    return

    def _watch_once(self, seconds: int) -> None:
        for event in self._watch.stream(
            self._custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            self._namespace,
            PLURAL,
            label_selector=self._selector,
            timeout_seconds=seconds,
        ):
            status = event["object"].get("status") or {}
            phase = status.get("phase")
            with self._changed:
                if phase and (not self.phases or self.phases[-1] != phase):
                    self.phases.append(phase)
                    self.reasons.append(json.dumps(status.get("conditions", [])))
                self._changed.notify_all()

    def wait_for(self, phase: str, timeout: float = 120) -> list[str]:
        with self._changed:
            ok = self._changed.wait_for(
                lambda: bool(self.phases) and self.phases[-1] == phase, timeout
            )
        assert ok, f"phase {phase} not reached within {timeout}s; phases seen: {self.phases}"
        return list(self.phases)

    def stop(self) -> None:
        self._stopped.set()
        self._watch.stop()


def pods_of(kube_api: client.ApiClient, namespace: str, server_uuid: str) -> list[Any]:
    pods = client.CoreV1Api(kube_api).list_namespaced_pod(
        namespace, label_selector=f"{SERVER_UUID_LABEL}={server_uuid}"
    )
    return list(pods.items)


def netns_of_ip(ip: str) -> str | None:
    """The pod namespace holding `ip` (the local kubelet's namespaces are named per address)."""
    for name in network.namespaces():
        out = subprocess.run(
            ["ip", "-n", name, "-4", "-o", "addr"], capture_output=True, text=True
        ).stdout
        if f" {ip}/" in out:
            return name
    return None


def netns_pids(netns: str) -> set[int]:
    out = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def chat(
    traefik_url: str,
    endpoint: str,
    stream: bool,
    max_tokens: int = 12,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A chat completion through Traefik at the server's route (`headers`: the credential
    the gateway's ForwardAuth checks)."""
    body = {
        "messages": [{"role": "user", "content": "What is the capital of France? One word."}],
        "max_tokens": max_tokens,
        "stream": stream,
    }
    url = f"{traefik_url}{endpoint}v1/chat/completions"
    if not stream:
        return httpx.post(url, json=body, headers=headers, timeout=120)
    with httpx.stream("POST", url, json=body, headers=headers, timeout=120) as response:
        response.read()
        return response


def sse_text(body: str) -> tuple[str, int]:
    """Concatenated delta content of an OpenAI SSE stream, and how many data events it had."""
    text, events = "", 0
    for line in body.splitlines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        events += 1
        for choice in json.loads(line[6:]).get("choices", []):
            text += (choice.get("delta") or {}).get("content") or ""
    return text, events
