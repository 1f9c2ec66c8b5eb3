"""Starting stack components: each as a supervised process, then waited on until its health
check passes; when it does not, the error carries the tail of its log."""

from __future__ import annotations

import ssl
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from inference_localstack import processes
from inference_localstack.components import Component
from inference_localstack.config import StackConfig


class StackError(RuntimeError):
    pass


def say(message: str) -> None:
    print(f"[stack] {message}", file=sys.stderr, flush=True)


def _tls_verify(component: Component, ca: Path | None) -> bool | ssl.SSLContext:
    if not (component.verify_tls and ca):
        return False
    context = ssl.create_default_context(cafile=str(ca))
    if component.client_cert:
        cert, key = component.client_cert
        context.load_cert_chain(cert, key)
    return context


def healthy(component: Component, ca: Path | None) -> bool:
    try:
        response = httpx.get(component.health_url, verify=_tls_verify(component, ca), timeout=2.0)
    except (httpx.HTTPError, OSError):
        return False
    return response.status_code == 200 and component.healthy_body(response.text)


def wait_until(
    config: StackConfig, name: str, check: Any, timeout: float = 60.0, interval: float = 0.25
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if processes.running_pid(config, name) is None:
            break
        time.sleep(interval)
    raise StackError(
        f"{name} did not become healthy; last lines of {processes.log_file(config, name)}:\n"
        + processes.log_tail(config, name)
    )


def start_components(config: StackConfig, *parts: Component, timeout: float = 90.0) -> list[str]:
    """Starts the parts that are not already running and healthy, side by side, then waits
    for each to become healthy; returns the names of those it started."""
    ca = config.pki_dir / "ca.crt"
    launched: list[tuple[Component, float]] = []
    for component in parts:
        if processes.running_pid(config, component.name) is not None and healthy(component, ca):
            say(f"{component.name}: already running")
            continue
        processes.stop(config, component.name)
        processes.start(config, component.name, component.argv, component.env, component.user)
        launched.append((component, time.monotonic()))
    for component, t0 in launched:
        wait_until(config, component.name, lambda c=component: healthy(c, ca), timeout)
        say(f"{component.name}: healthy in {time.monotonic() - t0:.1f}s")
    return [component.name for component, _ in launched]


def start_component(config: StackConfig, component: Component, timeout: float = 90.0) -> bool:
    """True when it was (re)started."""
    return bool(start_components(config, component, timeout=timeout))
