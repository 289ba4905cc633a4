"""E.164 normalisation of phone numbers: a vectorised fast path, phonenumbers for the rest.

``phonenumbers`` is the oracle. For every input, :func:`normalize_phones` answers exactly what
``phonenumbers.parse(value, default_region)`` + ``is_valid_number`` + E.164 formatting answers
(``None``/``<NA>`` where it raises or says invalid). The fast path only takes strings whose
parse it can prove, and validates them with phonenumbers' own metadata:

* Shape: an optional ``tel:``, an optional ``+1``, then digits with spaces, dots, hyphens,
  slashes and parentheses between them, ending in a digit, then an optional extension
  (`` x12``, ``ext. 12``, ``extension 12``). phonenumbers drops the same prefix, punctuation and
  extension, so only the digits matter.
* National number: after ``+1``, ten digits starting 2-9; without ``+`` (only when the default
  region parses like the US: country code 1, national prefix 1, international prefix 011), ten
  such digits, or ``1`` and ten such digits. Other digit counts are proven invalid when no
  national-number length phonenumbers could reach (it strips at most one ``1`` after ``+1``,
  three bare) is one that any NANP pattern accepts; the remaining cases go to phonenumbers.
* Validity: the exact algorithm of ``is_valid_number`` for country code 1 (first NANP region whose
  ``leading_digits`` match, or whose number-type patterns match, then that region's patterns),
  run with the metadata's own regular expressions over the whole column at once (RE2 through
  pyarrow). The metadata is inspected at first use; if it ever breaks an assumption above
  (leading-digit patterns longer than four digits, descriptions without lengths), the fast path
  switches itself off and phonenumbers answers everything.

Everything else (international numbers, letters, odd punctuation, Excel scientific notation,
placeholders) goes to phonenumbers, once per distinct value.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, Final

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from ._nanp import NanpRule, NanpStep, _nanp, _np_bool, nanp_validity_steps

__all__ = [
    "NanpRule",
    "NanpStep",
    "nanp_validity_steps",
    "normalize_phone",
    "normalize_phones",
    "parse_phones",
]

# phonenumbers refuses longer input outright (NumberParseException TOO_LONG).
_MAX_INPUT_LENGTH: Final = 250

# The shapes the fast path reads: an optional "+1", digits with spaces, dots, hyphens, slashes
# and parentheses between them (phonenumbers keeps only the digits of these), ending in a digit,
# then an optional extension phonenumbers strips the same way (" x12", "ext. 12", "extension 12").
# No letters other than the extension label, no "#", ",", ";": those trigger other parse rules.
_SHAPE: Final = (
    r"^(?i:tel:)?(?P<plus>\+1)?(?P<body>[0-9 .()/-]*[0-9])"
    r"(?P<ext>(?i: ?(?:x|ext\.?|extension) ?[0-9]{1,6}))?$"
)


@functools.cache
def _bare_ok(default_region: str | None) -> bool:
    """Whether numbers without "+" parse under ``default_region`` exactly as US numbers do."""
    if default_region is None:
        return False
    md = phonenumbers.PhoneMetadata.metadata_for_region(default_region, None)
    return bool(
        md is not None
        and md.country_code == 1
        and md.national_prefix_for_parsing == "1"
        and md.international_prefix == "011"
        and not md.national_prefix_transform_rule
    )


def _oracle(value: str, default_region: str | None) -> tuple[str | None, str | None, str | None]:
    """phonenumbers' answer for one string: (E.164 or None, region or None, why invalid)."""
    try:
        num = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as exc:
        return None, None, f"not a phone number: {exc._msg}"
    if not phonenumbers.is_valid_number(num):
        return None, None, "not a valid number"
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    return e164, phonenumbers.region_code_for_number(num), None


def normalize_phone(value: Any, default_region: str | None = "US") -> str | None:
    """Normalise one phone number to E.164 with phonenumbers, or ``None`` when invalid.

    This is the oracle :func:`normalize_phones` agrees with.

    Examples
    --------
    >>> normalize_phone("(312) 555-0123")
    '+13125550123'
    >>> normalize_phone("020 7946 0018", "GB")
    '+442079460018'
    >>> normalize_phone("N/A") is None
    True
    """
    text = _to_text(value)
    if text is None:
        return None
    return _oracle(text, default_region)[0]


