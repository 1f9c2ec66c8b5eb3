"""Each image runs as podman allows here: non-root, read-only root filesystem, answering its
health endpoint against the local stack (api, gateway, contract, download: Postgres, MinIO and
the apiserver through settings), the UI image serving index.html and its assets, the operator
image reconciling a ModelServe in a namespace of its own (its pods land on kwok nodes and get
no traffic)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from inference_common.modelserve import GROUP, PLURAL, VERSION
from inference_testkit.database import create_database, drop_database, table_names
from inference_testkit.manifests import ON_SIMULATED_NODES, modelserve_manifest, s3_model
from inference_testkit.namespaces import temporary_namespace
from inference_testkit.waiting import wait_for

from .podman import NON_ROOT, RUN_FLAGS, build, free_port, podman

pytestmark = [pytest.mark.stack, pytest.mark.timeout(1800)]

STACK_SETTINGS = ("S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_SECURE", "DEV_MODE")


class Images:
    """Image name → reference, each built (or found in the cache) on first use."""

    def __init__(self) -> None:
        self.refs: dict[str, str] = {}

    def __getitem__(self, name: str) -> str:
        if name not in self.refs:
            self.refs |= build([name])
        return self.refs[name]


@pytest.fixture(scope="session")
def images() -> Images:
    return Images()


@pytest.fixture
def kubeconfig(stack_env: dict[str, str], tmp_path: Path) -> list[str]:
    """Mount options giving the container (UID 65532) a readable copy of the admin
    kubeconfig and the CA file it names."""
    copy = tmp_path / "kubeconfig"
    shutil.copy(stack_env["KUBECONFIG"], copy)
    copy.chmod(0o644)
    ca = Path(stack_env["LOCAL_STATE_DIR"]) / "pki" / "ca.crt"
    return ["-v", f"{copy}:/kube/config:ro", "-v", f"{ca}:{ca}:ro", "-e", "KUBECONFIG=/kube/config"]


def _env(values: dict[str, str]) -> list[str]:
    return [arg for k, v in values.items() for arg in ("-e", f"{k}={v}")]


@contextlib.contextmanager
def running(ref: str, *args: str, command: tuple[str, ...] = ()) -> Iterator[str]:
    """The image run detached with podman options `args` (and arguments for its entrypoint)."""
    name = f"wt-img-{secrets.token_hex(4)}"
    started = podman("run", "-d", "--name", name, *RUN_FLAGS, *args, ref, *command)
    assert started.returncode == 0, started.stderr
    try:
        yield name
    finally:
        logs = podman("logs", "--tail", "20", name).stderr
        podman("rm", "-f", "-t", "5", name)
        print(logs)


def _get(url: str) -> tuple[int, dict[str, Any]] | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - 127.0.0.1 only
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except (urllib.error.URLError, ConnectionError, json.JSONDecodeError):
        return None


def _assert_hardened(container: str) -> None:
    uid = podman("exec", container, "python3", "-c", "import os; print(os.getuid())")
    assert uid.stdout.strip() == NON_ROOT, uid.stderr
    write = podman("exec", container, "python3", "-c", "open('/app/x', 'w')")
    assert write.returncode != 0
    assert "Read-only file system" in write.stderr


def test_api_image_answers_health(
    images: Images, stack_env: dict[str, str], database_url: str, kubeconfig: list[str]
) -> None:
    port = free_port()
    settings = {k: stack_env[k] for k in (*STACK_SETTINGS, "JWT_SECRET", "ADMIN_PASSWORD")}
    settings |= {"DATABASE_URL": database_url, "HOST": "127.0.0.1", "PORT": str(port)}
    with running(images["api"], *_env(settings), *kubeconfig) as container:
        answer = wait_for(
            lambda: _get(f"http://127.0.0.1:{port}/health"), timeout=90, what="API /health"
        )
        assert answer == (200, {"status": "ok", "checks": answer[1]["checks"]})
        assert set(answer[1]["checks"].values()) == {"ok"}
        _assert_hardened(container)


def test_gateway_image_answers_health(
    images: Images, stack_env: dict[str, str], kubeconfig: list[str]
) -> None:
    port = free_port()
    # the gateway only reads the database (API keys): the stack's own
    settings = {k: stack_env[k] for k in (*STACK_SETTINGS, "JWT_SECRET", "DATABASE_URL")}
    settings |= {
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
    }
    with running(images["gateway"], *_env(settings), *kubeconfig) as container:
        live = wait_for(
            lambda: _get(f"http://127.0.0.1:{port}/healthz"), timeout=90, what="/healthz"
        )
        assert live[0] == 200
        ready = wait_for(
            lambda: (r := _get(f"http://127.0.0.1:{port}/readyz")) and r[0] == 200 and r,
            timeout=90,
            what="/readyz",
        )
        assert ready[0] == 200
        _assert_hardened(container)


def test_operator_image_reconciles_a_modelserve(
    images: Images,
    stack_env: dict[str, str],
    kube_api: client.ApiClient,
    crd: dict[str, Any],
    kubeconfig: list[str],
) -> None:
    port = free_port()
    custom = client.CustomObjectsApi(kube_api)
    apps = client.AppsV1Api(kube_api)
    # `opt-`: the stack's own operator leaves this namespace to the image under test
    with temporary_namespace(kube_api, prefix="opt") as ns:
        settings = {k: stack_env[k] for k in STACK_SETTINGS}
        settings |= {
            "OPERATOR_NAMESPACES": json.dumps([ns]),
            "LIVENESS_PORT": str(port),
            "LIVENESS_HOST": "127.0.0.1",
        }
        with running(images["operator"], *_env(settings), *kubeconfig) as container:
            wait_for(lambda: _get(f"http://127.0.0.1:{port}/healthz"), timeout=60, what="live")
            custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, _modelserve("img"))
            dep = wait_for(lambda: _deployment(apps, ns, "img"), timeout=60, what="the Deployment")
            fetch = dep.spec.template.spec.init_containers[0]
            assert fetch.command[:3] == ["python", "-m", "inference_common.model_fetch"]

            def ready() -> dict[str, Any] | None:
                obj = custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "img")
                status: dict[str, Any] = obj.get("status", {})
                return status if status.get("phase") == "Ready" else None

            status = wait_for(ready, timeout=120, what="ModelServe Ready")
            assert status["readyReplicas"] == 1
            _assert_hardened(container)


def test_contract_image_answers_health(
    images: Images, stack_env: dict[str, str], database_url: str, kubeconfig: list[str]
) -> None:
    port = free_port()
    settings = {k: stack_env[k] for k in ("DEV_MODE", "JWT_SECRET")}
    settings |= {"DATABASE_URL": database_url, "HOST": "127.0.0.1", "PORT": str(port)}
    with running(images["contract"], *_env(settings), *kubeconfig) as container:
        answer = wait_for(
            lambda: (r := _get(f"http://127.0.0.1:{port}/health")) and r[0] == 200 and r,
            timeout=90,
            what="contract /health",
        )
        # Postgres answered a query; the ModelServe list-watch against the apiserver synced
        assert answer[1] == {"status": "ok", "checks": {"postgres": "ok", "reconcile": "ok"}}
        _assert_hardened(container)


@pytest.fixture
def empty_database(stack_env: dict[str, str]) -> Iterator[str]:
    """A database without any table: the image's start-up migrations must make them."""
    url = create_database(
        stack_env["DATABASE_URL"], f"test_{secrets.token_hex(4)}", migrate_schema=False
    )
    yield url
    drop_database(url)


