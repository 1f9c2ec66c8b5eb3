"""Who may serve a registered model: its owner and admins always; anyone when it is
`public`; in the namespaces of `shared_with` when it is `shared` (a namespace is a team's
space: sharing with it shares with every user the contract service lets serve there).

The contract service decides with `may_serve`; the API lists models with the same rule in SQL
(`shared` ones: shared with a namespace the caller may use).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ModelVisibility(StrEnum):
    PRIVATE = "private"
    SHARED = "shared"
    PUBLIC = "public"


@dataclass(frozen=True)
class ModelAccess:
    """A registry model as the rule needs it: owner's username (None: no owner left)."""

    name: str
    owner: str | None
    visibility: str
    shared_with: tuple[str, ...] = ()


def may_serve(model: ModelAccess, username: str | None, is_admin: bool, namespace: str) -> bool:
    if is_admin or (username is not None and model.owner == username):
        return True
    if model.visibility == ModelVisibility.PUBLIC:
        return True
    return model.visibility == ModelVisibility.SHARED and namespace in model.shared_with


def name_forms(name: str) -> tuple[str, ...]:
    """Ollama-style equivalence, as the gateway resolves names: `smollm2` and
    `smollm2:latest` are the same name."""
    if name.endswith(":latest"):
        return (name, name[: -len(":latest")])
    if ":" not in name:
        return (name, f"{name}:latest")
    return (name,)
