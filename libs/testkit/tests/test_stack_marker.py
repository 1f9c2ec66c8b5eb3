"""The `stack` marker: `-m "not stack"` keeps the unit tests and never sets the stack up."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_tests_reaching_the_stack_are_marked_and_deselected(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture(scope="session")
        def stack_env():  # stands in for the plugin's: this run never starts a stack
            raise AssertionError("set up although deselected")

        @pytest.fixture
        def built_on_the_stack(stack_env):
            return stack_env

        def test_pure():
            assert 1 + 1 == 2

        def test_direct(stack_env):
            raise AssertionError("ran although it needs the stack")

        def test_indirect(built_on_the_stack):
            raise AssertionError("ran although it needs the stack")

        def test_through_kube_api(kube_api):
            raise AssertionError("ran although it needs the stack")

        @pytest.mark.stack
        def test_marked_by_hand():
            raise AssertionError("ran although it is marked")
        """
    )
    result = pytester.runpytest(
        "-m",
        "not stack",
        "-p",
        "no:cacheprovider",
        "--strict-markers",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
    )
    result.assert_outcomes(passed=1, deselected=4)


def test_without_the_filter_the_stack_tests_are_selected(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture(scope="session")
        def stack_env():
            pytest.skip("stands in for the stack")

        def test_direct(stack_env):
            pass

        def test_pure():
            pass
        """
    )
    result = pytester.runpytest(
        "-m", "stack", "-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function"
    )
    result.assert_outcomes(skipped=1, deselected=1)


def test_the_marker_is_registered(pytestconfig: pytest.Config) -> None:
    assert any(line.startswith("stack:") for line in pytestconfig.getini("markers"))
