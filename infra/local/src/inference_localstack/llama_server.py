"""Runs llama.cpp's own C++ HTTP server (through the `xllamacpp` package) with the
arguments of llama.cpp's `llama-server` binary:

    python -m inference_localstack.llama_server -m model.gguf --host 10.244.0.5 --port 8080 \\
        -c 2048 -ngl 99 --parallel 2 --metrics --jinja

`parse_args` is a pure function from argv to a list of settings (table-tested); `apply`
writes them onto an `xllamacpp.CommonParams`; `main` starts the server and blocks until
SIGTERM/SIGINT, then shuts it down and exits 0. Unknown or malformed arguments exit 2 with
a message naming the argument.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# Number of entries xllamacpp's CommonParams.tensor_split expects (llama.cpp's max devices).
TENSOR_SPLIT_SLOTS = 128


class LlamaArgError(ValueError):
    """An argument llama-server would not accept (or that we do not support)."""


@dataclass(frozen=True)
class Enum:
    """A value of an xllamacpp enum, resolved by name when applied."""

    enum: str
    member: str


@dataclass(frozen=True)
class Setting:
    """Assign `value` to the CommonParams attribute at `path` (e.g. ("sampling", "temp"))."""

    path: tuple[str, ...]
    value: Any


Converter = Callable[[str], Any]


def _int(text: str) -> int:
    return int(text)


def _float(text: str) -> float:
    return float(text)


def _gpu_layers(text: str) -> int:
    if text in ("all", "auto"):
        return -1 if text == "auto" else 999
    return int(text)


_CACHE_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")


def _cache_type(text: str) -> Enum:
    if text.lower() not in _CACHE_TYPES:
        raise ValueError(f"expected one of {', '.join(_CACHE_TYPES)}")
    return Enum("ggml_type", f"GGML_TYPE_{text.upper()}")


def _choice(enum: str, prefix: str, choices: dict[str, str]) -> Converter:
    def convert(text: str) -> Enum:
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return Enum(enum, f"{prefix}{choices[text]}")

    return convert


def _tensor_split(text: str) -> list[float]:
    parts = [float(p) for p in text.replace("/", ",").split(",") if p.strip()]
    if not parts or len(parts) > TENSOR_SPLIT_SLOTS or any(p < 0 for p in parts):
        raise ValueError("expected a comma-separated list of non-negative proportions")
    return parts + [0.0] * (TENSOR_SPLIT_SLOTS - len(parts))


def _str(text: str) -> str:
    return text


_FLASH_ATTN = {"on": "ENABLED", "off": "DISABLED", "auto": "AUTO"}


@dataclass(frozen=True)
class ValueArg:
    path: tuple[str, ...]
    convert: Converter
    many: bool = False  # repeatable; values collect into a list/set


@dataclass(frozen=True)
class FlagArg:
    path: tuple[str, ...]
    value: Any


# One row per llama-server option; aliases share the row.
_VALUE_ARGS: dict[tuple[str, ...], ValueArg] = {
    ("-m", "--model"): ValueArg(("model", "path"), _str),
    ("-a", "--alias"): ValueArg(("model_alias",), _str, many=True),
    ("--host",): ValueArg(("hostnames",), lambda t: [t]),
    ("--port",): ValueArg(("port",), _int),
    ("-c", "--ctx-size"): ValueArg(("n_ctx",), _int),
    ("-n", "--predict", "--n-predict"): ValueArg(("n_predict",), _int),
    ("-ngl", "--gpu-layers", "--n-gpu-layers"): ValueArg(("n_gpu_layers",), _gpu_layers),
    ("-np", "--parallel"): ValueArg(("n_parallel",), _int),
    ("-b", "--batch-size"): ValueArg(("n_batch",), _int),
    ("-ub", "--ubatch-size"): ValueArg(("n_ubatch",), _int),
    ("-t", "--threads"): ValueArg(("cpuparams", "n_threads"), _int),
    ("-tb", "--threads-batch"): ValueArg(("cpuparams_batch", "n_threads"), _int),
    ("--threads-http",): ValueArg(("n_threads_http",), _int),
    ("-ctk", "--cache-type-k"): ValueArg(("cache_type_k",), _cache_type),
    ("-ctv", "--cache-type-v"): ValueArg(("cache_type_v",), _cache_type),
    ("-ts", "--tensor-split"): ValueArg(("tensor_split",), _tensor_split),
    ("-sm", "--split-mode"): ValueArg(
        ("split_mode",),
        _choice(
            "llama_split_mode",
            "LLAMA_SPLIT_MODE_",
            {"none": "NONE", "layer": "LAYER", "row": "ROW"},
        ),
    ),
    ("-mg", "--main-gpu"): ValueArg(("main_gpu",), _int),
    ("-s", "--seed"): ValueArg(("sampling", "seed"), _int),
    ("--temp",): ValueArg(("sampling", "temp"), _float),
    ("--top-k",): ValueArg(("sampling", "top_k"), _int),
    ("--top-p",): ValueArg(("sampling", "top_p"), _float),
    ("--min-p",): ValueArg(("sampling", "min_p"), _float),
    ("--keep",): ValueArg(("n_keep",), _int),
    ("--cache-reuse",): ValueArg(("n_cache_reuse",), _int),
    ("-cram", "--cache-ram"): ValueArg(("cache_ram_mib",), _int),
    ("--api-key",): ValueArg(("api_keys",), _str, many=True),
    ("-to", "--timeout"): ValueArg(("timeout_read", "timeout_write"), _int),
    ("--chat-template",): ValueArg(("chat_template",), _str),
    ("--reasoning-format",): ValueArg(
        ("reasoning_format",),
        _choice(
            "common_reasoning_format",
            "COMMON_REASONING_FORMAT_",
            {"auto": "AUTO", "none": "NONE", "deepseek": "DEEPSEEK"},
        ),
    ),
    ("--pooling",): ValueArg(
        ("pooling_type",),
        _choice(
            "llama_pooling_type",
            "LLAMA_POOLING_TYPE_",
            {"none": "NONE", "mean": "MEAN", "cls": "CLS", "last": "LAST", "rank": "RANK"},
        ),
    ),
    ("--rope-freq-base",): ValueArg(("rope_freq_base",), _float),
    ("--rope-freq-scale",): ValueArg(("rope_freq_scale",), _float),
    ("-lv", "--verbosity", "--log-verbosity"): ValueArg(("verbosity",), _int),
    ("--sleep-idle-seconds",): ValueArg(("sleep_idle_seconds",), _int),
}

_FLAG_ARGS: dict[tuple[str, ...], FlagArg] = {
    ("--metrics",): FlagArg(("endpoint_metrics",), True),
    ("--slots",): FlagArg(("endpoint_slots",), True),
    ("--no-slots",): FlagArg(("endpoint_slots",), False),
    ("--props",): FlagArg(("endpoint_props",), True),
    ("--jinja",): FlagArg(("use_jinja",), True),
    ("--no-jinja",): FlagArg(("use_jinja",), False),
    ("--embedding", "--embeddings"): FlagArg(("embedding",), True),
    ("-cb", "--cont-batching"): FlagArg(("cont_batching",), True),
    ("-nocb", "--no-cont-batching"): FlagArg(("cont_batching",), False),
    ("--no-warmup",): FlagArg(("warmup",), False),
    ("--no-webui",): FlagArg(("ui",), False),
    ("-kvu", "--kv-unified"): FlagArg(("kv_unified",), True),
    ("-nkvo", "--no-kv-offload"): FlagArg(("no_kv_offload",), True),
    ("--swa-full",): FlagArg(("swa_full",), True),
    ("--context-shift",): FlagArg(("ctx_shift",), True),
    ("--no-context-shift",): FlagArg(("ctx_shift",), False),
    ("--log-disable",): FlagArg(("verbosity",), -1),
}

_VALUES = {flag: row for flags, row in _VALUE_ARGS.items() for flag in flags}
_FLAGS = {flag: row for flags, row in _FLAG_ARGS.items() for flag in flags}
_FLASH_FLAGS = ("-fa", "--flash-attn")


def supported_flags() -> list[str]:
    return sorted([*_VALUES, *_FLAGS, *_FLASH_FLAGS])


def _split_equals(argv: Sequence[str]) -> list[str]:
    out: list[str] = []
    for arg in argv:
        if arg.startswith("--") and "=" in arg:
            out.extend(arg.split("=", 1))
        else:
            out.append(arg)
    return out


def parse_args(argv: Sequence[str]) -> list[Setting]:
    """Maps llama-server arguments to CommonParams settings, in order (later wins).

    Raises LlamaArgError naming the first unknown, incomplete or malformed argument, or a
    missing -m/--model."""
    args = _split_equals(argv)
    settings: list[Setting] = []
    collected: dict[tuple[str, ...], list[Any]] = {}
    has_model = False
    i = 0
    while i < len(args):
        flag = args[i]
        if flag in _FLASH_FLAGS:
            value = "on"
            if i + 1 < len(args) and args[i + 1] in _FLASH_ATTN:
                value = args[i + 1]
                i += 1
            member = f"LLAMA_FLASH_ATTN_TYPE_{_FLASH_ATTN[value]}"
            settings.append(Setting(("flash_attn_type",), Enum("llama_flash_attn_type", member)))
        elif flag in _FLAGS:
            flag_row = _FLAGS[flag]
            settings.append(Setting(flag_row.path, flag_row.value))
        elif flag in _VALUES:
            row = _VALUES[flag]
            if i + 1 >= len(args):
                raise LlamaArgError(f"argument {flag} needs a value")
            raw = args[i + 1]
            i += 1
            try:
                value = row.convert(raw)
            except ValueError as exc:
                raise LlamaArgError(f"argument {flag}: invalid value {raw!r} ({exc})") from exc
            if row.path == ("model", "path"):
                has_model = True
            if row.many:
                collected.setdefault(row.path, []).append(value)
            elif row.path == ("timeout_read", "timeout_write"):
                settings.append(Setting(("timeout_read",), value))
                settings.append(Setting(("timeout_write",), value))
            else:
                settings.append(Setting(row.path, value))
        else:
            raise LlamaArgError(
                f"unsupported llama-server argument {flag!r} "
                "(run with --help for the supported arguments)"
            )
        i += 1
    if not has_model:
        raise LlamaArgError("argument -m/--model is required")
    for path, values in collected.items():
        settings.append(Setting(path, set(values) if path == ("model_alias",) else values))
    return settings


def _resolve(value: Any, module: Any) -> Any:
    if isinstance(value, Enum):
        return getattr(getattr(module, value.enum), value.member)
    return value


def apply(settings: Sequence[Setting], params: Any, module: Any) -> None:
    """Writes settings onto an xllamacpp CommonParams (`module` is xllamacpp)."""
    for setting in settings:
        target = params
        for name in setting.path[:-1]:
            target = getattr(target, name)
        setattr(target, setting.path[-1], _resolve(setting.value, module))


def command(model: str, host: str, port: int, *args: str) -> list[str]:
    """The argv that serves `model` on host:port with this CLI (for tests and benchmarks that
    start a llama.cpp server of their own)."""
    return [
        sys.executable,
        "-m",
        "inference_localstack.llama_server",
        "-m",
        model,
        "--host",
        host,
        "--port",
        str(port),
        *args,
    ]


def _usage() -> str:
    return (
        "usage: python -m inference_localstack.llama_server -m MODEL [llama-server args]\n"
        "supported: " + " ".join(supported_flags()) + "\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        sys.stdout.write(_usage())
        return 0
    try:
        settings = parse_args(args)
    except LlamaArgError as exc:
        sys.stderr.write(f"llama_server: error: {exc}\n")
        return 2

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    # Installed before loading so a SIGTERM during load is honoured once loading ends.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    import xllamacpp

    params = xllamacpp.CommonParams()
    apply(settings, params, xllamacpp)
    try:
        server = xllamacpp.Server(params)
    except Exception as exc:  # llama.cpp reports load failures as a plain exception
        sys.stderr.write(f"llama_server: error: could not start: {exc}\n")
        return 1
    sys.stderr.write(f"llama_server: listening on {server.listening_address}\n")
    sys.stderr.flush()
    while not stop.wait(timeout=3600):
        pass
    del server  # joins llama.cpp's HTTP and main loops
    sys.stderr.write("llama_server: stopped\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
