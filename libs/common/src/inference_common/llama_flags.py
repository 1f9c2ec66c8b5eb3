"""llama.cpp server settings: the typed `RuntimeSettings`, the allow-list of extra flags, the
parser of a user's flag text (`parse_runtime_params`) and the argv they become (`runtime_args`).

The API parses "--ctx-size 2048 -ngl 99" into RuntimeSettings for a ModelServe's
`spec.runtime`; the operator turns them back into llama-server flags.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import ConfigDict, Field, field_validator, model_validator

from inference_common.modelserve_base import MAX_GPUS_PER_REPLICA, WireModel, cel, cel_list

MAX_RUNTIME_PARAMS_LENGTH = 2000
"""Longest flag text `parse_runtime_params` reads."""


class TensorSplitMode(StrEnum):
    EVEN = "Even"
    """Equal share on each of the pod's GPUs (the default)."""
    RATIOS = "Ratios"
    """`tensorSplit` holds one ratio per GPU."""
    MEMORY = "Memory"
    """Proportional to each card's memory (mixed cards); llama.cpp measures it at load."""


class FlashAttention(StrEnum):
    ON = "on"
    OFF = "off"
    AUTO = "auto"


class KvCacheType(StrEnum):
    F32 = "f32"
    F16 = "f16"
    BF16 = "bf16"
    Q8_0 = "q8_0"
    Q4_0 = "q4_0"
    Q4_1 = "q4_1"
    IQ4_NL = "iq4_nl"
    Q5_0 = "q5_0"
    Q5_1 = "q5_1"


_UNQUANTIZED_KV = frozenset({KvCacheType.F32, KvCacheType.F16, KvCacheType.BF16})


class RuntimeFlagError(ValueError):
    """A llama.cpp flag is not allowed or its value is invalid; the message names the flag."""

    def __init__(self, flag: str, reason: str) -> None:
        self.flag = flag
        self.reason = reason
        super().__init__(f"{flag}: {reason}")


# Values of allow-listed extra flags: a checker returns None when fine, else the reason.
_ValueCheck = Callable[[str], str | None]


def _int_in(low: int, high: int) -> _ValueCheck:
    def check(value: str) -> str | None:
        if not re.fullmatch(r"-?[0-9]+", value) or not low <= int(value) <= high:
            return f"expects an integer in [{low}, {high}], got {value!r}"
        return None

    return check


def _float_in(low: float, high: float) -> _ValueCheck:
    def check(value: str) -> str | None:
        try:
            number = float(value)
        except ValueError:
            return f"expects a number in [{low}, {high}], got {value!r}"
        if not low <= number <= high:
            return f"expects a number in [{low}, {high}], got {value!r}"
        return None

    return check


def _one_of(*choices: str) -> _ValueCheck:
    def check(value: str) -> str | None:
        if value not in choices:
            return f"expects one of {', '.join(choices)}, got {value!r}"
        return None

    return check


_CHAT_TEMPLATES = (
    "chatml",
    "llama2",
    "llama3",
    "llama4",
    "mistral-v1",
    "mistral-v3",
    "mistral-v7",
    "phi3",
    "phi4",
    "gemma",
    "zephyr",
    "deepseek",
    "deepseek2",
    "deepseek3",
    "command-r",
    "vicuna",
    "openchat",
    "granite",
    "falcon3",
    "exaone3",
    "monarch",
    "orion",
    "megrez",
    "minicpm",
)

# Extra llama.cpp server flags a user may pass, with their value check (None: no value).
# Flags that bind sockets, read or write files, set secrets or pick the model are absent on
# purpose (--host, --port, --model, --api-key, --ssl-*, --path, --lora, --slot-save-path, …);
# flags with a typed field in RuntimeSettings are parsed into that field instead.
ALLOWED_EXTRA_FLAGS: Mapping[str, _ValueCheck | None] = {
    "--threads": _int_in(1, 256),
    "--threads-batch": _int_in(1, 256),
    "--threads-http": _int_in(1, 256),
    "--n-predict": _int_in(-2, 1_048_576),
    "--keep": _int_in(-1, 1_048_576),
    "--split-mode": _one_of("none", "layer", "row"),
    "--main-gpu": _int_in(0, MAX_GPUS_PER_REPLICA - 1),
    "--rope-scaling": _one_of("none", "linear", "yarn"),
    "--rope-scale": _float_in(0.0, 1024.0),
    "--rope-freq-base": _float_in(0.0, 1e9),
    "--rope-freq-scale": _float_in(0.0, 1024.0),
    "--yarn-orig-ctx": _int_in(0, 4_194_304),
    "--defrag-thold": _float_in(-1.0, 1.0),
    "--cache-reuse": _int_in(0, 1_048_576),
    "--temp": _float_in(0.0, 10.0),
    "--top-k": _int_in(0, 100_000),
    "--top-p": _float_in(0.0, 1.0),
    "--min-p": _float_in(0.0, 1.0),
    "--repeat-penalty": _float_in(0.0, 10.0),
    "--repeat-last-n": _int_in(-1, 1_048_576),
    "--presence-penalty": _float_in(-2.0, 2.0),
    "--frequency-penalty": _float_in(-2.0, 2.0),
    "--seed": _int_in(-1, 2**32 - 1),
    "--chat-template": _one_of(*_CHAT_TEMPLATES),
    "--reasoning-format": _one_of("none", "deepseek", "auto"),
    "--reasoning-budget": _int_in(-1, 0),
    "--jinja": None,
    "--no-jinja": None,
    "--mlock": None,
    "--no-mmap": None,
    "--cont-batching": None,
    "--no-cont-batching": None,
    "--no-warmup": None,
    "--no-kv-offload": None,
    "--metrics": None,
    "--no-webui": None,
    "--embeddings": None,
    "--reranking": None,
    "--cache-prompt": None,
    "--no-cache-prompt": None,
    "--swa-full": None,
}

