"""The web UI's build: `npm ci` from the committed lock file and `npm run build`, each only
when its output is older than its inputs, with npm's cache outside the repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

FRONTEND_DIR = Path(__file__).resolve().parents[4] / "frontend"
NPM_CACHE = Path(
    os.environ.get("INFERENCE_NPM_CACHE", Path.home() / ".cache" / "inference-service" / "npm")
)
BUILD_INPUTS = (
    "src",
    "public",
    "index.html",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.app.json",
)
MIN_NODE = (20, 19)
"""Vite 8 and vitest 4 need Node 20.19 or newer."""
INSTALL_TIMEOUT = 900.0
BUILD_TIMEOUT = 600.0


class NodeMissingError(RuntimeError):
    pass


def parse_node_version(text: str) -> tuple[int, int] | None:
    """`node --version` output (`v20.20.2`) as (major, minor); None when unreadable (pure)."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.\d+\S*", text.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def check_node() -> None:
    """Node and npm present and new enough, or a message that says what to install."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        raise NodeMissingError("the web UI needs Node >= 20.19 with npm (node and npm not found)")
    found = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    version = parse_node_version(found.stdout)
    if version is None or version < MIN_NODE:
        raise NodeMissingError(
            f"the web UI needs Node >= 20.19; this machine has {found.stdout.strip() or 'none'}"
        )


def npm_env() -> dict[str, str]:
    return {**os.environ, "npm_config_cache": str(NPM_CACHE), "npm_config_update_notifier": "false"}


def newest_mtime(paths: Iterable[Path]) -> float:
    newest = 0.0
    for path in paths:
        if path.is_dir():
            newest = max([newest, *(p.stat().st_mtime for p in path.rglob("*") if p.is_file())])
        elif path.exists():
            newest = max(newest, path.stat().st_mtime)
    return newest


def is_stale(output: Path, inputs: Iterable[Path]) -> bool:
    """Whether `output` is missing or older than any of `inputs` (pure but for stat)."""
    return not output.exists() or output.stat().st_mtime < newest_mtime(inputs)


def _run(argv: list[str], timeout: float, root: Path) -> None:
    subprocess.run(argv, cwd=root, env=npm_env(), check=True, timeout=timeout)


def ensure_node_modules(root: Path = FRONTEND_DIR) -> None:
    marker = root / "node_modules" / ".package-lock.json"
    if is_stale(marker, [root / "package-lock.json"]):
        _run(["npm", "ci", "--no-audit", "--no-fund"], INSTALL_TIMEOUT, root)


def ensure_built(root: Path = FRONTEND_DIR) -> Path:
    """dist/ for the current sources; builds only when a source is newer than dist/index.html."""
    dist = root / "dist"
    if is_stale(dist / "index.html", [root / name for name in BUILD_INPUTS]):
        check_node()
        ensure_node_modules(root)
        _run(["npm", "run", "build"], BUILD_TIMEOUT, root)
    return dist
