"""What this machine offers: CPU, memory, and NVIDIA GPUs (via nvidia-smi when present)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    memory_mib: int


@dataclass(frozen=True)
class Machine:
    cpus: int
    memory_kib: int
    gpus: tuple[Gpu, ...]


def parse_nvidia_smi(output: str) -> tuple[Gpu, ...]:
    """Parses `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits`."""
    gpus = []
    for line in output.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and parts[0].isdigit():
            gpus.append(Gpu(int(parts[0]), parts[1], int(float(parts[2]))))
    return tuple(gpus)


def detect_gpus() -> tuple[Gpu, ...]:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return ()
    result = subprocess.run(
        [smi, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    return parse_nvidia_smi(result.stdout) if result.returncode == 0 else ()


def detect() -> Machine:
    meminfo = Path("/proc/meminfo").read_text()
    total_kib = next(
        int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal:")
    )
    return Machine(cpus=os.cpu_count() or 1, memory_kib=total_kib, gpus=detect_gpus())


def gpu_product_label(name: str) -> str:
    """`NVIDIA GeForce RTX 4090` → `NVIDIA-GeForce-RTX-4090`, as GPU feature discovery writes it."""
    return "-".join(name.split())