def _to_text(value: Any) -> str | None:
    """A cell as text, never through a float repr: 3125550123.0 -> '3125550123'."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if f != f:
            return None
        if f.is_integer() and abs(f) < 1e15:
            return str(int(f))
        return repr(f)
    return str(value)


def _as_string_array(values: Any) -> pa.Array:
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.StringDtype):
        arr = pa.array(values.array)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        return arr.cast(pa.large_string())
    if isinstance(values, (pa.Array, pa.ChunkedArray)) and pa.types.is_string(values.type):
        arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        return arr.cast(pa.large_string())
    items = values.tolist() if hasattr(values, "tolist") else list(values)
    return pa.array([_to_text(v) for v in items], type=pa.large_string())


_EXTENSION: Final = r"(?i) ?(?:x|ext\.?|extension) ?[0-9]{1,6}$"
_PLAIN_BYTES: Final = np.zeros(256, dtype=bool)
_PLAIN_BYTES[np.frombuffer(b"0123456789 .()/-", dtype=np.uint8)] = True
_DIGIT_BYTES: Final = np.zeros(256, dtype=bool)
_DIGIT_BYTES[np.frombuffer(b"0123456789", dtype=np.uint8)] = True


def _buffers(arr: pa.Array) -> tuple[np.ndarray[Any, np.dtype[np.uint8]], np.ndarray[Any, Any]]:
    """The UTF-8 bytes of a string array and each row's offsets into them (nulls as "")."""
    arr = pc.fill_null(arr, "").cast(pa.large_string())
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data_buf = arr.buffers()[2]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, "u1")
    first, last = int(offsets[0]), int(offsets[-1])
    return data[first:last], offsets - first


