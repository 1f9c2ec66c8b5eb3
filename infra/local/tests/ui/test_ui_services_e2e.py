"""The quotas and imports pages end to end in Debian's chromium (Playwright,
frontend/e2e/services.spec.ts): an admin sets a user's max_servers and the user sees it; a
non-admin cannot edit; bad input is refused inline; the quantization cluster's offer is
listed, an import runs to Done with its progress shown, another is cancelled; axe on both
pages and screenshots at 1280 and 390.

Everything behind the UI is a real process this test starts from this checkout — the API,
the contract service, the download service and the UI server routing `/_/contract` and
`/_/download` — on a throwaway Postgres and MinIO of its own (real servers, not the shared
stack's, so the test neither waits for nor touches the stack). No Kubernetes is involved:
the contract service runs without its ModelServe watch and nothing here starts a server.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from minio import Minio

from inference_common import migrate
from inference_localstack.frontend import FRONTEND_DIR, ensure_built
from inference_localstack.ui_process import ui_argv
from inference_testkit.gguf_files import write_gguf
from inference_testkit.servers import free_port, http_process
from inference_testkit.throwaway import (
    ThrowawayMinio,
    ThrowawayPostgres,
    minio_server,
    postgres_server,
)

from .browser import run_spec

E2E_TIMEOUT = 600
SOURCE_BUCKET = "llm-models"
MODELS_BUCKET = "inference-models"
BIG_FILE_BYTES = 320 * 1024**2
"""Large enough that the cancel lands while the copy runs (one 5 MiB part at a time)."""


@dataclass(frozen=True)
class Offer:
    ok_name: str
    big_name: str
    broken_uuid: str


def publish(s3: Minio, path: Path, name: str) -> str:
    """The file under `<uuid>/` with its manifest, as the quantization cluster lays it out."""
    model_uuid = str(uuid4())
    s3.fput_object(SOURCE_BUCKET, f"{model_uuid}/{path.name}", str(path))
    with path.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256")
    manifest = {
        "name": name,
        "quantization": "F32",
        "source_model": "tests/tiny",
        "files": [
            {"key": path.name, "size_bytes": path.stat().st_size, "sha256": digest.hexdigest()}
        ],
    }
    data = json.dumps(manifest).encode()
    s3.put_object(SOURCE_BUCKET, f"{model_uuid}/manifest.json", io.BytesIO(data), len(data))
    return model_uuid


def offer(minio: ThrowawayMinio, tmp: Path) -> Offer:
    s3 = Minio(minio.endpoint, minio.access_key, minio.secret_key, secure=False)
    s3.make_bucket(SOURCE_BUCKET)
    suffix = secrets.token_hex(3)
    ok_name, big_name = f"tiny-{suffix}:f32", f"big-{suffix}:f32"
    publish(s3, write_gguf(tmp / "tiny.gguf"), ok_name)
    publish(s3, write_gguf(tmp / "big.gguf", padding_bytes=BIG_FILE_BYTES), big_name)
    broken = str(uuid4())
    s3.put_object(SOURCE_BUCKET, f"{broken}/manifest.json", io.BytesIO(b"{"), 1)
    return Offer(ok_name, big_name, broken)


def dummy_kubeconfig(path: Path) -> Path:
    """The API loads a kubeconfig at start; nothing here calls Kubernetes (nothing listens)."""
    server = f"https://127.0.0.1:{free_port()}"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "none", "cluster": {"server": server}}],
                "users": [{"name": "none", "user": {"token": "unused"}}],
                "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
                "current-context": "none",
            }
        )
    )
    return path


@dataclass(frozen=True)
class Setup:
    ui_url: str
    admin: tuple[str, str]
    user: tuple[str, str]
    offer: Offer


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("ui-services")
    with postgres_server() as pg, minio_server() as minio:
        migrate.upgrade(pg.url)
        offered = offer(minio, tmp)
        yield from _services(pg, minio, offered, tmp)


def _services(
    pg: ThrowawayPostgres, minio: ThrowawayMinio, offered: Offer, tmp: Path
) -> Iterator[Setup]:
    jwt_secret = secrets.token_urlsafe(48)
    admin = ("admin", secrets.token_urlsafe(16))
    user = (f"user-{secrets.token_hex(3)}", secrets.token_urlsafe(16))
    ports = {name: free_port() for name in ("api", "contract", "download", "ui")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    common = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "DEV_MODE": "true",
        "DATABASE_URL": pg.url,
        "JWT_SECRET": jwt_secret,
        "RUN_MIGRATIONS": "false",
        "HOST": "127.0.0.1",
        "S3_ENDPOINT": minio.endpoint,
        "S3_ACCESS_KEY": minio.access_key,
        "S3_SECRET_KEY": minio.secret_key,
        "S3_SECURE": "false",
        "MODELS_BUCKET": MODELS_BUCKET,
    }
    api_env = {
        **common,
        "PORT": str(ports["api"]),
        "KUBECONFIG": str(dummy_kubeconfig(tmp / "kubeconfig.json")),
        "ADMIN_USERNAME": admin[0],
        "ADMIN_PASSWORD": admin[1],
        "CONTRACT_URL": urls["contract"],
        "WATCH_MODELSERVES": "false",
    }
    contract_env = {**common, "PORT": str(ports["contract"]), "WATCH_MODELSERVES": "false"}
    download_env = {
        **common,
        "PORT": str(ports["download"]),
        "QUANT_S3_ENDPOINT": minio.endpoint,
        "QUANT_S3_ACCESS_KEY": minio.access_key,
        "QUANT_S3_SECRET_KEY": minio.secret_key,
        "QUANT_BUCKET": SOURCE_BUCKET,
        "PART_BYTES": str(5 * 1024**2),
        "PARALLEL_PARTS": "1",
    }
    python = sys.executable
    bin_dir = Path(python).parent
    with (
        # /health also checks Kubernetes, which is not here: the OpenAPI document says "up".
        http_process(
            [str(bin_dir / "inference-api")],
            api_env,
            f"{urls['api']}/openapi.json",
            tmp / "api.log",
        ),
        http_process(
            [str(bin_dir / "inference-contract")],
            contract_env,
            f"{urls['contract']}/health",
            tmp / "contract.log",
        ),
        http_process(
            [python, "-m", "inference_download.main"],
            download_env,
            f"{urls['download']}/health",
            tmp / "download.log",
        ),
    ):
        token = httpx.post(
            f"{urls['api']}/auth/token",
            json={"username": admin[0], "password": admin[1]},
            timeout=30,
        ).json()["access_token"]
        created = httpx.post(
            f"{urls['api']}/users",
            json={"username": user[0], "password": user[1], "role": "user"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        argv = ui_argv(
            ports["ui"],
            ensure_built(),
            urls["api"],
            f"http://127.0.0.1:{free_port()}",  # no gateway: these pages do not use it
            contract_url=urls["contract"],
            download_url=urls["download"],
        )
        with http_process(argv, dict(os.environ), f"{urls['ui']}/", tmp / "ui.log"):
            yield Setup(urls["ui"], admin, user, offered)


@pytest.mark.timeout(E2E_TIMEOUT + 60)
def test_quotas_and_imports_in_chromium(setup: Setup) -> None:
    env = {
        "UI_URL": setup.ui_url,
        "ADMIN_USERNAME": setup.admin[0],
        "ADMIN_PASSWORD": setup.admin[1],
        "E2E_USER": setup.user[0],
        "E2E_USER_PASSWORD": setup.user[1],
        "E2E_IMPORT_OK": setup.offer.ok_name,
        "E2E_IMPORT_BIG": setup.offer.big_name,
        "E2E_IMPORT_BROKEN": setup.offer.broken_uuid,
    }
    shots = run_spec("services.spec.ts", FRONTEND_DIR / "test-results-services", env, E2E_TIMEOUT)
    assert "imports-copying-1280.png" in shots
    for page in ("quotas", "quotas-user", "imports"):
        assert f"{page}-1280.png" in shots
        assert f"{page}-390.png" in shots
