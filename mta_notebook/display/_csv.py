"""safe_csv(): the one way the toolkit writes a CSV, safe to open in a spreadsheet.

Names, ids and error texts come from users' files, from webhooks and from the API: a cell
such as ``=HYPERLINK("http://x")`` or ``+cmd|' /C calc'!A0`` runs as a formula when the CSV
is opened in Excel, LibreOffice or Google Sheets (CSV injection). Every text cell that would
start a formula gets a leading ``'`` (the OWASP rule): the spreadsheet shows it as text.

Phones are written as text by the same rule. An E.164 phone starts with ``+``, so it is
escaped to ``'+13125550123``: Excel keeps the ``+`` and every digit instead of reading a number
(``13125550123``, shown as ``1.31E+10``). The usual alternatives are no good here:
``="+13125550123"`` is itself a formula (what this module exists to prevent), and a leading
tab is one of the characters that must be escaped. A phone column's bare digits
(``3125550123``) get the ``'`` too, for the same reason.

>>> import pandas as pd
>>> safe_csv(pd.DataFrame({"phone": ["+13125550123"], "name": ["=1+1"], "n": [-2]})).splitlines()
['phone,name,n', "'+13125550123,'=1+1,-2"]
"""

from __future__ import annotations

import numbers
from collections.abc import Collection
from typing import Any, Final, cast

import pandas as pd

__all__ = ["FORMULA_STARTS", "PHONE_COLUMNS", "safe_cell", "safe_csv"]

#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
#: Columns written as text whatever they hold (phones: Excel drops the ``+`` of a number).
PHONE_COLUMNS: Final = frozenset({"phone", "phones", "number", "phone_number"})


def safe_cell(value: object, *, text: bool = False) -> object:
    """``value`` as written to a CSV cell: a text that would start a formula gets a ``'``.

    Numbers stay numbers (``-2`` is a value, not a formula); missing values stay empty.
    ``text=True`` (a phone column) writes any value as text with a leading ``'``.

    >>> safe_cell("@SUM(1)"), safe_cell(" =1"), safe_cell(-2), safe_cell("3125550123", text=True)
    ("'@SUM(1)", "' =1", -2, "'3125550123")
    """
    if value is None or (not isinstance(value, str) and _missing(value)):
        return value
    if isinstance(value, numbers.Number) and not isinstance(value, bool) and not text:
        return value
    cell = str(value)
    # spreadsheets skip leading spaces before they look for "=": so does this check
    if text or cell.lstrip(" ").startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def _missing(value: object) -> bool:
    # a list or an array in a cell is not one missing value: only scalars are asked
    return bool(pd.api.types.is_scalar(value) and pd.isna(cast("Any", value)))


def safe_csv(df: pd.DataFrame, *, text_columns: Collection[str] = PHONE_COLUMNS) -> str:
    """``df`` as CSV text (no index) with every cell passed through :func:`safe_cell`.

    Columns named in ``text_columns`` (phones by default) are written as text. Lines end in
    ``\r\n`` (RFC 4180, as Excel writes them): the csv module then quotes a cell holding a lone
    ``\r``, which a ``\n`` file would leave bare and break the row.
    """
    out = pd.DataFrame(index=df.index)
    for i, name in enumerate(df.columns):
        text = str(name) in text_columns
        out[i] = [safe_cell(v, text=text) for v in df.iloc[:, i].astype("object")]
    out.columns = [str(safe_cell(str(c))) for c in df.columns]
    csv: str = out.to_csv(index=False, lineterminator="\r\n")
    return csv
