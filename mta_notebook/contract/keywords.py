"""Opt-out and opt-in keywords, and the one way a reply is reduced to a keyword.

MTA's developer pages do not list the keywords it honours; these are the carrier-standard
opt-out and opt-in words (CTIA messaging principles: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END,
QUIT; START, UNSTOP), plus OPTOUT and YES, which the sandbox and the loaders have always
accepted. An assumption, listed in the README.

A reply is a keyword when, upper-cased with every character that is not a letter A-Z removed,
it is one of the words: ``"Stop."``, ``" stop "``, ``"OPT OUT"`` and ``"Stop all"`` all count.
The same rule runs in Python (:func:`keyword_of`), pandas and SQL (``KEYWORD_DROP_PATTERN``).

>>> keyword_of("Stop."), keyword_of("opt out"), keyword_of("Thanks!")
('STOP', 'OPTOUT', None)
>>> is_stop("  stop all "), is_start("Yes!")
(True, True)
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "KEYWORD_DROP_PATTERN",
    "START_WORDS",
    "STOP_WORDS",
    "is_start",
    "is_stop",
    "keyword_of",
    "normalize_keyword",
]

STOP_WORDS: Final[frozenset[str]] = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT"}
)
START_WORDS: Final[frozenset[str]] = frozenset({"START", "UNSTOP", "YES"})
#: Applied to the upper-cased text, every match is deleted (a regex RE2 and Python agree on).
KEYWORD_DROP_PATTERN: Final = "[^A-Z]+"
_DROP: Final = re.compile(KEYWORD_DROP_PATTERN)


def normalize_keyword(text: object) -> str:
    """The text as the keyword rule sees it: upper case, letters A-Z only."""
    if not isinstance(text, str):
        return ""
    return _DROP.sub("", text.upper())


def keyword_of(text: object) -> str | None:
    """The STOP or START keyword a reply is, else ``None``."""
    word = normalize_keyword(text)
    return word if word in STOP_WORDS or word in START_WORDS else None


def is_stop(text: object) -> bool:
    """Whether a reply is an opt-out keyword."""
    return normalize_keyword(text) in STOP_WORDS


def is_start(text: object) -> bool:
    """Whether a reply is an opt-in keyword."""
    return normalize_keyword(text) in START_WORDS
