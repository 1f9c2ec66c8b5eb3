"""Helm from the local stack's toolchain, run against the repository's chart."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from inference_localstack import stack

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "inference-service"
OVERLAYS = ("values.yaml", "values-cpu-dev.yaml", "values-nvidia.yaml")
KUBE_VERSION = "1.35.0"

REQUIRED_SECRETS: dict[str, Any] = {
    "auth": {"existingSecret": "is-auth"},
    "postgresql": {"existingSecret": "is-postgres"},
    "minio": {"existingSecret": "is-minio"},
}


def tool_binary(name: str) -> str:
    found = shutil.which(name) or str(stack.toolchain_bin_dir(build=False) / name)
    if not Path(found).is_file():
        raise AssertionError(f"{name} not found at {found}: run `make toolchain`")
    return found


def helm_binary() -> str:
    return tool_binary("helm")


def can_i(kubeconfig: str, user: str, verb: str, resource: str, namespace: str = "") -> bool:
    """`kubectl auth can-i <verb> <resource> --as <user>` (impersonated by the admin)."""
    scope = ["--namespace", namespace] if namespace else ["--all-namespaces"]
    done = subprocess.run(
        [tool_binary("kubectl"), "--kubeconfig", kubeconfig, "auth", "can-i", verb, resource,
         "--as", user, *scope],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    answer = done.stdout.strip()
    if answer not in ("yes", "no"):
        raise AssertionError(f"kubectl auth can-i {verb} {resource}: {done.stderr.strip()}")
    return answer == "yes"


def helm(*args: str, kubeconfig: str | None = None, timeout: float = 300) -> str:
    """Runs helm; a non-zero exit raises HelmError with its stderr."""
    env = dict(os.environ)
    env.pop("KUBECONFIG", None)
    if kubeconfig:
        env["KUBECONFIG"] = kubeconfig
    done = subprocess.run(
        [helm_binary(), *args], capture_output=True, text=True, timeout=timeout, env=env
    )
    if done.returncode != 0:
        raise HelmError(done.stderr.strip())
    return done.stdout


class HelmError(RuntimeError):
    pass


def values_args(overlay: str = "values.yaml", values: Path | None = None) -> list[str]:
    args = [] if overlay == "values.yaml" else ["-f", str(CHART / overlay)]
    if values is not None:
        args += ["-f", str(values)]
    return args


def render(*args: str, release: str = "t") -> list[dict[str, Any]]:
    out = helm("template", release, str(CHART), "--kube-version", KUBE_VERSION, *args)
    return [doc for doc in yaml.safe_load_all(out) if doc]


def write_values(path: Path, values: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(values))
    return path
