"""Which server uuid a ModelServe may claim, and who owns it and may use it: what the API
signed, only with a valid signature."""

from __future__ import annotations

from typing import Any

import pytest

from inference_common.modelserve import SERVER_UUID_LABEL
from inference_common.server_identity import (
    NAMESPACE,
    OWNER_ANNOTATION,
    PRIVATE,
    PUBLIC,
    SIGNATURE_ANNOTATION,
    UNOWNED,
    VISIBILITY_ANNOTATION,
    ServerAccess,
    access_annotations,
    issued_server_uuid,
    sign_access,
    sign_server_uuid,
    trusted_access,
    trusted_server_uuid,
)

KEY = "k" * 40
UUID = "7f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
UID = "11111111-2222-4333-8444-555555555555"
GOOD = sign_server_uuid(KEY, "inference", "smol", UUID)


def meta(
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    name: str = "smol",
    namespace: str = "inference",
) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "uid": UID,
        "labels": labels,
        "annotations": annotations,
    }


SIGNED = {SIGNATURE_ANNOTATION: GOOD}
LABEL = {SERVER_UUID_LABEL: UUID}


@pytest.mark.parametrize(
    ("metadata", "key", "expected"),
    [
        (meta(LABEL, SIGNED), KEY, UUID),
        (meta(LABEL, SIGNED), "another-key", UID),
        (meta(LABEL, SIGNED), "", UID),  # no key: nothing is trusted
        (meta(LABEL, None), KEY, UID),  # a bare claim
        (meta(None, SIGNED), KEY, UID),
        (meta(LABEL, SIGNED, name="intruder"), KEY, UID),  # a copied signature
        (meta(LABEL, SIGNED, namespace="other"), KEY, UID),
        (meta({SERVER_UUID_LABEL: UID[:-1] + "6"}, SIGNED), KEY, UID),  # another uuid
        (meta(LABEL, {SIGNATURE_ANNOTATION: GOOD.upper()}), KEY, UID),
        (meta(LABEL, {SIGNATURE_ANNOTATION: ""}), KEY, UID),
    ],
)
def test_trusted_server_uuid(metadata: dict[str, Any], key: str, expected: str) -> None:
    assert trusted_server_uuid(metadata, key) == expected
    assert issued_server_uuid(metadata, key) == (UUID if expected == UUID else None)


def test_the_signature_separates_its_fields() -> None:
    assert sign_server_uuid(KEY, "a", "b-c", UUID) != sign_server_uuid(KEY, "a-b", "c", UUID)


def test_without_uid_or_signature_there_is_no_identity() -> None:
    with pytest.raises(ValueError, match="uid"):
        trusted_server_uuid({"name": "x", "labels": LABEL}, KEY)


OWNER = "0b7e4a52-9d7c-4a55-a3a1-6a2b1f0c9e11"


def access(owner: str = OWNER, visibility: str = PRIVATE, **overrides: str) -> dict[str, str]:
    values = {**SIGNED, **access_annotations(KEY, "inference", "smol", UUID, owner, visibility)}
    values.update(overrides)
    return values


@pytest.mark.parametrize(
    ("metadata", "key", "expected"),
    [
        (meta(LABEL, access()), KEY, ServerAccess(OWNER, PRIVATE)),
        (meta(LABEL, access(visibility=PUBLIC)), KEY, ServerAccess(OWNER, PUBLIC)),
        (meta(LABEL, access(visibility=NAMESPACE)), KEY, ServerAccess(OWNER, NAMESPACE)),
        (meta(LABEL, access(**{VISIBILITY_ANNOTATION: NAMESPACE})), KEY, UNOWNED),
        (meta(LABEL, access()), "another-key", UNOWNED),
        (meta(LABEL, access()), "", UNOWNED),
        (meta(LABEL, access(**{OWNER_ANNOTATION: "someone-else"})), KEY, UNOWNED),
        (meta(LABEL, access(**{VISIBILITY_ANNOTATION: PUBLIC})), KEY, UNOWNED),
        (meta(LABEL, access(visibility="team")), KEY, UNOWNED),  # not a visibility
        (meta(LABEL, access(), name="intruder"), KEY, UNOWNED),  # copied annotations
        (meta(None, access()), KEY, UNOWNED),  # no issued uuid
        (meta(LABEL, SIGNED), KEY, UNOWNED),  # signed uuid, no access annotations
        (meta(LABEL, None), KEY, UNOWNED),
    ],
)
def test_trusted_access(metadata: dict[str, Any], key: str, expected: ServerAccess) -> None:
    assert trusted_access(metadata, key) == expected


def test_the_access_signature_is_not_the_uuid_signature() -> None:
    assert sign_access(KEY, "inference", "smol", UUID, OWNER, PUBLIC) != GOOD
