"""How an SMS body is counted: GSM-7 or UCS-2, its length in units, its segments and credits.

MTA documents an SMS as 160 characters and 1 credit, an MMS as 3 credits
(``/tutorials/message-sending/send-an-sms-message``, ``send-an-mms-message``; see
:mod:`.limits`). Whether a longer SMS is split into billed segments or refused is not stated
(``assumptions.SMS_OVER_160``). Where it is split, the split is the carriers' standard
(3GPP TS 23.038 / 23.040): GSM-7 bodies take 160 septets in one segment and 153 per segment
when concatenated, the two-septet extension characters counting twice; anything else goes as
UCS-2, 70 UTF-16 units in one segment and 67 per segment. A concatenated message is packed
greedily and never splits a character: an escape sequence (GSM-7, TS 23.040 §9.2.3.24.1) or a
surrogate pair (UCS-2, an emoji) that does not fit in a segment starts the next one, so
``"[" * 153`` is 3 segments, not 2. Checked against Twilio's ``sms-segments-calculator``
(``tests/contract/oracles/``).

>>> encoding("Hi Ann, 20% off!"), encoding("Hi Ann ✨")
('GSM-7', 'UCS-2')
>>> segments("x" * 160), segments("x" * 161), segments("{" * 80), segments("{" * 81)
(1, 2, 1, 2)
>>> segments("a" * 152 + "€" + "a" * 152), segments("[" * 153), segments("😀" * 67)
(3, 3, 3)
>>> credits("x" * 161, mms=False), credits("x" * 161, mms=True)
(2, 3)
"""

from __future__ import annotations

from typing import Final, Literal

from .limits import MMS_CREDITS, SMS_CREDITS

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENDED",
    "SEGMENT_UNITS",
    "Encoding",
    "credits",
    "cut_to_save",
    "encoding",
    "segments",
    "units",
]

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The GSM-7 extension table: each character costs two septets (escape + character).
GSM7_EXTENDED: Final = frozenset("^{}\\[~]|€\f")
#: Units in one segment alone, and per segment of a concatenated message.
SEGMENT_UNITS: Final = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


def encoding(text: str) -> Encoding:
    """``GSM-7`` when every character is in the GSM-7 tables, else ``UCS-2``."""
    return "GSM-7" if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text) else "UCS-2"


def units(text: str) -> int:
    """Length in the encoding's units: septets for GSM-7, UTF-16 code units for UCS-2."""
    if encoding(text) == "GSM-7":
        return len(text) + sum(ch in GSM7_EXTENDED for ch in text)
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    """Segments of one SMS body (at least 1); a character never straddles two segments."""
    enc = encoding(text)
    single, multi = SEGMENT_UNITS[enc]
    if units(text) <= single:
        return 1
    wide = GSM7_EXTENDED if enc == "GSM-7" else None
    count, used = 1, 0
    for ch in text:
        cost = (2 if ch in wide else 1) if wide is not None else (2 if ch > "\uffff" else 1)
        if used + cost > multi:
            count, used = count + 1, 0
        used += cost
    return count


def cut_to_save(text: str, *, most: int = 10) -> int | None:
    """The fewest characters to cut from the end of a multi-segment ``text`` so it takes one
    segment fewer; ``None`` when more than ``most`` would be needed (or it is one segment).

    >>> cut_to_save("x" * 163), cut_to_save("x" * 200), cut_to_save("x" * 100)
    (3, None, None)
    """
    count = segments(text)
    if count == 1:
        return None
    for cut in range(1, min(most, len(text) - 1) + 1):
        if segments(text[:-cut]) < count:
            return cut
    return None


def credits(text: str, *, mms: bool) -> int:
    """Credits of one message split into segments: MMS a flat rate, SMS per segment."""
    return MMS_CREDITS if mms else SMS_CREDITS * segments(text)
