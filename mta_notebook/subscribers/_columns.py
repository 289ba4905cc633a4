"""Which source column is which: the header names lists use, snake_case, cells as text.

>>> _snake("Mobile Phone#"), _snake("firstName")
('mobile_phone', 'first_name')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

import pandas as pd

from .._errors import SubscriberLoadError
from ..contract.phones import _to_text

# Usual header names (after snake_case), most specific first.
PHONE_NAMES: Final = (
    "phone",
    "phone_number",
    "mobile",
    "mobile_number",
    "mobile_phone",
    "mobile_phone_number",
    "cell",
    "cell_phone",
    "cellphone",
    "cell_number",
    "e164_number",
    "e164",
    "msisdn",
    "sms",
    "sms_number",
    "number",
    "telephone",
    "tel",
    "contact_number",
)


EMAIL_NAMES: Final = ("email", "e_mail", "email_address", "mail")


FIRST_NAMES: Final = ("first_name", "firstname", "first", "given_name", "fname", "forename")


LAST_NAMES: Final = ("last_name", "lastname", "last", "surname", "family_name", "lname")


ID_NAMES: Final = ("subscriber_id",)


# Written by load_subscribers; a source column with one of these names is kept as "<name>_source".
RESERVED: Final = (
    "phone",
    "email",
    "first_name",
    "last_name",
    "subscriber_id",
    "source_row",
    "region",
    "timezone",
    "timezones",
)


PLACEHOLDERS: Final = frozenset(
    {"n/a", "na", "n.a.", "none", "null", "nil", "nan", "-", "--", "---", "?", "unknown", "tbd"}
)


def _snake(name: Any) -> str:
    text = str(name).strip()
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    text = re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_").lower()
    return text or "column"


def unique_names(names: Iterable[str]) -> list[str]:
    """Names made unique: a repeated ``a`` becomes ``a_2``, ``a_3``...

    >>> unique_names(["a", "b", "a", "a"])
    ['a', 'b', 'a_2', 'a_3']
    """
    out: list[str] = []
    seen: set[str] = set()
    for base in names:
        name, k = base, 1
        while name in seen:
            k += 1
            name = f"{base}_{k}"
        out.append(name)
        seen.add(name)
    return out


def _pick(columns: Sequence[str], snake: Sequence[str], names: Sequence[str]) -> str | None:
    for name in names:
        for col, s in zip(columns, snake, strict=True):
            if s == name:
                return col
    return None


def _find_phone(columns: Sequence[str], snake: Sequence[str]) -> str | None:
    found = _pick(columns, snake, PHONE_NAMES)
    if found is not None:
        return found
    for word in ("phone", "mobile", "cell", "msisdn"):
        for col, s in zip(columns, snake, strict=True):
            if word in s.split("_") or s.startswith(word):
                return col
    return None


def _given(col: str | None, columns: Sequence[str], snake: Sequence[str], where: str) -> str | None:
    if col is None:
        return None
    if col in columns:
        return col
    for c, s in zip(columns, snake, strict=True):
        if s == _snake(col):
            return c
    raise SubscriberLoadError(f"{where}: no column {col!r}. Columns found: {list(columns)}.")


def _text_column(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.StringDtype):
        return values.astype("string")
    out = [_to_text(v) for v in values.tolist()]
    text: pd.Series = pd.Series(pd.array(out, dtype="string"), index=values.index)
    return text
