"""The local kubelet's GET /metrics: its pods, and per real NVIDIA card the figures NVIDIA's
DCGM exporter reports, under DCGM's names, with the pod and server holding the card.

Cards are read with `nvidia-smi --query-gpu` (as `machine.py` finds them); a machine without
one reports no GPU series at all, never invented numbers. Parsing and rendering are pure.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

QUERY = "index,uuid,utilization.gpu,memory.used,memory.free,temperature.gpu,power.draw"

# DCGM name, help, field of GpuSample
DCGM_FIELDS = [
    ("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", "utilization"),
    ("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", "memory_used_mib"),
    ("DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).", "memory_free_mib"),
    ("DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).", "temperature_celsius"),
    ("DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", "power_watts"),
]


@dataclass(frozen=True)
class GpuSample:
    index: int
    uuid: str
    utilization: float | None
    memory_used_mib: float | None
    memory_free_mib: float | None
    temperature_celsius: float | None
    power_watts: float | None


@dataclass(frozen=True)
class Holder:
    namespace: str
    pod: str
    server_uuid: str


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:  # "[N/A]", "[Not Supported]"
        return None


def parse_gpu_query(output: str) -> list[GpuSample]:
    """Parses `nvidia-smi --query-gpu=<QUERY> --format=csv,noheader,nounits`."""
    samples = []
    for line in output.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 7 or not parts[0].isdigit():
            continue
        values = [_number(p) for p in parts[2:]]
        samples.append(GpuSample(int(parts[0]), parts[1], *values))
    return samples


def _labels(pairs: dict[str, str]) -> str:
    escaped = (
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in pairs.items()
        if v
    )
    return "{" + ",".join(escaped) + "}"


def render(node: str, pods_running: int, gpus: list[GpuSample], holders: dict[int, Holder]) -> str:
    lines = [
        "# HELP local_kubelet_pods_running Pods this node runtime runs.",
        "# TYPE local_kubelet_pods_running gauge",
        f"local_kubelet_pods_running{_labels({'node': node})} {pods_running}",
        "# HELP local_kubelet_gpus Real GPUs on this node.",
        "# TYPE local_kubelet_gpus gauge",
        f"local_kubelet_gpus{_labels({'node': node})} {len(gpus)}",
    ]
    for name, help_text, attr in DCGM_FIELDS:
        rows = []
        for gpu in gpus:
            value = getattr(gpu, attr)
            if value is None:
                continue
            holder = holders.get(gpu.index)
            labels = {
                "gpu": str(gpu.index),
                "UUID": gpu.uuid,
                "Hostname": node,
                "namespace": holder.namespace if holder else "",
                "pod": holder.pod if holder else "",
                "server_uuid": holder.server_uuid if holder else "",
            }
            rows.append(f"{name}{_labels(labels)} {value:g}")
        if rows:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", *rows]
    return "\n".join(lines) + "\n"


def read_gpus() -> list[GpuSample]:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    result = subprocess.run(
        [smi, f"--query-gpu={QUERY}", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return parse_gpu_query(result.stdout) if result.returncode == 0 else []
