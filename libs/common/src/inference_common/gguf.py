"""A small sans-IO parser of the GGUF header (metadata and tensor table).

Bytes are pushed in with `GGUFStreamParser.feed()` as they arrive from an upload, so the
file never has to be buffered: only the header is looked at, and only the parts of it that
are kept (large arrays such as the token list are walked, not stored). Every length read
from the file is bounded, so a hostile header cannot make the parser allocate without limit.

Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md (little-endian, v2/v3).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

# The parser's results, importable from here as before the split.
from inference_common.gguf_header import GGUFError as GGUFError
from inference_common.gguf_header import GGUFHeader as GGUFHeader
from inference_common.gguf_header import model_columns as model_columns

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = frozenset({2, 3})
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 4  # GGML_MAX_DIMS

# Limits on what a header may declare (far above any real model).
MAX_STRING_BYTES = 16 * 1024 * 1024
MAX_ARRAY_LENGTH = 1 << 26
MAX_KV_COUNT = 1 << 16
MAX_TENSOR_COUNT = 1 << 20
DEFAULT_MAX_HEADER_BYTES = 256 * 1024 * 1024

# What is kept of the metadata: strings up to this size, arrays up to this many items
# (longer ones are summarised as their type and length), keys up to this size, and about
# this much in all (the entries after that are dropped and counted).
KEPT_STRING_BYTES = 64 * 1024
KEPT_ARRAY_ITEMS = 16
KEPT_KEY_BYTES = 256
KEPT_METADATA_BYTES = 1024 * 1024
_ENTRY_OVERHEAD = 16  # what a kept entry costs besides its key and strings

# GGUF metadata value types.
_UINT8, _INT8, _UINT16, _INT16, _UINT32, _INT32, _FLOAT32 = 0, 1, 2, 3, 4, 5, 6
_BOOL, _STRING, _ARRAY, _UINT64, _INT64, _FLOAT64 = 7, 8, 9, 10, 11, 12

_SCALAR_FORMATS: dict[int, str] = {
    _UINT8: "<B",
    _INT8: "<b",
    _UINT16: "<H",
    _INT16: "<h",
    _UINT32: "<I",
    _INT32: "<i",
    _FLOAT32: "<f",
    _BOOL: "<?",
    _UINT64: "<Q",
    _INT64: "<q",
    _FLOAT64: "<d",
}
_TYPE_NAMES: dict[int, str] = {
    _UINT8: "uint8",
    _INT8: "int8",
    _UINT16: "uint16",
    _INT16: "int16",
    _UINT32: "uint32",
    _INT32: "int32",
    _FLOAT32: "float32",
    _BOOL: "bool",
    _STRING: "string",
    _ARRAY: "array",
    _UINT64: "uint64",
    _INT64: "int64",
    _FLOAT64: "float64",
}

# ggml tensor types: (elements per block, bytes per block) — ggml's own table.
GGML_BLOCK_SIZES: dict[int, tuple[int, int]] = {
    0: (1, 4),  # F32
    1: (1, 2),  # F16
    2: (32, 18),  # Q4_0
    3: (32, 20),  # Q4_1
    6: (32, 22),  # Q5_0
    7: (32, 24),  # Q5_1
    8: (32, 34),  # Q8_0
    9: (32, 40),  # Q8_1
    10: (256, 84),  # Q2_K
    11: (256, 110),  # Q3_K
    12: (256, 144),  # Q4_K
    13: (256, 176),  # Q5_K
    14: (256, 210),  # Q6_K
    15: (256, 292),  # Q8_K
    16: (256, 66),  # IQ2_XXS
    17: (256, 74),  # IQ2_XS
    18: (256, 98),  # IQ3_XXS
    19: (256, 50),  # IQ1_S
    20: (32, 18),  # IQ4_NL
    21: (256, 110),  # IQ3_S
    22: (256, 82),  # IQ2_S
    23: (256, 136),  # IQ4_XS
    24: (1, 1),  # I8
    25: (1, 2),  # I16
    26: (1, 4),  # I32
    27: (1, 8),  # I64
    28: (1, 8),  # F64
    29: (256, 56),  # IQ1_M
    30: (1, 2),  # BF16
    34: (256, 54),  # TQ1_0
    35: (256, 66),  # TQ2_0
    39: (32, 17),  # MXFP4
}


@dataclass(frozen=True)
class _Read:
    size: int


@dataclass(frozen=True)
class _Skip:
    size: int


_Request = _Read | _Skip
_Parse = Generator[_Request, bytes, Any]


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _decode(raw: bytes) -> str:
    # Postgres JSON text cannot hold NUL; invalid UTF-8 is replaced, never trusted.
    return raw.decode("utf-8", errors="replace").replace("\x00", "")


def _scalar(value_type: int) -> _Parse:
    fmt = _SCALAR_FORMATS[value_type]
    raw = yield _Read(struct.calcsize(fmt))
    return _json_safe(struct.unpack(fmt, raw)[0])


def _uint(fmt: str) -> _Parse:
    raw = yield _Read(struct.calcsize(fmt))
    return struct.unpack(fmt, raw)[0]


class _Budget:
    """How many more bytes of metadata may be kept."""

    def __init__(self, size: int) -> None:
        self.remaining = size

    def take(self, size: int) -> bool:
        if size > self.remaining:
            return False
        self.remaining -= size
        return True

    def spend(self, size: int) -> None:
        self.remaining -= size


def _string(budget: _Budget | None) -> _Parse:
    """A string, kept when it fits `budget` (else summarised as its size); None and not
    kept at all without a budget."""
    length = yield from _uint("<Q")
    if length > MAX_STRING_BYTES:
        raise GGUFError(f"string of {length} bytes exceeds the limit of {MAX_STRING_BYTES}")
    if budget is None or length > KEPT_STRING_BYTES or not budget.take(length):
        if length:
            yield _Skip(length)
        return None if budget is None else {"string_bytes": length}
    if not length:
        return ""
    raw = yield _Read(length)
    return _decode(raw)


def _name() -> _Parse:
    """A key or tensor name (read in full up to KEPT_STRING_BYTES, an error beyond)."""
    return (yield from _string(_Budget(KEPT_STRING_BYTES)))


def _value(value_type: int, budget: _Budget | None) -> _Parse:
    """A value, kept within `budget`; walked over and not kept without one."""
    if value_type in _SCALAR_FORMATS:
        if budget is not None:
            budget.spend(8)
        return (yield from _scalar(value_type))
    if value_type == _STRING:
        return (yield from _string(budget))
    if value_type == _ARRAY:
        return (yield from _array(budget))
    raise GGUFError(f"unknown metadata value type {value_type}")


def _array(budget: _Budget | None) -> _Parse:
    item_type = yield from _uint("<I")
    length = yield from _uint("<Q")
    if item_type not in _TYPE_NAMES:
        raise GGUFError(f"unknown array item type {item_type}")
    if item_type == _ARRAY:
        raise GGUFError("nested arrays are not supported")
    if length > MAX_ARRAY_LENGTH:
        raise GGUFError(f"array of {length} items exceeds the limit of {MAX_ARRAY_LENGTH}")
    if budget is not None and length <= KEPT_ARRAY_ITEMS:
        items = []
        for _ in range(length):
            items.append((yield from _value(item_type, budget)))
        return items
    if item_type == _STRING:
        for _ in range(length):
            yield from _string(None)
    elif length:
        yield _Skip(length * struct.calcsize(_SCALAR_FORMATS[item_type]))
    return None if budget is None else {"array_of": _TYPE_NAMES[item_type], "length": length}


def _header() -> _Parse:
    magic = yield _Read(4)
    if magic != MAGIC:
        raise GGUFError("not a GGUF file (bad magic)")
    version = yield from _uint("<I")
    if version not in SUPPORTED_VERSIONS:
        raise GGUFError(f"unsupported GGUF version {version} (supported: 2, 3)")
    tensor_count = yield from _uint("<Q")
    kv_count = yield from _uint("<Q")
    if tensor_count > MAX_TENSOR_COUNT:
        raise GGUFError(f"tensor count {tensor_count} exceeds the limit of {MAX_TENSOR_COUNT}")
    if kv_count > MAX_KV_COUNT:
        raise GGUFError(f"metadata count {kv_count} exceeds the limit of {MAX_KV_COUNT}")

    metadata: dict[str, Any] = {}
    budget = _Budget(KEPT_METADATA_BYTES)
    dropped_keys = 0
    for _ in range(kv_count):
        key = yield from _name()
        if not isinstance(key, str):
            raise GGUFError("metadata key too long")
        value_type = yield from _uint("<I")
        if len(key) > KEPT_KEY_BYTES or not budget.take(len(key) + _ENTRY_OVERHEAD):
            yield from _value(value_type, None)
            dropped_keys += 1
            continue
        metadata[key] = yield from _value(value_type, budget)

    parameter_count = 0
    data_bytes: int | None = 0
    tensor_types: dict[str, int] = {}
    for _ in range(tensor_count):
        name = yield from _name()
        if not isinstance(name, str):
            raise GGUFError("tensor name too long")
        n_dims = yield from _uint("<I")
        if not 1 <= n_dims <= MAX_DIMS:
            raise GGUFError(f"tensor {name!r} has {n_dims} dimensions (1..{MAX_DIMS} allowed)")
        elements = 1
        for _ in range(n_dims):
            elements *= yield from _uint("<Q")
        ggml_type = yield from _uint("<I")
        offset = yield from _uint("<Q")
        parameter_count += elements
        block = GGML_BLOCK_SIZES.get(ggml_type)
        type_name = _GGML_TYPE_NAMES.get(ggml_type, f"type{ggml_type}")
        tensor_types[type_name] = tensor_types.get(type_name, 0) + 1
        if block is None or data_bytes is None:
            data_bytes = None
            continue
        per_block, block_bytes = block
        if elements % per_block:
            raise GGUFError(f"tensor {name!r}: {elements} elements is not a whole block")
        data_bytes = max(data_bytes, offset + elements // per_block * block_bytes)
    return version, tensor_count, metadata, parameter_count, data_bytes, tensor_types, dropped_keys


_GGML_TYPE_NAMES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    6: "Q5_0",
    7: "Q5_1",
    8: "Q8_0",
    9: "Q8_1",
    10: "Q2_K",
    11: "Q3_K",
    12: "Q4_K",
    13: "Q5_K",
    14: "Q6_K",
    15: "Q8_K",
    16: "IQ2_XXS",
    17: "IQ2_XS",
    18: "IQ3_XXS",
    19: "IQ1_S",
    20: "IQ4_NL",
    21: "IQ3_S",
    22: "IQ2_S",
    23: "IQ4_XS",
    24: "I8",
    25: "I16",
    26: "I32",
    27: "I64",
    28: "F64",
    29: "IQ1_M",
    30: "BF16",
    34: "TQ1_0",
    35: "TQ2_0",
    39: "MXFP4",
}


FEED_PIECE = 1024**2


class GGUFStreamParser:
    """Push parser: `feed()` chunks in file order, `finish()` at end of file.

    `header` is set as soon as the tensor table has been read; the remaining bytes (tensor
    data) are only counted, so memory stays bounded by the kept metadata.
    """

    def __init__(self, max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES) -> None:
        self.max_header_bytes = max_header_bytes
        self.header: GGUFHeader | None = None
        self.total_bytes = 0
        self._gen = _header()
        self._buffer = bytearray()
        self._consumed = 0  # header bytes consumed by the generator
        self._request: _Request | None = self._start()

    def _start(self) -> _Request:
        return next(self._gen)

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Until the header is whole, `data` is taken `FEED_PIECE` bytes at a time: the parser
        keeps what it has not parsed yet, and a part fed at once would be copied whole."""
        self.total_bytes += len(data)
        if self.header is not None:
            return
        with memoryview(data) as view:
            for start in range(0, len(view), FEED_PIECE):
                self._buffer += view[start : start + FEED_PIECE]
                self._advance()
                if self.header is not None:
                    self._buffer = bytearray()  # what followed the header: tensor data
                    return

    def _advance(self) -> None:
        view_start = 0
        buffer = self._buffer
        try:
            while self._request is not None:
                request = self._request
                available = len(buffer) - view_start
                if isinstance(request, _Skip):
                    taken = min(request.size, available)
                    view_start += taken
                    self._consumed += taken
                    if taken < request.size:
                        self._request = _Skip(request.size - taken)
                        break
                    self._request = self._gen.send(b"")
                else:
                    if available < request.size:
                        break
                    chunk = bytes(buffer[view_start : view_start + request.size])
                    view_start += request.size
                    self._consumed += request.size
                    self._request = self._gen.send(chunk)
                if self._consumed > self.max_header_bytes:
                    raise GGUFError(
                        f"GGUF header is larger than the limit of {self.max_header_bytes} bytes"
                    )
        except StopIteration as done:
            self._request = None
            self._complete(done.value)
        except (struct.error, UnicodeError) as exc:  # defensive: malformed field
            raise GGUFError(f"malformed GGUF header: {exc}") from exc
        finally:
            del buffer[:view_start]

    def _complete(self, parsed: tuple[Any, ...]) -> None:
        (
            version,
            tensor_count,
            metadata,
            parameter_count,
            data_bytes,
            tensor_types,
            dropped_keys,
        ) = parsed
        alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
        if not isinstance(alignment, int) or alignment <= 0 or alignment % 8:
            raise GGUFError(f"invalid general.alignment {alignment!r}")
        data_start = -(-self._consumed // alignment) * alignment
        if data_bytes is not None:
            # no tensors → no padding is needed after the header
            expected = data_start + data_bytes if tensor_count else self._consumed
        self.header = GGUFHeader(
            version=version,
            tensor_count=tensor_count,
            metadata=metadata,
            parameter_count=parameter_count,
            header_bytes=data_start,
            expected_size=None if data_bytes is None else expected,
            tensor_types=tensor_types,
            dropped_keys=dropped_keys,
        )
        self._buffer = bytearray()

    def finish(self) -> GGUFHeader:
        """The header, once the whole file has been fed; raises when it was cut short."""
        if self.header is None:
            raise GGUFError(
                f"truncated GGUF file: it ends inside the header after {self.total_bytes} bytes"
            )
        expected = self.header.expected_size
        if expected is not None and self.total_bytes < expected:
            raise GGUFError(
                f"truncated GGUF file: {self.total_bytes} bytes, the tensor table needs {expected}"
            )
        return self.header


def parse_gguf(data: bytes, chunk_size: int = 1 << 20) -> GGUFHeader:
    """Parses a whole file held in memory (tests, small files)."""
    parser = GGUFStreamParser()
    for start in range(0, len(data), chunk_size):
        parser.feed(data[start : start + chunk_size])
    return parser.finish()
