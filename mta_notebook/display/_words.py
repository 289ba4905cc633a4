"""Counted nouns in text people read: ``1 recipient``, ``2 recipients``, ``1,204 credits``.

>>> count(1, "recipient"), count(1204, "credit"), count(0, "chunk")
('1 recipient', '1,204 credits', '0 chunks')
>>> count(2, "message", "answered STOP"), count(2, "identity", plural="identities")
('2 messages answered STOP', '2 identities')
>>> f"{count(1, 'chunk')} {verb(1, 'is', 'are')} planned"
'1 chunk is planned'
"""

from __future__ import annotations

__all__ = ["count", "verb"]


def count(n: int, noun: str, rest: str = "", *, plural: str | None = None) -> str:
    """``n`` with ``noun`` in the singular for exactly one, else ``plural`` (default: an
    ``s`` added); then ``rest``."""
    word = noun if n == 1 else (plural or f"{noun}s")
    text = f"{n:,} {word}"
    return f"{text} {rest}" if rest else text


def verb(n: int, one: str, many: str) -> str:
    """The verb form agreeing with ``n`` things: ``one`` for exactly one, else ``many``."""
    return one if n == 1 else many
