"""Counts and shares in text people read: ``1 recipient``, ``1,204 credits``, ``95.6 % (43/45)``.

>>> count(1, "recipient"), count(1204, "credit"), count(0, "chunk")
('1 recipient', '1,204 credits', '0 chunks')
>>> count(2, "message", "answered STOP"), count(2, "identity", plural="identities")
('2 messages answered STOP', '2 identities')
>>> f"{count(1, 'chunk')} {verb(1, 'is', 'are')} planned"
'1 chunk is planned'
"""

from __future__ import annotations

from typing import Any, Final, cast

import pandas as pd

__all__ = ["DASH", "count", "missing", "percent", "verb"]

#: What a cell or a figure with no value reads.
DASH: Final = "–"


def count(n: int, noun: str, rest: str = "", *, plural: str | None = None) -> str:
    """``n`` with ``noun`` in the singular for exactly one, else ``plural`` (default: an
    ``s`` added); then ``rest``."""
    word = noun if n == 1 else (plural or f"{noun}s")
    text = f"{n:,} {word}"
    return f"{text} {rest}" if rest else text


def verb(n: int, one: str, many: str) -> str:
    """The verb form agreeing with ``n`` things: ``one`` for exactly one, else ``many``."""
    return one if n == 1 else many


def missing(value: object) -> bool:
    # a list or an array in a cell is not one missing value: only scalars are asked
    return value is None or bool(pd.api.types.is_scalar(value) and pd.isna(cast("Any", value)))


def percent(
    value: Any,
    n: Any = None,
    total: Any = None,
    low: Any = None,
    high: Any = None,
) -> str:
    """A fraction as people read it: ``95.6 %``, with ``(n/N)`` and ``[low-high]`` when given.

    >>> percent(0.892683), percent(43 / 45, 43, 45, 0.85, 0.99), percent(float("nan"))
    ('89.3 %', '95.6 % (43/45) [85-99]', '–')
    """
    if missing(value):
        return DASH
    text = f"{100 * float(value):.1f} %"
    if not missing(n) and not missing(total):
        text += f" ({int(n):,}/{int(total):,})"
    if not missing(low) and not missing(high):
        text += f" [{100 * float(low):.0f}-{100 * float(high):.0f}]"
    return text
