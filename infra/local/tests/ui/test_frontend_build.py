"""The web UI's committed generated client matches the services' OpenAPI documents, and
its unit tests (vitest) pass. Runs `npm ci` first when node_modules is older than the lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inference_localstack.frontend import (
    FRONTEND_DIR,
    ensure_node_modules,
    is_stale,
    npm_env,
    parse_node_version,
)

SCHEMA_DIR = FRONTEND_DIR / "src" / "api" / "schema"
REGENERATE = "regenerate it: (cd frontend && npm run generate), then commit"


@pytest.fixture(scope="module")
def node_modules() -> Path:
    ensure_node_modules()
    return FRONTEND_DIR / "node_modules"


def test_generated_client_is_current(node_modules: Path, tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(FRONTEND_DIR / "scripts" / "dump_openapi.py"), str(tmp_path)],
        check=True,
        timeout=120,
        env={**os.environ, "DEV_MODE": "true"},
    )
    for name in ("api", "gateway", "contract", "download"):
        fresh = json.loads((tmp_path / f"{name}.json").read_text())
        committed = json.loads((FRONTEND_DIR / "openapi" / f"{name}.json").read_text())
        assert fresh == committed, f"frontend/openapi/{name}.json is stale: {REGENERATE}"
        subprocess.run(
            [
                str(node_modules / ".bin" / "openapi-typescript"),
                str(tmp_path / f"{name}.json"),
                "-o",
                str(tmp_path / f"{name}.ts"),
            ],
            check=True,
            timeout=120,
            capture_output=True,
            env=npm_env(),
        )
        assert (tmp_path / f"{name}.ts").read_text() == (SCHEMA_DIR / f"{name}.ts").read_text(), (
            f"frontend/src/api/schema/{name}.ts is stale: {REGENERATE}"
        )


def test_frontend_unit_tests_pass(node_modules: Path) -> None:
    result = subprocess.run(
        [str(node_modules / ".bin" / "vitest"), "run", "--reporter=dot"],
        cwd=FRONTEND_DIR,
        env={**npm_env(), "CI": "1", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


@pytest.mark.parametrize(
    ("output_age", "input_ages", "stale"),
    [
        pytest.param(None, [10], True, id="no output"),
        pytest.param(5, [10, 20], False, id="output newer than every input"),
        pytest.param(15, [10, 20], True, id="one input newer"),
        pytest.param(5, [], False, id="no inputs"),
    ],
)
def test_is_stale(
    tmp_path: Path, output_age: int | None, input_ages: list[int], stale: bool
) -> None:
    now = time.time()
    inputs = []
    for i, age in enumerate(input_ages):
        path = tmp_path / f"in{i}"
        path.write_text("x")
        os.utime(path, (now - age, now - age))
        inputs.append(path)
    output = tmp_path / "out"
    if output_age is not None:
        output.write_text("x")
        os.utime(output, (now - output_age, now - output_age))
    assert is_stale(output, inputs) is stale


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("v20.20.2\n", (20, 20)),
        ("v22.1.0", (22, 1)),
        ("v18.19.0", (18, 19)),
        ("v21.0.0-nightly2024", (21, 0)),
        ("", None),
        ("node: not found", None),
    ],
)
def test_parse_node_version(output: str, expected: tuple[int, int] | None) -> None:
    assert parse_node_version(output) == expected
