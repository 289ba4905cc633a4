"""Message checks: what a filled text costs (encoding, segments, credits), and the templates.

The counting rules are the contract's (``contract.segments``, ``contract.limits``); this module
applies them to one text (:func:`check_message`) or, vectorised, to a whole recipient list, and
fills ``{{placeholder}}`` templates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from .._errors import CampaignError
from ..contract.assumptions import SMS_OVER_160, SmsOver160
from ..contract.limits import MMS_CREDITS, MMS_MAX_CHARS, SMS_CREDITS, SMS_MAX_CHARS
from ..contract.segments import (
    GSM7_BASIC,
    GSM7_EXTENDED,
    SEGMENT_UNITS,
    Encoding,
    cut_to_save,
    encoding,
    segments,
    units,
)

__all__ = ["GSM7_BASIC", "GSM7_EXTENDED", "MessageCheck", "check_message"]

_SMS_OVER_160_VALUES: Final = ("segments", "reject")
PLACEHOLDER: Final = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
E164: Final = re.compile(r"^\+[1-9][0-9]{6,14}$")


@dataclass(frozen=True)
class MessageCheck:
    """What one filled message costs: encoding, length, segments and credits.

    ``ucs2_chars`` lists the characters that force UCS-2 (70/67 characters per segment instead of
    160/153); replacing them (curly quotes, emoji, dashes) often halves the credits.
    """

    text: str
    encoding: Encoding
    length: int
    segments: int
    credits: int
    ucs2_chars: tuple[str, ...]
    too_long: bool
    limit: int  # the most characters this message may have (SMS 160, or MMS / split SMS 1,550)
    split: bool  # billed per segment (MMS never; SMS when the account splits long texts)

    @property
    def hint(self) -> str:
        """What to change to pay less, in words; empty when nothing small would.

        >>> check_message("x" * 163).hint
        'cut 3 characters: SMS allows 160'
        >>> check_message("Hi Ann, 20% off ✨ " + "x" * 60, sms_over_160="segments").hint
        'replace ✨ (not GSM-7) to use 1 segment instead of 2'
        """
        if self.too_long:
            over = len(self.text) - self.limit
            kind = "SMS" if self.limit <= SMS_MAX_CHARS else "a message"
            return f"cut {_chars(over)}: {kind} allows {self.limit:,}"
        if not self.split or self.segments == 1:
            return ""
        if self.ucs2_chars:
            plain = segments("".join(ch for ch in self.text if ch not in self.ucs2_chars))
            if plain < self.segments:
                chars = " ".join(self.ucs2_chars)
                return (
                    f"replace {chars} (not GSM-7) to use {_segs(plain)} instead of {self.segments}"
                )
        cut = cut_to_save(self.text)
        if cut is None:
            return ""
        return f"cut {_chars(cut)} to use {_segs(self.segments - 1)} instead of {self.segments}"


def _chars(n: int) -> str:
    return f"{n} character{'s' * (n != 1)}"


def _segs(n: int) -> str:
    return f"{n} segment{'s' * (n != 1)}"


def _gsm_units(ch: str) -> int:
    """Septets for one character in GSM-7 (0 when it is not GSM-7)."""
    if ch in GSM7_BASIC:
        return 1
    if ch in GSM7_EXTENDED:
        return 2
    return 0


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def sms_over_160_mode(value: str) -> SmsOver160:
    """``value`` checked as an ``sms_over_160`` choice."""
    if value == "segments":
        return "segments"
    if value == "reject":
        return "reject"
    raise CampaignError(
        f"sms_over_160 must be one of {_SMS_OVER_160_VALUES}, got {value!r}: 'reject' (MTA's "
        "developer docs: an SMS is 160 characters) or 'segments' (the account splits longer "
        "SMS into billed segments)."
    )


def max_chars(mms: bool, sms_over_160: SmsOver160) -> int:
    """The longest text MTA takes: 1,550 for MMS (and split SMS), else one SMS of 160."""
    return MMS_MAX_CHARS if mms or sms_over_160 == "segments" else SMS_MAX_CHARS


def segment_counts(is_gsm: np.ndarray[Any, Any], length: np.ndarray[Any, Any]) -> Any:
    """Segments per message from its encoding and length in units (``SEGMENT_UNITS``): exact
    for a text without two-unit characters (GSM-7 extension characters, UCS-2 surrogate
    pairs); a longer text with them is counted by ``contract.segments.segments``."""
    out = np.ones(len(length), dtype=np.int64)
    for enc, mask in (("GSM-7", is_gsm), ("UCS-2", ~is_gsm)):
        single, multi = SEGMENT_UNITS[enc]
        long = mask & (length > single)
        out[long] = np.ceil(length[long] / multi).astype(np.int64)
    return out


def credits_of(mms: bool, sms_over_160: SmsOver160, segments: np.ndarray[Any, Any]) -> Any:
    """Credits per message: an MMS 3, an SMS 1, or 1 per segment when the account splits long
    SMS (``contract.limits``)."""
    if mms:
        return np.full_like(segments, MMS_CREDITS)
    if sms_over_160 == "segments":
        return segments * SMS_CREDITS
    return np.full_like(segments, SMS_CREDITS)


def check_message(
    text: str, *, mms: bool = False, sms_over_160: SmsOver160 = SMS_OVER_160
) -> MessageCheck:
    """Encoding, segments and credits of one message as MTA would bill it.

    Parameters
    ----------
    text
        The message as the recipient gets it (placeholders filled).
    mms
        True when it goes as MMS (an image or ``isMMS``): 3 credits, up to 1,550 characters.
    sms_over_160
        What the account does with an SMS over 160 characters
        (``contract.assumptions.SMS_OVER_160``): ``"reject"``, as MTA's developer docs say
        (400 "Character Limit Exceeded"; such a text is ``too_long``, any other is 1 credit),
        or ``"segments"`` (split into segments, each billed).

    Examples
    --------
    >>> check_message("Hi Ann, 20% off today!").segments
    1
    >>> c = check_message("Hi Ann, 20% off today ✨")
    >>> c.encoding, c.ucs2_chars
    ('UCS-2', ('✨',))
    >>> check_message("x" * 161).too_long
    True
    >>> long = check_message("x" * 161, sms_over_160="segments")
    >>> long.too_long, long.segments, long.credits
    (False, 2, 2)
    """
    mode = sms_over_160_mode(sms_over_160)
    count = segments(text)
    return MessageCheck(
        text=text,
        encoding=encoding(text),
        length=units(text),
        segments=count,
        credits=int(credits_of(mms, mode, np.array([count]))[0]),
        ucs2_chars=tuple(dict.fromkeys(ch for ch in text if _gsm_units(ch) == 0)),
        too_long=len(text) > max_chars(mms, mode),
        limit=max_chars(mms, mode),
        split=not mms and mode == "segments",
    )


# -- templates -------------------------------------------------------------------------------


def split_template(message: str) -> tuple[list[str], list[str]]:
    """Literal parts and placeholder names: ``lits[0] name[0] lits[1] ... lits[-1]``."""
    lits: list[str] = []
    names: list[str] = []
    pos = 0
    for m in PLACEHOLDER.finditer(message):
        lits.append(message[pos : m.start()])
        names.append(m.group(1))
        pos = m.end()
    lits.append(message[pos:])
    return lits, names


def fill(message: str, values: Mapping[str, Any]) -> str:
    """``message`` with each placeholder replaced by its value (unknown ones left as they are).

    >>> fill("Hi {{ first_name }}, {{code}}", {"first_name": "Ann"})
    'Hi Ann, {{code}}'
    """
    return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), message)


def snake(name: str) -> str:
    """The snake_case column a camelCase placeholder reads (``firstName`` -> ``first_name``)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


