"""phones: the vectorised path must answer exactly what phonenumbers answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mta_notebook.contract.phones import (
    _nanp,
    normalize_phone,
    normalize_phones,
    parse_phones,
)


def oracle(value: str, region: str | None = "US") -> str | None:
    try:
        num = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def as_list(series: pd.Series) -> list[str | None]:
    return [None if pd.isna(v) else str(v) for v in series.tolist()]


# (input, expected E.164 or None, decided by the fast path?)
CASES = [
    ("(312) 555-0123", "+13125550123", True),
    ("312-555-0123", "+13125550123", True),
    ("312.555.0123", "+13125550123", True),
    ("312 555 0123", "+13125550123", True),
    ("3125550123", "+13125550123", True),
    ("  312 555 0123  ", "+13125550123", True),
    ("312/555-0123", "+13125550123", True),
    ("+13125550123", "+13125550123", True),
    ("+1 312 555 0123", "+13125550123", True),
    ("+1 (312) 555-0123", "+13125550123", True),
    ("+1-312-555-0123", "+13125550123", True),
    ("13125550123", "+13125550123", True),
    ("1-312-555-0123", "+13125550123", True),
    ("1 (312) 555-0123", "+13125550123", True),
    ("312-555-0123 x45", "+13125550123", True),
    ("312-555-0123 ext. 45", "+13125550123", True),
    ("(312) 555-0123 EXT 9", "+13125550123", True),
    ("312-555-0123 extension 7", "+13125550123", True),
    ("268 464 1234", "+12684641234", True),  # Antigua: leading digits 268
    ("809 221 1234", "+18092211234", True),  # Dominican Republic
    ("+1 800 555 0199", "+18005550199", True),  # toll free
    ("123-456-7890", None, False),  # starts with 1: phonenumbers decides
    ("212-055-0123", None, True),  # exchange 0xx
    ("312-555-012", None, True),  # 9 digits
    ("+1 312 555 01234", None, False),  # 11 digits after +1: phonenumbers decides
    ("1 1 312 555 0123", "+13125550123", False),  # phonenumbers strips both 1s
    ("555-0123", None, False),  # 7 digits: could be a local number
    ("310-1234", "+13101234", False),  # valid: a Canadian 7-digit UAN (310-xxxx)
    ("000-000-0000", None, False),
    ("0", None, False),
    ("N/A", None, False),
    ("unknown", None, False),
    ("1.31256E+10", None, False),  # Excel: phonenumbers reads the digits 13125610
    ("1.31255501E10", "+13125550110", False),  # ...and these as another number
    ("tel:+1-312-555-0123", "+13125550123", True),
    ("TEL:312.555.0123", "+13125550123", True),
    ("tel:+1-312-555-012", None, True),
    ("tel:+44 20 7946 0958", "+442079460958", False),
    ("1-800-FLOWERS", "+18003569377", False),
    ("+44 20 7946 0958", "+442079460958", False),
    ("+61 491 570 156", "+61491570156", False),
    ("00 44 20 7946 0958", None, False),
    ("011 44 20 7946 0958", "+442079460958", False),
    ("３１２５５５０１２３", "+13125550123", False),  # full-width digits
]


@pytest.mark.parametrize(("value", "expected", "fast"), CASES)
def test_table(value: str, expected: str | None, fast: bool) -> None:
    assert oracle(value) == expected  # the table itself agrees with phonenumbers
    assert normalize_phone(value) == expected
    frame = parse_phones([value])
    assert as_list(frame["phone"]) == [expected]
    assert bool(frame["fast"].iloc[0]) is fast
    assert bool(frame["valid"].iloc[0]) is (expected is not None)
    if expected is None:
        assert isinstance(frame["detail"].iloc[0], str)


def test_whole_table_at_once_in_every_container() -> None:
    values = [c[0] for c in CASES]
    expected = [c[1] for c in CASES]
    assert as_list(normalize_phones(values)) == expected
    assert as_list(normalize_phones(pd.Series(values, dtype="str"))) == expected
    assert as_list(normalize_phones(pd.Series(values, dtype=object))) == expected
    assert as_list(normalize_phones(pa.array(values))) == expected
    assert as_list(normalize_phones(np.array(values, dtype=object))) == expected


def test_missing_values_and_numbers() -> None:
    frame = parse_phones(
        [None, "", "   ", float("nan"), 3125550123, 3125550123.0, np.int64(13125550123)]
    )
    assert as_list(frame["phone"]) == [None, None, None, None, *["+13125550123"] * 3]
    assert frame["missing"].tolist() == [True, True, True, True, False, False, False]


@pytest.mark.parametrize(
    "values",
    [
        ["3125550123", None],
        ["3125550123", ""],
        ["", "3125550123", "", ""],
        [None, "415 555 0134 x2", None],
        ["+13125550123", " ", "4155550134", None],
    ],
)
def test_empty_rows_anywhere(values: list[str | None]) -> None:
    assert as_list(normalize_phones(values)) == [None if v is None else oracle(v) for v in values]


def test_index_kept_and_columns() -> None:
    series = pd.Series(["312-555-0123", "+44 20 7946 0958"], index=[10, 20])
    frame = parse_phones(series)
    assert frame.index.tolist() == [10, 20]
    assert frame["region"].tolist() == ["US", "GB"]
    assert list(frame.columns) == ["phone", "region", "valid", "missing", "fast", "detail"]


def test_default_region_matters_only_without_plus() -> None:
    assert as_list(normalize_phones(["020 7946 0958", "+1 312 555 0123"], default_region="GB")) == [
        "+442079460958",
        "+13125550123",
    ]
    frame = parse_phones(["3125550123", "+13125550123"], None)
    assert as_list(frame["phone"]) == [None, "+13125550123"]
    assert frame["fast"].tolist() == [False, True]


def test_input_longer_than_phonenumbers_accepts() -> None:
    value = " " * 250 + "3125550123"
    assert oracle(value) is None
    assert as_list(normalize_phones([value])) == [None]


def test_metadata_assumptions_hold() -> None:
    nanp = _nanp()
    assert nanp.ok
    assert nanp.regions[0] == "US"
    assert {7, 10} >= nanp.valid_lengths


# -- hypothesis: fast path == oracle on NANP-ish strings ---------------------------------------

SEP = st.sampled_from(["", " ", "-", ".", "/", "  ", " - "])
DIGITS = st.text("0123456789", min_size=1, max_size=5)
PREFIX = st.sampled_from(
    [
        "",
        "1",
        "1 ",
        "1-",
        "+1",
        "+1 ",
        "+1-",
        "+",
        "+11",
        "0",
        "011",
        "(1)",
        "tel:",
        "TEL:+1",
        "tel:+",
    ]
)
EXT = st.sampled_from(["", " x12", "x7", " ext. 345", " EXT 1", " extension 9", " #12", ",5"])
PAD = st.sampled_from(["", " ", "\t", "\u3000", "\n"])


@st.composite
def nanp_ish(draw: st.DrawFn) -> str:
    groups = draw(st.lists(DIGITS, min_size=1, max_size=5))
    if draw(st.booleans()):
        groups = [
            draw(st.from_regex(r"[2-9][0-9]{2}", fullmatch=True)),
            draw(st.from_regex(r"[0-9]{3}", fullmatch=True)),
            draw(st.from_regex(r"[0-9]{4}", fullmatch=True)),
        ]
    if draw(st.booleans()):
        groups[0] = f"({groups[0]})"
    body = "".join(g + draw(SEP) for g in groups[:-1]) + groups[-1]
    return draw(PAD) + draw(PREFIX) + draw(SEP) + body + draw(EXT) + draw(PAD)


@settings(max_examples=300, deadline=None)
@given(st.lists(nanp_ish(), min_size=1, max_size=20), st.sampled_from(["US", "CA", "GB", None]))
def test_fast_path_equals_oracle(values: list[str], region: str | None) -> None:
    got = as_list(normalize_phones(values, default_region=region))
    assert got == [oracle(v, region) for v in values]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=10))
def test_any_text_equals_oracle(values: list[str]) -> None:
    assert as_list(normalize_phones(values)) == [oracle(v) for v in values]