_EXTRA_FLAG_ALIASES: Mapping[str, str] = {
    "-t": "--threads",
    "-tb": "--threads-batch",
    "-n": "--n-predict",
    "-sm": "--split-mode",
    "-mg": "--main-gpu",
    "-dt": "--defrag-thold",
    "--embedding": "--embeddings",
    "--rerank": "--reranking",
    "-nkvo": "--no-kv-offload",
}

_EXTRA_VALUE = r"^[A-Za-z0-9._+-]{1,64}$"
"""Shape of every token of extraArgs: no whitespace, quotes, slashes or shell characters."""


def _check_extra_args(args: Sequence[str]) -> list[str]:
    """Canonical extra args (long flag names); raises RuntimeFlagError naming a bad flag."""
    out: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        flag = _EXTRA_FLAG_ALIASES.get(token, token)
        if flag not in ALLOWED_EXTRA_FLAGS:
            if not token.startswith("-"):
                raise RuntimeFlagError(token, "a value without a flag")
            raise RuntimeFlagError(token, "not on the llama.cpp allow-list")
        check = ALLOWED_EXTRA_FLAGS[flag]
        out.append(flag)
        if check is not None:
            if i + 1 >= len(args):
                raise RuntimeFlagError(token, "expects a value")
            value = args[i + 1]
            reason = check(value)
            if reason is not None:
                raise RuntimeFlagError(token, reason)
            out.append(value)
            i += 1
        i += 1
    return out


def extra_flags(args: Sequence[str]) -> dict[str, str | None]:
    """The flags of checked extra args with their values (None for switches); last one wins."""
    flags: dict[str, str | None] = {}
    i = 0
    while i < len(args):
        flag = args[i]
        takes_value = ALLOWED_EXTRA_FLAGS.get(flag) is not None
        flags[flag] = args[i + 1] if takes_value and i + 1 < len(args) else None
        i += 2 if takes_value else 1
    return flags


