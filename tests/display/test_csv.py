"""safe_csv: the one CSV writer; a cell that would start a formula is written as text."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from mta_notebook.display import safe_csv
from mta_notebook.display._csv import FORMULA_STARTS, safe_cell

HOSTILE = (
    '=HYPERLINK("http://x")',
    "+cmd|' /C calc'!A0",
    "@SUM(1)",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
)


def _read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("value", HOSTILE)
def test_a_formula_cell_gets_a_leading_quote_and_keeps_its_text(value: str) -> None:
    df = pd.DataFrame({"identity": [value], "external_id": pd.Series([value], dtype="string")})
    rows = _read(safe_csv(df))
    assert rows[1] == [f"'{value}", f"'{value}"]


def test_zero_cells_start_a_formula_in_any_column_or_header() -> None:
    df = pd.DataFrame(
        {
            "phone": ["+13125550123", "3125550124", None],
            "identity": list(HOSTILE[:3]),
            "error": list(HOSTILE[3:6]),
            "=campaign_id": [HOSTILE[6], "ok", "fine, really"],
        }
    )
    rows = _read(safe_csv(df))
    assert [c for row in rows for c in row if c.startswith(FORMULA_STARTS)] == []
    assert rows[0][3] == "'=campaign_id"


def test_phones_are_text_for_excel() -> None:
    df = pd.DataFrame({"phone": ["+13125550123", "3125550124", None, "0044123"]})
    rows = _read(safe_csv(df))
    assert [r[0] for r in rows[1:]] == ["'+13125550123", "'3125550124", "", "'0044123"]


def test_numbers_and_missing_values_are_written_as_values() -> None:
    df = pd.DataFrame(
        {
            "n": pd.Series([-2, 5, None], dtype="Int64"),
            "rate": [-0.5, np.nan, 1.0],
            "ok": [True, False, True],
            "at": pd.to_datetime(["2026-01-01 10:00", None, "2026-01-02 00:00"], utc=True),
            "note": ["a,b", 'say "hi"', "two\nlines"],
        }
    )
    rows = _read(safe_csv(df))
    assert rows[1] == ["-2", "-0.5", "True", "2026-01-01 10:00:00+00:00", "a,b"]
    assert rows[2] == ["5", "", "False", "", 'say "hi"']
    assert rows[3][4] == "two\nlines"
    assert safe_cell(-2) == -2
    assert safe_cell(pd.NA) is pd.NA


def test_no_csv_is_written_in_the_package_but_through_safe_csv() -> None:
    from pathlib import Path

    import mta_notebook

    root = Path(mta_notebook.__file__).parent
    writers = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "_csv.py"
        and any(w in path.read_text(encoding="utf-8") for w in (".to_csv(", "csv.writer("))
    ]
    assert writers == []
