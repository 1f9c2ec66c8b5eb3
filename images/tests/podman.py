"""The project's images, built once per machine by images/build.sh (cached by input hash),
run with podman as this machine allows: runc, explicit ulimits, host network."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PODMAN = [
    "podman",
    "--storage-driver",
    "vfs",
    "--runtime",
    "runc",
]
RUN_FLAGS = [
    "--read-only",
    "--network",
    "host",
    "--ulimit",
    "nofile=1024:20000",
    "--ulimit",
    "nproc=1024:1024",
]
NON_ROOT = "65532"


def build(names: list[str]) -> dict[str, str]:
    """Image name → reference, built (or found cached) and present in podman's storage."""
    if any(shutil.which(tool) is None for tool in ("buildah", "podman", "runc", "mmdebstrap")):
        installed = subprocess.run(
            [str(REPO / "infra" / "local" / "bootstrap.sh"), "--images"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert installed.returncode == 0, f"bootstrap.sh --images: {installed.stderr[-2000:]}"
    done = subprocess.run(
        [str(REPO / "images" / "build.sh"), *names],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    refs = {}
    for line in done.stdout.splitlines():
        name, ref, archive, _state = line.split()
        if ref == "-":
            continue
        if podman("image", "exists", ref).returncode != 0:
            loaded = podman("load", "--quiet", "--input", archive)
            assert loaded.returncode == 0, loaded.stderr
        refs[name] = ref
    return refs


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PODMAN, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