class RuntimeSettings(WireModel):
    """llama.cpp server settings; each typed field becomes one flag (see `runtime_args`)."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "!has(self.tensorSplitMode) || self.tensorSplitMode != 'Ratios' || "
                "(has(self.tensorSplit) && self.tensorSplit.exists(r, r > 0.0))",
                "tensorSplit with a ratio above zero is required when tensorSplitMode is Ratios",
            ),
            (
                "(has(self.tensorSplitMode) && self.tensorSplitMode == 'Ratios') || "
                "!has(self.tensorSplit)",
                "tensorSplit is only allowed when tensorSplitMode is Ratios",
            ),
            (
                "!has(self.kvCacheType) || self.kvCacheType in ['f32', 'f16', 'bf16'] || "
                "!has(self.flashAttention) || self.flashAttention != 'off'",
                "a quantized kvCacheType needs flashAttention on or auto",
            ),
            (
                "!has(self.extraArgs) || self.extraArgs.all(a, !a.startsWith('-') || a in "
                + cel_list(sorted({*ALLOWED_EXTRA_FLAGS, *_EXTRA_FLAG_ALIASES}))
                + ")",
                "extraArgs holds a flag that is not on the llama.cpp allow-list",
            ),
        )
    )

    context_size: int | None = Field(
        None, ge=0, le=4_194_304, description="--ctx-size; 0 = the model's own."
    )
    gpu_layers: int | None = Field(
        None,
        ge=0,
        le=9999,
        description="--n-gpu-layers; defaults to 999 (all) with GPUs and 0 without.",
    )
    tensor_split_mode: TensorSplitMode = Field(
        TensorSplitMode.EVEN,
        description="How layers spread over the pod's GPUs: Even, Ratios (tensorSplit), Memory.",
    )
    tensor_split: list[Annotated[float, Field(ge=0, le=1000)]] | None = Field(
        None,
        max_length=MAX_GPUS_PER_REPLICA,
        description="One ratio per GPU when tensorSplitMode is Ratios, e.g. [3, 1].",
    )
    parallel: int | None = Field(None, ge=1, le=256, description="--parallel slots.")
    batch_size: int | None = Field(None, ge=1, le=65536, description="--batch-size.")
    ubatch_size: int | None = Field(None, ge=1, le=65536, description="--ubatch-size.")
    flash_attention: FlashAttention | None = Field(None, description="--flash-attn on|off|auto.")
    kv_cache_type: KvCacheType | None = Field(
        None, description="--cache-type-k and --cache-type-v; quantized needs flash attention."
    )
    extra_args: list[Annotated[str, Field(pattern=_EXTRA_VALUE)]] = Field(
        default_factory=list,
        max_length=64,
        description="Further llama.cpp flags and values, from an allow-list.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.tensor_split_mode is TensorSplitMode.RATIOS:
            if not self.tensor_split:
                raise ValueError("tensorSplit is required when tensorSplitMode is Ratios")
            if sum(self.tensor_split) <= 0:
                raise ValueError("tensorSplit must not be all zero")
        elif self.tensor_split is not None:
            raise ValueError("tensorSplit is only allowed when tensorSplitMode is Ratios")
        if (
            self.kv_cache_type is not None
            and self.kv_cache_type not in _UNQUANTIZED_KV
            and self.flash_attention is FlashAttention.OFF
        ):
            raise ValueError("a quantized kvCacheType needs flashAttention on or auto")
        return self

    @field_validator("extra_args")
    @classmethod
    def _allowed_extra_args(cls, value: list[str]) -> list[str]:
        return _check_extra_args(value)


# --- llama.cpp flag parsing (API: runtime_params text → RuntimeSettings) -----------------------

_TYPED_FLAGS: Mapping[str, str] = {
    "-c": "context_size",
    "--ctx-size": "context_size",
    "-ngl": "gpu_layers",
    "--gpu-layers": "gpu_layers",
    "--n-gpu-layers": "gpu_layers",
    "-ts": "tensor_split",
    "--tensor-split": "tensor_split",
    "-np": "parallel",
    "--parallel": "parallel",
    "-b": "batch_size",
    "--batch-size": "batch_size",
    "-ub": "ubatch_size",
    "--ubatch-size": "ubatch_size",
    "-fa": "flash_attention",
    "--flash-attn": "flash_attention",
    "-ctk": "cache_type_k",
    "--cache-type-k": "cache_type_k",
    "-ctv": "cache_type_v",
    "--cache-type-v": "cache_type_v",
}


def _parse_int(flag: str, value: str) -> int:
    if not re.fullmatch(r"-?[0-9]+", value):
        raise RuntimeFlagError(flag, f"expects an integer, got {value!r}")
    return int(value)


def _parse_split(flag: str, value: str) -> list[float]:
    parts = [p for p in re.split(r"[,/]", value) if p]
    try:
        ratios = [float(p) for p in parts]
    except ValueError:
        raise RuntimeFlagError(flag, f"expects comma-separated numbers, got {value!r}") from None
    if not ratios:
        raise RuntimeFlagError(flag, "expects at least one ratio")
    return ratios


def parse_runtime_params(text: str) -> RuntimeSettings:
    """Parses a llama.cpp flag string ("--ctx-size 2048 -ngl 99 --temp 0.7").

    Typed flags fill RuntimeSettings fields; other flags must be on the allow-list and land in
    `extra_args`. Anything else raises RuntimeFlagError naming the flag.
    """
    if len(text) > MAX_RUNTIME_PARAMS_LENGTH:
        raise RuntimeFlagError("runtime_params", f"longer than {MAX_RUNTIME_PARAMS_LENGTH}")
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise RuntimeFlagError("runtime_params", f"cannot be split into flags: {exc}") from None
    # "--flag=value" is the same as "--flag value".
    expanded: list[str] = []
    for token in tokens:
        if token.startswith("--") and "=" in token:
            flag, value = token.split("=", 1)
            expanded.extend([flag, value])
        else:
            expanded.append(token)

    fields: dict[str, Any] = {}
    seen: dict[str, str] = {}
    extra: list[str] = []
    i = 0
    while i < len(expanded):
        token = expanded[i]
        field = _TYPED_FLAGS.get(token)
        if field is None:
            flag = _EXTRA_FLAG_ALIASES.get(token, token)
            check = ALLOWED_EXTRA_FLAGS.get(flag)
            takes_value = flag in ALLOWED_EXTRA_FLAGS and check is not None
            end = i + 2 if takes_value else i + 1
            extra.extend(expanded[i:end])
            # validate now so the error names this flag
            _check_extra_args(expanded[i:end])
            i = end
            continue
        if field in seen:
            raise RuntimeFlagError(token, f"given twice (also as {seen[field]})")
        seen[field] = token
        if field == "flash_attention":
            nxt = expanded[i + 1] if i + 1 < len(expanded) else None
            if nxt in {"on", "off", "auto"}:
                fields[field] = FlashAttention(nxt)
                i += 2
            else:
                fields[field] = FlashAttention.ON
                i += 1
            continue
        if i + 1 >= len(expanded):
            raise RuntimeFlagError(token, "expects a value")
        value = expanded[i + 1]
        i += 2
        if field == "tensor_split":
            fields["tensor_split"] = _parse_split(token, value)
            fields["tensor_split_mode"] = TensorSplitMode.RATIOS
        elif field in {"cache_type_k", "cache_type_v"}:
            try:
                fields[field] = KvCacheType(value)
            except ValueError:
                choices = ", ".join(t.value for t in KvCacheType)
                raise RuntimeFlagError(token, f"expects one of {choices}") from None
        else:
            fields[field] = _parse_int(token, value)

    cache_k = fields.pop("cache_type_k", None)
    cache_v = fields.pop("cache_type_v", None)
    if cache_k is not None and cache_v is not None and cache_k != cache_v:
        raise RuntimeFlagError(seen["cache_type_v"], "must equal the K cache type")
    if cache_k or cache_v:
        fields["kv_cache_type"] = cache_k or cache_v
    fields["extra_args"] = extra
    try:
        return RuntimeSettings(**fields)
    except ValueError as exc:
        flag = _flag_for_error(exc, seen)
        raise RuntimeFlagError(flag, _first_error(exc)) from None


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        items = errors()
        if items:
            return str(items[0].get("msg", exc))
    return str(exc)


def _flag_for_error(exc: ValueError, seen: Mapping[str, str]) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        for item in errors():
            loc = item.get("loc", ())
            if loc and isinstance(loc[0], str) and loc[0] in seen:
                return seen[loc[0]]
    return "runtime_params"


def resolve_tensor_split(
    settings: RuntimeSettings,
    gpu_count: int,
    card_memory_mib: Sequence[int] | None = None,
) -> list[float] | None:
    """Ratios for --tensor-split, or None to omit the flag.

    Even → equal ratios; Ratios → the given ratios; Memory → proportional to `card_memory_mib`
    when known, else None (llama.cpp then splits by each device's free memory at load time).
    One GPU or none needs no split.
    """
    if gpu_count <= 1:
        return None
    if settings.tensor_split_mode is TensorSplitMode.RATIOS:
        assert settings.tensor_split is not None
        return list(settings.tensor_split)
    if settings.tensor_split_mode is TensorSplitMode.MEMORY:
        if card_memory_mib is None:
            return None
        if len(card_memory_mib) != gpu_count or any(m <= 0 for m in card_memory_mib):
            raise ValueError(f"card_memory_mib needs {gpu_count} positive sizes")
        total = sum(card_memory_mib)
        return [round(m / total, 4) for m in card_memory_mib]
    return [1.0] * gpu_count


def _fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def runtime_args(
    settings: RuntimeSettings,
    gpu_count: int,
    card_memory_mib: Sequence[int] | None = None,
) -> list[str]:
    """llama.cpp server flags for the settings on a pod with `gpu_count` GPUs."""
    args: list[str] = []
    if settings.context_size is not None:
        args += ["--ctx-size", str(settings.context_size)]
    layers = settings.gpu_layers
    if layers is None:
        layers = 999 if gpu_count > 0 else 0
    args += ["--n-gpu-layers", str(layers)]
    split = resolve_tensor_split(settings, gpu_count, card_memory_mib)
    if split is not None:
        args += ["--tensor-split", ",".join(_fmt_number(r) for r in split)]
    if settings.parallel is not None:
        args += ["--parallel", str(settings.parallel)]
    if settings.batch_size is not None:
        args += ["--batch-size", str(settings.batch_size)]
    if settings.ubatch_size is not None:
        args += ["--ubatch-size", str(settings.ubatch_size)]
    if settings.flash_attention is not None:
        args += ["--flash-attn", settings.flash_attention.value]
    if settings.kv_cache_type is not None:
        kv = settings.kv_cache_type.value
        args += ["--cache-type-k", kv, "--cache-type-v", kv]
    args += settings.extra_args
    return args
