"""llama_server: the argument mapping (pure, table-tested), applying it to a real
xllamacpp CommonParams, and the CLI serving the embedded model and stopping on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import xllamacpp

from inference_localstack.embedded_model import embedded_model_path
from inference_localstack.llama_server import (
    TENSOR_SPLIT_SLOTS,
    Enum,
    LlamaArgError,
    Setting,
    apply,
    command,
    parse_args,
)
from inference_testkit.servers import free_port, wait_http_ok

M = ["-m", "/models/x.gguf"]
MODEL = Setting(("model", "path"), "/models/x.gguf")


def _pad(*parts: float) -> list[float]:
    return [*parts] + [0.0] * (TENSOR_SPLIT_SLOTS - len(parts))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (M, [MODEL]),
        (["--model", "/models/x.gguf"], [MODEL]),
        (["--model=/models/x.gguf"], [MODEL]),
        (
            [*M, "--host", "10.244.0.9", "--port", "8080"],
            [MODEL, Setting(("hostnames",), ["10.244.0.9"]), Setting(("port",), 8080)],
        ),
        ([*M, "-c", "2048"], [MODEL, Setting(("n_ctx",), 2048)]),
        ([*M, "--ctx-size", "4096"], [MODEL, Setting(("n_ctx",), 4096)]),
        ([*M, "-ngl", "99"], [MODEL, Setting(("n_gpu_layers",), 99)]),
        ([*M, "--n-gpu-layers", "all"], [MODEL, Setting(("n_gpu_layers",), 999)]),
        ([*M, "--parallel", "4"], [MODEL, Setting(("n_parallel",), 4)]),
        ([*M, "-np", "2"], [MODEL, Setting(("n_parallel",), 2)]),
        ([*M, "-b", "512"], [MODEL, Setting(("n_batch",), 512)]),
        ([*M, "-t", "2"], [MODEL, Setting(("cpuparams", "n_threads"), 2)]),
        (
            [*M, "--flash-attn"],
            [
                MODEL,
                Setting(
                    ("flash_attn_type",),
                    Enum("llama_flash_attn_type", "LLAMA_FLASH_ATTN_TYPE_ENABLED"),
                ),
            ],
        ),
        (
            [*M, "-fa", "off"],
            [
                MODEL,
                Setting(
                    ("flash_attn_type",),
                    Enum("llama_flash_attn_type", "LLAMA_FLASH_ATTN_TYPE_DISABLED"),
                ),
            ],
        ),
        (
            [*M, "--flash-attn", "auto", "--metrics"],
            [
                MODEL,
                Setting(
                    ("flash_attn_type",),
                    Enum("llama_flash_attn_type", "LLAMA_FLASH_ATTN_TYPE_AUTO"),
                ),
                Setting(("endpoint_metrics",), True),
            ],
        ),
        (
            [*M, "--cache-type-k", "q8_0", "-ctv", "f16"],
            [
                MODEL,
                Setting(("cache_type_k",), Enum("ggml_type", "GGML_TYPE_Q8_0")),
                Setting(("cache_type_v",), Enum("ggml_type", "GGML_TYPE_F16")),
            ],
        ),
        ([*M, "--tensor-split", "3,1"], [MODEL, Setting(("tensor_split",), _pad(3.0, 1.0))]),
        ([*M, "-ts", "0.5,0.25,0.25"], [MODEL, Setting(("tensor_split",), _pad(0.5, 0.25, 0.25))]),
        (
            [*M, "--metrics", "--jinja", "--embeddings"],
            [
                MODEL,
                Setting(("endpoint_metrics",), True),
                Setting(("use_jinja",), True),
                Setting(("embedding",), True),
            ],
        ),
        ([*M, "--embedding"], [MODEL, Setting(("embedding",), True)]),
        (
            [*M, "--temp", "0.5", "--seed", "7"],
            [MODEL, Setting(("sampling", "temp"), 0.5), Setting(("sampling", "seed"), 7)],
        ),
        (
            [*M, "--timeout", "30"],
            [MODEL, Setting(("timeout_read",), 30), Setting(("timeout_write",), 30)],
        ),
        (
            [*M, "-a", "smollm2:135m", "--alias", "smol"],
            [MODEL, Setting(("model_alias",), {"smollm2:135m", "smol"})],
        ),
        (
            [*M, "--reasoning-format", "none"],
            [
                MODEL,
                Setting(
                    ("reasoning_format",),
                    Enum("common_reasoning_format", "COMMON_REASONING_FORMAT_NONE"),
                ),
            ],
        ),
        (
            [*M, "-sm", "row"],
            [MODEL, Setting(("split_mode",), Enum("llama_split_mode", "LLAMA_SPLIT_MODE_ROW"))],
        ),
        (
            [*M, "--no-warmup", "-cb"],
            [MODEL, Setting(("warmup",), False), Setting(("cont_batching",), True)],
        ),
    ],
)
def test_parse_args_maps_llama_server_flags(argv: list[str], expected: list[Setting]) -> None:
    assert parse_args(argv) == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "-m/--model is required"),
        (["-c", "2048"], "-m/--model is required"),
        ([*M, "--bogus"], "'--bogus'"),
        ([*M, "--mlock"], "'--mlock'"),
        ([*M, "-c"], "-c needs a value"),
        ([*M, "-c", "many"], "argument -c: invalid value 'many'"),
        ([*M, "--port", "80x"], "argument --port"),
        ([*M, "-ctk", "q9_9"], "argument -ctk: invalid value 'q9_9'"),
        ([*M, "-ts", "a,b"], "argument -ts"),
        ([*M, "-ts", "-1,2"], "argument -ts"),
        ([*M, "-sm", "diagonal"], "argument -sm"),
        ([*M, "extra-positional"], "'extra-positional'"),
    ],
)
def test_parse_args_rejects_with_a_clear_message(argv: list[str], message: str) -> None:
    with pytest.raises(LlamaArgError) as info:
        parse_args(argv)
    assert message in str(info.value)


def test_settings_apply_to_real_common_params() -> None:
    settings = parse_args(
        [
            *M,
            "--host",
            "10.0.0.1",
            "--port",
            "8080",
            "-c",
            "2048",
            "-ngl",
            "99",
            "-np",
            "3",
            "-b",
            "256",
            "-fa",
            "on",
            "-ctk",
            "q8_0",
            "-ctv",
            "q4_0",
            "-ts",
            "3,1",
            "--metrics",
            "--jinja",
            "--embeddings",
            "-a",
            "smol",
            "--temp",
            "0.1",
            "-t",
            "2",
        ]
    )
    params: Any = xllamacpp.CommonParams()
    apply(settings, params, xllamacpp)
    assert params.model.path == "/models/x.gguf"
    assert params.hostnames == ["10.0.0.1"]
    assert params.port == 8080
    assert params.n_ctx == 2048
    assert params.n_gpu_layers == 99
    assert params.n_parallel == 3
    assert params.n_batch == 256
    assert params.flash_attn_type == xllamacpp.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_ENABLED
    assert params.cache_type_k == xllamacpp.ggml_type.GGML_TYPE_Q8_0
    assert params.cache_type_v == xllamacpp.ggml_type.GGML_TYPE_Q4_0
    assert params.tensor_split[:3] == [3.0, 1.0, 0.0]
    assert params.endpoint_metrics is True
    assert params.use_jinja is True
    assert params.embedding is True
    assert params.model_alias == {"smol"}
    assert params.sampling.temp == pytest.approx(0.1)
    assert params.cpuparams.n_threads == 2


def test_cli_rejects_unknown_argument_with_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "inference_localstack.llama_server", "-m", "x.gguf", "--nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "unsupported llama-server argument '--nope'" in proc.stderr


@pytest.mark.stack
def test_cli_serves_the_model_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "llama.log").open("wb")
    proc = subprocess.Popen(
        command(
            str(embedded_model_path()),
            "127.0.0.1",
            port,
            *("-c", "512", "-np", "1", "-t", "1", "--metrics", "-a", "smol"),
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/health", proc, 120, tmp_path / "llama.log")
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=10).json()
        assert models["data"][0]["id"] == "smol"
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert metrics.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
