"""Benchmark figures printed by tests (e.g. the browser's redraw time), shown in the terminal
summary so a CI log keeps them: pytest captures a passing test's own output."""

from __future__ import annotations

LINES: list[str] = []


def report(line: str) -> None:
    """Keep ``line`` for the end of the run (and print it, for ``pytest -s``)."""
    LINES.append(line)
    print(line, flush=True)
