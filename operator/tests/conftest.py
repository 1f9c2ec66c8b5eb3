"""Fixtures for tests against the local stack: the CRD installed, the real operator process
(one per test, serving only that test's namespace), and ModelServe helpers."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from inference_common.modelserve import GROUP, PLURAL, VERSION
from inference_common.settings import MODELS_BUCKET
from inference_localstack import object_store_users
from inference_localstack.object_store_users import ScopedUser
from inference_testkit.namespaces import temporary_namespace
from inference_testkit.servers import free_port
from inference_testkit.waiting import wait_for

SIMULATED = {"inference.local/simulated": "true"}
SHA = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
SERVER_UUID_KEY = secrets.token_urlsafe(32)
"""The key the operators under test check API-issued server uuids with (tests sign with it)."""


@pytest.fixture
def namespace(kube_api: client.ApiClient) -> Iterator[str]:
    """A fresh namespace per test, prefixed `opt-`: the stack's own operator skips these
    (OPERATOR_NAMESPACES='["*", "!opt-*"]'), so only the operator under test acts here."""
    with temporary_namespace(kube_api, "opt") as name:
        yield name


class OperatorProcess:
    """The real operator as a subprocess (`python -m modelserve_operator.main -n NS`)."""

    def __init__(self, env: dict[str, str], namespaces: list[str], log: Path) -> None:
        self.env = env
        self.namespaces = namespaces
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> OperatorProcess:
        self.port = free_port()
        env = {**self.env, "LIVENESS_PORT": str(self.port), "LIVENESS_HOST": "127.0.0.1"}
        args = [sys.executable, "-m", "modelserve_operator.main"]
        for ns in self.namespaces:
            args += ["-n", ns]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        wait_for(self._alive, timeout=60, what=f"operator liveness (log: {self.log})")
        return self

    def _alive(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"operator exited with {self.proc.returncode}; log: {self.log}")
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}/healthz", timeout=2
            ) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def model_reader(stack_env: dict[str, str]) -> Iterator[ScopedUser]:
    """A MinIO user of this session with the operator's read-only policy (what `make up`
    gives the stack's operator), removed afterwards."""
    admin = object_store_users.admin_client(
        stack_env["S3_ENDPOINT"], stack_env["S3_ACCESS_KEY"], stack_env["S3_SECRET_KEY"]
    )
    name = f"optr{secrets.token_hex(4)}"
    user = ScopedUser(
        name,
        secrets.token_urlsafe(24),
        f"{name}-read",
        object_store_users.model_reader_policy(MODELS_BUCKET),
    )
    object_store_users.ensure_user(admin, user)
    yield user
    admin.user_remove(user.access_key)
    admin.policy_remove(user.policy_name)


def operator_env(stack_env: dict[str, str], reader: ScopedUser) -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "XDG_CACHE_HOME", "VIRTUAL_ENV"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        {
            "KUBECONFIG": stack_env["KUBECONFIG"],
            "S3_ENDPOINT": stack_env["S3_ENDPOINT"],
            "S3_ACCESS_KEY": reader.access_key,
            "S3_SECRET_KEY": reader.secret_key,
            "SERVER_UUID_KEY": SERVER_UUID_KEY,
            "LOG_LEVEL": "INFO",
            "MAX_WORKERS": "8",
        }
    )
    return env


@pytest.fixture
def operator_factory(
    crd: dict[str, Any],
    stack_env: dict[str, str],
    model_reader: ScopedUser,
    namespace: str,
    tmp_path: Path,
) -> Iterator[Callable[..., OperatorProcess]]:
    """Makes operator processes; keyword arguments are extra settings (environment)."""
    started: list[OperatorProcess] = []

    def make(**settings: str) -> OperatorProcess:
        env = {**operator_env(stack_env, model_reader), **settings}
        proc = OperatorProcess(env, [namespace], tmp_path / "operator.log")
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()


@pytest.fixture
def operator(operator_factory: Callable[[], OperatorProcess]) -> OperatorProcess:
    return operator_factory().start()


def ms_body(name: str, **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": {
            "name": "smollm2:135m",
            "source": {
                "s3": {"bucket": "inference-models", "key": "smollm2-135m-instruct-q4_1.gguf"}
            },
            "sha256": SHA,
        },
        "nodeSelector": dict(SIMULATED),
    }
    base.update(spec)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelServe",
        "metadata": {"name": name},
        "spec": base,
    }


class Cluster:
    """Small helpers over the official client for one test namespace."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.ns = namespace
        self.custom = client.CustomObjectsApi(api)
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.custom.create_namespaced_custom_object(
            GROUP, VERSION, self.ns, PLURAL, body
        )
        return result

    def get(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.ns, PLURAL, name
        )
        return result

    def patch_spec(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.ns, PLURAL, name, {"spec": spec}
        )
        return result

    def delete(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL, name)

    def traefik(self, plural: str, name: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = self.custom.get_namespaced_custom_object(
                "traefik.io", "v1alpha1", self.ns, plural, name
            )
            return result
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def deployment(self, name: str) -> client.V1Deployment | None:
        try:
            return self.apps.read_namespaced_deployment(name, self.ns)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def service(self, name: str) -> client.V1Service | None:
        try:
            return self.core.read_namespaced_service(name, self.ns)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def status(self, name: str) -> dict[str, Any]:
        status: dict[str, Any] = self.get(name).get("status") or {}
        return status

    def wait_phase(self, name: str, phase: str, timeout: float = 60) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            status = self.status(name)
            return status if status.get("phase") == phase else None

        return wait_for(reached, timeout=timeout, what=f"{name} phase {phase}")

    def condition(self, name: str, type_: str) -> dict[str, Any] | None:
        for cond in self.status(name).get("conditions") or []:
            if cond.get("type") == type_:
                found: dict[str, Any] = cond
                return found
        return None


@pytest.fixture
def cluster(kube_api: client.ApiClient, namespace: str) -> Cluster:
    return Cluster(kube_api, namespace)