def test_download_image_answers_health(
    images: Images, stack_env: dict[str, str], empty_database: str
) -> None:
    database_url = empty_database
    assert asyncio.run(table_names(database_url)) == set()
    port = free_port()
    settings = {k: stack_env[k] for k in (*STACK_SETTINGS, "JWT_SECRET")}
    settings |= {k: stack_env[k] for k in stack_env if k.startswith("QUANT_")}
    settings |= {"DATABASE_URL": database_url, "HOST": "127.0.0.1", "PORT": str(port)}
    with running(images["download"], *_env(settings)) as container:
        answer = wait_for(
            lambda: _get(f"http://127.0.0.1:{port}/health"), timeout=90, what="download /health"
        )
        assert answer == (200, {"status": "ok"})
        # it serves only after its start-up migrations ran against the database
        assert asyncio.run(table_names(database_url)) >= {"download_jobs", "alembic_version"}
        _assert_hardened(container)


def test_frontend_image_serves_the_ui(images: Images) -> None:
    port = free_port()
    command = ("--host", "127.0.0.1", "--port", str(port))
    with running(images["frontend"], command=command) as container:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _fetch(base + "/healthz")[0] == 200 or None, timeout=60, what="/healthz")
        status, kind, index = _fetch(base + "/")
        assert (status, kind) == (200, "text/html")
        assets = re.findall(r'(?:src|href)="(/[^"]+)"', index.decode())
        assert {a.rsplit(".", 1)[-1] for a in assets} == {"js", "css", "svg"}, assets
        for asset in assets:
            status, kind, body = _fetch(base + asset)
            assert status == 200, asset
            assert kind in ASSET_TYPES[asset.rsplit(".", 1)[-1]], (asset, kind)
            assert body
        assert _fetch(base + "/servers/some-uuid")[:2] == (200, "text/html")  # client route
        assert _fetch(base + "/assets/")[0] == 404  # no directory listing
        _assert_hardened(container)


ASSET_TYPES = {
    "js": {"text/javascript", "application/javascript"},
    "css": {"text/css"},
    "svg": {"image/svg+xml"},
}


def _fetch(url: str) -> tuple[int, str, bytes]:
    """Status, media type (without parameters) and body; (0, "", b"") when unreachable."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - 127.0.0.1 only
            return r.status, r.headers.get_content_type(), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get_content_type(), b""
    except (urllib.error.URLError, ConnectionError):
        return 0, "", b""


def _modelserve(name: str) -> dict[str, Any]:
    spec = {
        "model": s3_model("smollm2.gguf"),
        "gpu": {"count": 1},
        "nodeSelector": ON_SIMULATED_NODES,
    }
    return modelserve_manifest(name, spec)


def _deployment(apps: client.AppsV1Api, ns: str, name: str) -> client.V1Deployment | None:
    with contextlib.suppress(client.exceptions.ApiException):
        found: client.V1Deployment = apps.read_namespaced_deployment(name, ns)
        return found
    return None