# -- vectorised facts ------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueFacts:
    """Per-value facts for vectorised checks: GSM septets (-1: not GSM), UTF-16 units, chars,
    the characters that force UCS-2, and the factorised values (``codes`` into ``uniques``)."""

    gsm: np.ndarray[Any, Any]
    utf16: np.ndarray[Any, Any]
    chars: np.ndarray[Any, Any]
    bad: dict[str, tuple[str, ...]]
    codes: np.ndarray[Any, Any]
    uniques: np.ndarray[Any, Any]


def value_facts(values: np.ndarray[Any, Any] | pd.Series) -> ValueFacts:
    """The facts of every value, computed once per distinct value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    gsm_u = np.empty(len(uniques), dtype=np.int64)
    utf_u = np.empty(len(uniques), dtype=np.int64)
    len_u = np.empty(len(uniques), dtype=np.int64)
    bad: dict[str, tuple[str, ...]] = {}
    for i, v in enumerate(uniques):
        s = str(v)
        per_char = [_gsm_units(ch) for ch in s]
        b = tuple(dict.fromkeys(ch for ch, u in zip(s, per_char, strict=True) if u == 0))
        gsm_u[i] = -1 if b else sum(per_char)
        utf_u[i] = _utf16_units(s)
        len_u[i] = len(s)
        if b:
            bad[s] = b
    return ValueFacts(
        gsm=gsm_u[codes],
        utf16=utf_u[codes],
        chars=len_u[codes],
        bad=bad,
        codes=codes,
        uniques=np.asarray(uniques, dtype=object),
    )


def clean_strings(col: pd.Series) -> pd.Series:
    """A column as stripped strings (Arrow string kernels), NA where missing or blank."""
    text = col.astype("string").str.strip()
    return text.mask(text == "")
