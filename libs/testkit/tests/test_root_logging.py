"""A test that installs the platform's log handler (a CLI's `main` run in-process) leaves the
root logger as it found it: later tests do not log into the first one's closed capture."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_a_handler_installed_by_one_test_is_gone_in_the_next(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import logging

        from inference_common.logging import configure_logging

        def test_installs_the_handler():
            configure_logging("INFO")
            logging.getLogger("first").info("from the first test")

        def test_logs_afterwards():
            logging.getLogger("second").warning("from the second test")
            assert logging.getLogger().level != logging.INFO
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function"
    )
    result.assert_outcomes(passed=2)
    assert "Logging error" not in result.stderr.str()