def _per_row_sum(
    flags: np.ndarray[Any, Any], offsets: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """Per-row count of true flags (``flags`` is per byte, rows given by ``offsets``)."""
    starts = offsets[:-1]
    empty = offsets[1:] == starts
    # a zero byte at the end so every start (empty rows at the end included) is a valid index
    padded = np.concatenate((flags.view(np.uint8), np.zeros(1, dtype=np.uint8)))
    sums = np.add.reduceat(padded, starts, dtype=np.int32)
    return np.where(empty, 0, sums).astype(np.int64)


def _per_row_any(
    flags: np.ndarray[Any, Any], offsets: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """Per-row "any flag set", for sparse flags."""
    out = np.zeros(len(offsets) - 1, dtype=bool)
    out[np.searchsorted(offsets, np.flatnonzero(flags), side="right") - 1] = True
    return out


class _Labels:
    """A string column built from integer codes (cheap to fill for a million rows)."""

    def __init__(self, n: int) -> None:
        self.codes = np.full(n, -1, dtype=np.int64)
        self.names: dict[str, int] = {}

    def code(self, name: str) -> int:
        return self.names.setdefault(name, len(self.names))

    def set(self, rows: np.ndarray[Any, Any], name: str | None) -> None:
        self.codes[rows] = -1 if name is None else self.code(name)

    def array(self) -> pd.api.extensions.ExtensionArray:
        names = pa.array(list(self.names), type=pa.large_string())
        return _string_array(names, self.codes)


def _string_array(
    values: pa.Array, codes: np.ndarray[Any, Any]
) -> pd.api.extensions.ExtensionArray:
    """``values[codes]`` as a pandas "string" array, ``<NA>`` where a code is -1."""
    taken = values.take(pa.array(np.where(codes < 0, 0, codes), mask=codes < 0))
    if len(values) == 0:
        taken = pa.nulls(len(codes), type=pa.large_string())
    return pd.arrays.ArrowStringArray(taken)


class _Fast:
    """What the fast path decided: ``rows`` it owns; ``good`` valid rows and their E.164."""

    def __init__(self, n: int) -> None:
        self.rows = np.zeros(n, dtype=bool)
        self.good = np.zeros(0, dtype=np.int64)
        self.e164 = pa.array([], type=pa.large_string())


def _fast_path(
    trimmed: pa.Array,
    raw_len_ok: np.ndarray[Any, np.dtype[np.bool_]],
    default_region: str | None,
    region: _Labels,
    detail: _Labels,
) -> _Fast:
    """Decide the rows whose phonenumbers answer is provable column-wise.

    Proven rows (``P`` = "+1" then digits ``R``; ``B`` = bare digits ``D`` when the default region
    parses like the US):

    * ``P``, ``R`` = 10 digits starting 2-9, or ``B``, ``D`` likewise, or ``B``, ``D`` = "1" + such
      10 digits: phonenumbers takes country code 1 and those 10 digits as the national number;
      validity and region come from the metadata patterns (:class:`_Nanp`).
    * Otherwise the national number keeps all digits or loses leading "1"s (at most one after
      "+1", at most three bare): when none of those lengths is one a NANP pattern accepts, the
      answer is "invalid" whatever the digits are.

    Everything else is left to phonenumbers itself.
    """
    n = len(trimmed)
    out = _Fast(n)
    nanp = _nanp()
    if not nanp.ok or n == 0:
        return out
    # Shape, decided from the bytes for the plain rows ("+1" or nothing, then only digits and
    # " .()/-", ending in a digit) and by the full regex for the few rows with anything else.
    b, offsets = _buffers(trimmed)
    lens = np.diff(offsets)
    starts = offsets[:-1]
    nonempty = lens > 0
    padded_b = np.concatenate((b, np.zeros(5, dtype=np.uint8)))
    first = np.where(nonempty, padded_b[starts], 0)
    second = np.where(lens > 1, padded_b[starts + 1], 0)
    last = np.where(nonempty, padded_b[np.maximum(offsets[1:] - 1, 0)], 0)
    other = _per_row_sum(~_PLAIN_BYTES[b], offsets)
    plus_start = (first == ord("+")) & (second == ord("1")) & (lens >= 3)
    plain = nonempty & _DIGIT_BYTES[last] & ((other == 0) | (plus_start & (other == 1)))
    plain &= raw_len_ok
    rest = np.flatnonzero(nonempty & ~plain & raw_len_ok)
    shape = plain.copy()
    tel = np.zeros(n, dtype=bool)
    if len(rest):
        sub = trimmed.take(pa.array(rest))
        shape[rest] = _np_bool(pc.match_substring_regex(sub, _SHAPE))
        tel[rest] = shape[rest] & _np_bool(pc.match_substring_regex(sub, "^(?i:tel:)"))
    if not shape.any():
        return out
    # tel: rows have "+" after the 4-byte prefix
    plus_byte = np.where(tel, padded_b[np.minimum(starts + 4, len(padded_b) - 1)], first)
    plus = shape & (plus_byte == ord("+"))
    bare = shape & ~plus if _bare_ok(default_region) else np.zeros(n, dtype=bool)

    # Letters in a matched row: "tel:" and an extension's label. Cut extensions off (few rows,
    # a regex is cheap there), then count digits straight from the Arrow buffers.
    has_letter = np.zeros(n, dtype=bool)
    has_letter[rest] = shape[rest]
    if has_letter.any():
        rows = np.flatnonzero(has_letter)
        cut = pc.replace_substring_regex(trimmed.take(pa.array(rows)), _EXTENSION, "")
        where = np.arange(n)
        where[rows] = n + np.arange(len(rows))
        work = pa.concat_arrays([trimmed.cast(pa.large_string()), cut.cast(pa.large_string())])
        work = work.take(pa.array(where))
        b, offsets = _buffers(work)
    is_digit = _DIGIT_BYTES[b]
    kd = b[is_digit]
    dlen = _per_row_sum(is_digit, offsets)
    kd_start = np.concatenate(([0], np.cumsum(dlen)[:-1])).astype(np.int64)
    padded = np.concatenate((kd, np.zeros(2, dtype=np.uint8)))
    d0 = np.where(dlen > 0, padded[kd_start], 0)
    d1 = np.where(dlen > 1, padded[np.minimum(kd_start + 1, len(padded) - 1)], 0)
    is29_0 = (d0 >= ord("2")) & (d0 <= ord("9"))
    is29_1 = (d1 >= ord("2")) & (d1 <= ord("9"))
    is1_0 = d0 == ord("1")

    table = np.zeros(64, dtype=bool)
    table[[k for k in nanp.valid_lengths if 0 <= k < 64]] = True

    def possible(length: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.bool_]]:
        return np.asarray(table[np.clip(length, 0, 63)])

    rlen = dlen - 1  # digits after "+1" (shape guarantees the first digit after "+" is 1)
    take_plus = plus & (rlen == 10) & is29_1
    take10 = bare & (dlen == 10) & is29_0
    take11 = bare & (dlen == 11) & is1_0 & is29_1
    take = take_plus | take10 | take11
    too_plus = plus & ~possible(rlen) & ~possible(rlen - 1)
    too_bare = bare & is29_0 & ~possible(dlen)
    too_one = bare & is1_0 & ~(possible(dlen) | possible(dlen - 1))
    too_one &= ~(possible(dlen - 2) | possible(dlen - 3))
    invalid = (too_plus | too_bare | too_one) & ~take
    for d in np.unique(dlen[invalid]):
        detail.set(np.flatnonzero(invalid & (dlen == d)), f"not a valid number ({d} digits)")
    out.rows = take | invalid

    take_idx = np.flatnonzero(take)
    if len(take_idx):
        skip = np.where(take_plus | take11, 1, 0)[take_idx]
        nsn2d = kd[(kd_start[take_idx] + skip)[:, None] + np.arange(10)]
        ok, reg = nanp.resolve(nsn2d)
        good = take_idx[ok]
        reg_ok = reg[ok]
        for k in np.unique(reg_ok):
            region.set(good[reg_ok == k], nanp.regions[int(k)])
        detail.set(take_idx[~ok], "not a valid number")
        m = int(ok.sum())
        e164 = np.empty((m, 12), dtype=np.uint8)
        e164[:, 0], e164[:, 1] = ord("+"), ord("1")
        e164[:, 2:] = nsn2d[ok]
        out.good = good
        out.e164 = pa.LargeStringArray.from_buffers(
            m,
            pa.py_buffer(np.arange(0, 12 * m + 1, 12, dtype=np.int64)),
            pa.py_buffer(e164.tobytes()),
        )
    return out


def parse_phones(
    values: Iterable[Any] | pd.Series, default_region: str | None = "US"
) -> pd.DataFrame:
    """Normalise many phone numbers; one row per input, with what phonenumbers would say.

    Parameters
    ----------
    values
        Strings (or numbers, read as their digits; missing values give ``<NA>``).
    default_region
        ISO country assumed for numbers written without ``+`` and a country code.

    Returns
    -------
    pandas.DataFrame
        ``phone`` (E.164 or ``<NA>``), ``region`` (ISO country of a valid number), ``valid``,
        ``missing`` (empty or missing input), ``fast`` (decided by the vectorised path) and
        ``detail`` (why a non-empty value is invalid). The index is the input's when it is a
        Series.

    Examples
    --------
    >>> parse_phones(["312.555.0123", "+44 20 7946 0018", ""])[["phone", "region", "valid"]]
               phone region  valid
    0   +13125550123     US   True
    1  +442079460018     GB   True
    2           <NA>   <NA>  False
    """
    index = values.index if isinstance(values, pd.Series) else None
    raw = _as_string_array(values)
    n = len(raw)
    region = _Labels(n)
    detail = _Labels(n)
    phone_codes = np.full(n, -1, dtype=np.int64)

    trimmed = pc.utf8_trim_whitespace(raw)
    missing = _np_bool(pc.fill_null(pc.equal(trimmed, ""), True))
    len_ok = _np_bool(pc.less_equal(pc.utf8_length(raw), _MAX_INPUT_LENGTH))
    fast = _fast_path(trimmed, len_ok, default_region, region, detail)
    phone_codes[fast.good] = np.arange(len(fast.good))
    phone_values = [fast.e164]

    slow_idx = np.flatnonzero(~fast.rows & ~missing)
    if len(slow_idx):
        slow_vals = raw.take(pa.array(slow_idx)).to_numpy(zero_copy_only=False)
        codes, uniques = pd.factorize(slow_vals)
        answers = [_oracle(str(u), default_region) for u in uniques]
        found = np.array([a[0] is not None for a in answers], dtype=bool)
        base = len(fast.good)
        phone_codes[slow_idx] = np.where(found[codes], base + codes, -1)
        phone_values.append(pa.array([a[0] for a in answers], type=pa.large_string()))
        reg_codes = np.array([-1 if a[1] is None else region.code(a[1]) for a in answers])
        why_codes = np.array([-1 if a[2] is None else detail.code(a[2]) for a in answers])
        region.codes[slow_idx] = reg_codes[codes]
        detail.codes[slow_idx] = why_codes[codes]

    all_phones = pa.concat_arrays(phone_values)
    frame: pd.DataFrame = pd.DataFrame(
        {
            "phone": _string_array(all_phones, phone_codes),
            "region": region.array(),
            "valid": phone_codes >= 0,
            "missing": missing,
            "fast": fast.rows,
            "detail": detail.array(),
        },
        index=index,
    )
    return frame


def normalize_phones(
    values: Iterable[Any] | pd.Series, *, default_region: str | None = "US"
) -> pd.Series:
    """E.164 strings for many phone numbers (``<NA>`` where phonenumbers finds none).

    Equal, value for value, to :func:`normalize_phone` (phonenumbers parse + is_valid_number +
    E.164), only faster: common North American formats are checked column-wise.

    Examples
    --------
    >>> normalize_phones(["+1 (312) 555-0123", "1-415-555-0134 x7", "000-000-0000"]).tolist()
    ['+13125550123', '+14155550134', <NA>]
    """
    return parse_phones(values, default_region)["phone"]
