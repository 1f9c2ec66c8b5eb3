"""The seed of the quantization cluster's store: the embedded model, relabelled in place."""

from __future__ import annotations

import struct

import pytest

from inference_common.gguf import parse_gguf
from inference_localstack.embedded_model import embedded_model_path
from inference_localstack.quant_cluster import relabel

HEAD = 1024**2


def _name_kv(value: bytes) -> bytes:
    key = b"general.name"
    return (
        struct.pack("<Q", len(key))
        + key
        + struct.pack("<I", 8)
        + struct.pack("<Q", len(value))
        + value
    )


@pytest.mark.parametrize(
    ("old", "label", "new"),
    [
        (b"abcdef", "xy", b"xy    "),
        (b"abc", "longer label", b"lon"),
        (b"abc", "abc", b"abc"),
    ],
)
def test_relabel_keeps_the_length(old: bytes, label: str, new: bytes) -> None:
    before, after = b"GGUF-prefix", b"-rest"
    assert relabel(before + _name_kv(old) + after, label) == before + _name_kv(new) + after


def test_relabel_refuses_a_header_without_a_name() -> None:
    with pytest.raises(ValueError, match=r"general\.name"):
        relabel(b"GGUF" + b"\0" * 64, "x")


def test_the_relabelled_embedded_model_differs_only_in_its_name() -> None:
    data = embedded_model_path().read_bytes()
    changed = relabel(data[:HEAD], "SmolLM2 135M Instruct (quant)") + data[HEAD:]
    assert len(changed) == len(data)
    assert changed[HEAD:] == data[HEAD:]
    before, after = parse_gguf(data), parse_gguf(changed)
    assert after.metadata["general.name"].rstrip() == "SmolLM2 135M Instruct (quant)"
    assert {k: v for k, v in after.metadata.items() if k != "general.name"} == {
        k: v for k, v in before.metadata.items() if k != "general.name"
    }
    assert after.tensor_types == before.tensor_types
    differing = sum(a != b for a, b in zip(data[:HEAD], changed[:HEAD], strict=True))
    assert 0 < differing <= len("SmolLM2 135M Instruct (quant)") + 2
