"""Every docstring example in the package runs, with ``client`` bound to a sandbox Client.

Examples may use ``client`` (a :class:`mta_notebook.Client` on a fresh sandbox) and
``sandbox_url``; they never need ``+SKIP`` to avoid a network.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import mta_notebook

ROOT = Path(__file__).resolve().parents[1]


class _Finder(doctest.DocTestFinder):
    """Also finds the examples of public classes whose ``__module__`` is ``mta_notebook``."""

    def _from_module(self, module: ModuleType | None, object: object) -> bool:
        if module is None:
            return True
        try:
            return inspect.getsourcefile(object) == inspect.getsourcefile(module)  # type: ignore[arg-type]
        except TypeError:
            return super()._from_module(module, object)  # type: ignore[misc]


def _with_examples() -> list[str]:
    names = (
        info.name
        for info in pkgutil.walk_packages(mta_notebook.__path__, "mta_notebook.")
        if info.name != "mta_notebook.__main__"
    )
    return sorted(
        name
        for name in names
        if any(t.examples for t in _Finder().find(importlib.import_module(name), name))
    )


@pytest.fixture(scope="module")
def globs(start_module_sandbox: Any) -> Iterator[dict[str, Any]]:
    sb = start_module_sandbox(seed=3, time_scale=1000)
    with mta_notebook.Client(api_key=sb.api_key, base_url=sb.base_url) as client:
        yield {"client": client, "sandbox_url": sb.base_url}


@pytest.mark.parametrize("name", _with_examples())
def test_examples_run(name: str, globs: dict[str, Any], monkeypatch: Any) -> None:
    monkeypatch.chdir(ROOT)  # examples read the samples in data/
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = doctest.DocTestRunner(optionflags=flags)
    for test in _Finder().find(module, name, globs={**vars(module), **globs}):
        runner.run(test, out=lambda text: None)
    failures = runner.summarize(verbose=False).failed
    if failures:  # run again to print what went wrong
        report: list[str] = []
        for test in _Finder().find(module, name, globs={**vars(module), **globs}):
            doctest.DocTestRunner(optionflags=flags).run(test, out=report.append)
        pytest.fail("".join(report))
