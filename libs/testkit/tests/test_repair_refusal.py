"""Only the checkout that owns a state dir may start or repair the stack in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference_testkit.plugin import ports_refusal, repair_refusal


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


@pytest.mark.parametrize(
    ("nothing_ran", "in_use", "refused"),
    [(True, True, True), (True, False, False), (False, True, False), (False, False, False)],
)
def test_ports_held_by_a_stack_this_session_did_not_start_are_refused(
    nothing_ran: bool, in_use: bool, refused: bool
) -> None:
    reason = ports_refusal(nothing_ran, 6443, in_use)
    assert (reason is not None) is refused
    if reason:
        assert "127.0.0.1:6443" in reason
        assert "LOCAL_STATE_DIR" in reason
