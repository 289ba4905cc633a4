"""Shared fixtures: a clean environment for every test, and the one way tests start a sandbox."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

StartSandbox = Callable[..., Any]


@pytest.fixture(autouse=True)
def _clean_mta_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's own MTA_* settings (or sends with their key)."""
    for name in list(os.environ):
        if name.startswith("MTA_"):
            monkeypatch.delenv(name)


def _starter(stack: contextlib.ExitStack) -> StartSandbox:
    from mta_notebook import sandbox

    def start(**options: Any) -> Any:
        """A running sandbox (``sandbox.running(**options)``), stopped when the scope ends."""
        return stack.enter_context(sandbox.running(**options))

    return start


@pytest.fixture
def start_sandbox() -> Iterator[StartSandbox]:
    """Start real sandbox servers on loopback ports; each is stopped when the test ends."""
    with contextlib.ExitStack() as stack:
        yield _starter(stack)


@pytest.fixture(scope="module")
def start_module_sandbox() -> Iterator[StartSandbox]:
    """Like ``start_sandbox``, for a sandbox shared by the tests of one module."""
    with contextlib.ExitStack() as stack:
        yield _starter(stack)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The benchmark figures tests measured (tests/_benchmarks.py), at the end of the log."""
    from tests._benchmarks import LINES

    if LINES:
        terminalreporter.section("benchmark figures")
        for line in LINES:
            terminalreporter.write_line(line)
