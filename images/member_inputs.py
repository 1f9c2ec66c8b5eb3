"""Prints a workspace member's distribution name and version, then the directories of the
workspace members it needs (itself first, then its workspace dependencies, transitively):
the inputs `images/build.sh` hashes to decide whether the member's image must be rebuilt.

usage: python3 images/member_inputs.py services/api
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

MEMBER_GLOBS = ("libs/*", "services/*", "operator")


def project(directory: Path) -> dict[str, object]:
    with (directory / "pyproject.toml").open("rb") as f:
        table: dict[str, object] = tomllib.load(f)["project"]
    return table


def requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    return match.group(0).lower().replace("_", "-") if match else ""


def main(root: Path, member: Path) -> None:
    members = {
        str(project(d)["name"]): d
        for pattern in MEMBER_GLOBS
        for d in sorted(root.glob(pattern))
        if (d / "pyproject.toml").is_file()
    }
    first = project(root / member)
    print(first["name"], first["version"])
    needed: list[Path] = []
    todo = [str(first["name"])]
    while todo:
        name = todo.pop(0)
        directory = members[name]
        if directory in needed:
            continue
        needed.append(directory)
        deps = project(directory).get("dependencies", [])
        assert isinstance(deps, list)
        todo += [n for n in map(requirement_name, deps) if n in members]
    for directory in needed:
        print(directory.relative_to(root))


if __name__ == "__main__":
    main(Path(__file__).resolve().parent.parent, Path(sys.argv[1]))
