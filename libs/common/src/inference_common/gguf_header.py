"""What a GGUF header says: the parsed header, its llama.cpp names, the registry columns it
fills, and the error for a malformed file. The parser that builds it lives in `gguf`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# llama.cpp's `general.file_type` values (enum llama_ftype).
FILE_TYPES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
}


class GGUFError(ValueError):
    """The bytes are not a well-formed GGUF file; the message says why."""


@dataclass(frozen=True)
class GGUFHeader:
    version: int
    tensor_count: int
    metadata: dict[str, Any]
    parameter_count: int
    header_bytes: int  # where the tensor data starts (aligned)
    expected_size: int | None  # total file size implied by the tensor table, when known
    tensor_types: dict[str, int] = field(default_factory=dict)  # type name → tensor count
    dropped_keys: int = 0  # metadata entries not kept (over the size budget)

    @property
    def architecture(self) -> str | None:
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) else None

    @property
    def context_length(self) -> int | None:
        if self.architecture is None:
            return None
        value = self.metadata.get(f"{self.architecture}.context_length")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def file_type(self) -> str | None:
        value = self.metadata.get("general.file_type")
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        return FILE_TYPES.get(value, f"unknown({value})")

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) else None

    @property
    def tokenizer_model(self) -> str | None:
        value = self.metadata.get("tokenizer.ggml.model")
        return value if isinstance(value, str) else None

    @property
    def vocab_size(self) -> int | None:
        value = self.metadata.get("tokenizer.ggml.tokens")
        if isinstance(value, dict) and isinstance(value.get("length"), int):
            return int(value["length"])
        if isinstance(value, list):
            return len(value)
        return None


def model_columns(header: GGUFHeader) -> dict[str, Any]:
    """The registry (`models`) columns a GGUF header fills: shared by the API's upload and
    the download service's import, so both describe a model the same way."""
    return {
        "architecture": (header.architecture or None) and header.architecture[:64],
        "context_length": header.context_length,
        "parameter_count": header.parameter_count,
        "file_type": (header.file_type or None) and str(header.file_type)[:32],
        "gguf_metadata": {
            "version": header.version,
            "tensor_count": header.tensor_count,
            "tensor_types": header.tensor_types,
            "kv": header.metadata,
            "kv_dropped": header.dropped_keys,
        },
    }
