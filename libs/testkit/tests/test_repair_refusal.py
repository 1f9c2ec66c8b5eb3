"""Only the checkout that owns a state dir may start or repair the stack in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference_testkit.plugin import repair_refusal


@pytest.mark.parametrize(
    ("state_dir", "repo_root", "refused"),
    [
        ("/work/main/.local", "/work/main", False),
        ("/work/main/.local/", "/work/main", False),
        ("/work/main/.local", "/work/wt-ui", True),
        ("/srv/elsewhere/state", "/work/main", True),
        ("/work/main/.local-other", "/work/main", True),
    ],
)
def test_repair_is_refused_for_another_checkouts_stack(
    state_dir: str, repo_root: str, refused: bool
) -> None:
    reason = repair_refusal(Path(state_dir), Path(repo_root))
    assert (reason is not None) is refused
    if reason:
        assert state_dir.rstrip("/") in reason
        assert "make up" in reason
