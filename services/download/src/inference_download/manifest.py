"""The source layout contract: `<model_uuid>/manifest.json` beside the model's files."""

from __future__ import annotations

import json
import re
from uuid import UUID

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

MANIFEST_NAME = "manifest.json"
_SPLIT = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(ValueError):
    """The manifest is missing a field or breaks the layout; the message says which."""


class ManifestFile(BaseModel):
    key: str = Field(min_length=1, max_length=1024)
    size_bytes: int = Field(gt=0)
    sha256: str

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not _SHA256.match(value.lower()):
            raise ValueError("sha256 must be 64 hex digits")
        return value.lower()


class Manifest(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    quantization: str = Field(min_length=1, max_length=32)
    source_model: str = Field(min_length=1, max_length=512)
    files: list[ManifestFile] = Field(min_length=1, max_length=512)

    @model_validator(mode="after")
    def _one_file_or_split(self) -> Manifest:
        keys = [f.key for f in self.files]
        if len(keys) == 1:
            if not keys[0].endswith(".gguf"):
                raise ValueError(f"file {keys[0]!r} is not a .gguf")
            return self
        for index, key in enumerate(keys, start=1):
            match = _SPLIT.search(key)
            if not match or (int(match[1]), int(match[2])) != (index, len(keys)):
                raise ValueError(
                    f"file {key!r}: a split GGUF lists its parts in order as "
                    f"-{index:05d}-of-{len(keys):05d}.gguf"
                )
        return self

    @property
    def total_bytes(self) -> int:
        return sum(f.size_bytes for f in self.files)


def parse_manifest(raw: bytes) -> Manifest:
    try:
        return Manifest.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        raise ManifestError(f"invalid {MANIFEST_NAME}: {exc}") from exc


def source_key(model_uuid: UUID, file_key: str) -> str:
    """A manifest's keys are relative to the model's prefix (a full key is accepted too)."""
    prefix = f"{model_uuid}/"
    return file_key if file_key.startswith(prefix) else prefix + file_key


def target_keys(model_uuid: UUID, manifest: Manifest) -> list[str]:
    """Where the files go in our bucket: the API's key for one file; a folder for a split."""
    if len(manifest.files) == 1:
        return [f"models/{model_uuid}.gguf"]
    return [f"models/{model_uuid}/{f.key.rsplit('/', 1)[-1]}" for f in manifest.files]
