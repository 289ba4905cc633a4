"""``load_subscribers``: read a source, normalise every phone to E.164, account for every row.

Every row read ends up in exactly one place: ``SubscriberList.df`` (usable recipients) or
``SubscriberList.rejected`` (with one ``reason``: ``missing-phone``, ``invalid-phone``,
``duplicate``, ``opted-out``, and a ``detail``). File-level problems raise
:class:`~mta_notebook.SubscriberLoadError`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import SubscriberLoadError
from ..contract.phones import parse_phones
from ..contract.zones import phone_zones, single_zone
from ._columns import (
    EMAIL_NAMES,
    FIRST_NAMES,
    ID_NAMES,
    LAST_NAMES,
    PLACEHOLDERS,
    RESERVED,
    _find_phone,
    _given,
    _pick,
    _snake,
    _text_column,
    unique_names,
)
from ._list import SubscriberList
from ._read import MAX_UNCOMPRESSED_BYTES, _from_client, _read_path
from ._suppress import _suppressed

_EXCEL_SCI = re.compile(r"^\s*\+?\d(?:\.\d+)?[eE]\+?\d{1,2}\s*$")
_FLOAT_INT = re.compile(r"^\s*(\+?\d{5,17})\.0+\s*$")


def load_subscribers(
    source: str | os.PathLike[str] | pd.DataFrame | Any,
    *,
    default_region: str | None = "US",
    phone_col: str | None = None,
    email_col: str | None = None,
    first_name_col: str | None = None,
    last_name_col: str | None = None,
    suppress: Any = None,
    progress: bool = True,
    max_bytes: int = MAX_UNCOMPRESSED_BYTES,
) -> SubscriberList:
    """Load a subscriber list, normalise phones to E.164 and account for every row.

    Parameters
    ----------
    source
        A path (CSV/TSV with the delimiter sniffed, in UTF-8, UTF-8 with BOM, UTF-16 or
        Latin-1/cp1252; ``.xlsx``; a JSON array; JSON Lines; Parquet; any of these gzipped), a
        DataFrame, or a :class:`~mta_notebook.Client` (every subscriber of the account).
    default_region
        ISO country for numbers written without ``+`` and a country code.
    phone_col, email_col, first_name_col, last_name_col
        Column names to use instead of the detected ones (phone, mobile, cell, number,
        ``e164Number``, msisdn...; email; first/last name, in any case and spacing).
    suppress
        Numbers not to load (``opted-out``): a list, a DataFrame with a phone column, a path
        to such a file, or an event log (``EventLog`` / DataFrame with ``event``, ``phone``,
        ``text``; or a webhook log path) whose latest keyword reply from a number is STOP.
    progress
        Show a progress bar while reading from a Client.
    max_bytes
        The most a gzipped file may expand to (2 GiB); a larger one is refused before it fills
        memory.

    Returns
    -------
    SubscriberList
        ``.df`` and ``.rejected`` (reason ``missing-phone``, ``invalid-phone``, ``duplicate`` or
        ``opted-out``, with a ``detail``).

    Raises
    ------
    SubscriberLoadError
        The source cannot be read at all (missing file, unreadable encoding, no phone column).

    Notes
    -----
    Phones are normalised by :func:`~mta_notebook.contract.phones.parse_phones` (phonenumbers'
    answer, vectorised), with two deliberate exceptions: a value in Excel scientific notation
    (``1.31256E+10``) is rejected as ``invalid-phone`` because its digits are lost (phonenumbers
    would read another number from it), and the text of an integral float (``3125550123.0``) is
    read as the integer. Empty cells and placeholders (``N/A``, ``none``, ``-``, ``unknown``...)
    are ``missing-phone``. In CSV, a line with too many fields keeps the overflow in its last
    column and a short line is padded, so no line is dropped. ``timezones`` lists every zone the
    number may be in (``|``-joined, from :func:`~mta_notebook.contract.zones.phone_zones`);
    ``timezone`` is that zone when there is one, ``<NA>`` when the area spans several (Alaska,
    Newfoundland and Labrador) or the number is not geographic (toll-free).

    Examples
    --------
    >>> import pandas as pd
    >>> subs = load_subscribers(pd.DataFrame({
    ...     "Mobile": ["(312) 555-0123", "312.555.0123", "N/A"], "First Name": ["Ann", "Bo", "Cy"]
    ... }))
    >>> subs.df[["phone", "first_name", "source_row", "region", "timezone"]].to_dict("records")
    [{'phone': '+13125550123', 'first_name': 'Ann', 'source_row': 1, 'region': 'US', \
'timezone': 'America/Chicago'}]
    >>> subs.rejected[["source_row", "reason"]].to_dict("records")
    [{'source_row': 2, 'reason': 'duplicate'}, {'source_row': 3, 'reason': 'missing-phone'}]
    """
    if max_bytes < 1:
        raise SubscriberLoadError(f"max_bytes must be at least 1, got {max_bytes}.")
    frame, where, path, phone_col = _read_source(source, phone_col, progress, max_bytes)
    frame.columns = pd.Index(unique_names(map(str, frame.columns)))
    roles = _roles(frame, where, phone_col, email_col, first_name_col, last_name_col)
    phone = next(col for col, role in roles.items() if role == "phone")
    frame = frame.reset_index(drop=True)
    raw = _text_column(frame[phone])
    verdict = _Verdict.screen(frame, raw, phone)
    # only the rows still in play are parsed: a placeholder or an Excel number is no phone
    parsed = parse_phones(_clean_raw(raw[verdict.ok]), default_region).reindex(raw.index)
    parsed["valid"] = parsed["valid"].fillna(False).astype(bool)
    verdict.validate(parsed)
    verdict.suppress(_suppressed(suppress, default_region))
    verdict.duplicates()
    ok = verdict.ok
    rejected = frame.loc[~ok].copy()
    rejected["source_row"] = verdict.source_row[~ok]
    rejected["reason"] = pd.array(verdict.reason[~ok].tolist(), dtype="string")
    rejected["detail"] = pd.array(verdict.detail[~ok].tolist(), dtype="string")
    rejected = rejected.drop(columns=["_unreadable"], errors="ignore").reset_index(drop=True)
    df = _usable(frame.loc[ok], parsed[ok], roles, verdict.source_row[ok])
    return SubscriberList(
        df=df,
        rejected=rejected,
        rows_read=len(frame),
        source=path,
        default_region=default_region,
        columns={role: col for col, role in roles.items()},
    )


def _read_source(
    source: Any, phone_col: str | None, progress: bool, max_bytes: int
) -> tuple[pd.DataFrame, str, str | None, str | None]:
    """The raw frame, where it came from (for messages), its path, and the phone column."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        return _read_path(Path(path), max_bytes), path, path, phone_col
    if isinstance(source, pd.DataFrame):
        return source.copy(), "DataFrame", None, phone_col
    if hasattr(source, "iter_subscribers"):
        return _from_client(source, progress), "MTA account", None, phone_col or "phone"
    raise SubscriberLoadError(
        f"source must be a path, a DataFrame or a Client, got {type(source).__name__}."
    )


def _roles(
    frame: pd.DataFrame,
    where: str,
    phone_col: str | None,
    email_col: str | None,
    first_name_col: str | None,
    last_name_col: str | None,
) -> dict[str, str]:
    """Source column -> the role it plays (``phone``, ``email``, ``first_name``, ...)."""
    names = list(frame.columns)
    snake = [_snake(c) for c in names]
    phone = _given(phone_col, names, snake, where) or _find_phone(names, snake)
    if phone is None:
        raise SubscriberLoadError(
            f"{where}: no phone column found. Columns found: {names}. Name one phone, "
            "mobile, cell or number, or pass phone_col=."
        )
    email = _given(email_col, names, snake, where) or _pick(names, snake, EMAIL_NAMES)
    first = _given(first_name_col, names, snake, where) or _pick(names, snake, FIRST_NAMES)
    last = _given(last_name_col, names, snake, where) or _pick(names, snake, LAST_NAMES)
    found = {phone: "phone", email: "email", first: "first_name", last: "last_name"}
    roles = {col: role for col, role in found.items() if col is not None}
    sub_id = _pick(names, snake, ID_NAMES)
    if sub_id is not None and sub_id not in roles:
        roles[sub_id] = "subscriber_id"
    return roles


@dataclass
class _Verdict:
    """Per row: its E.164 number (or None) and, when rejected, one reason and a detail."""

    phones: pd.Series  # E.164 as Arrow strings, <NA> where none
    reason: np.ndarray[Any, Any]
    detail: np.ndarray[Any, Any]
    source_row: np.ndarray[Any, Any]
    ok: np.ndarray[Any, np.dtype[np.bool_]]  # not rejected (yet)

    @classmethod
    def screen(cls, frame: pd.DataFrame, raw: pd.Series, phone: str) -> _Verdict:
        """Reject the rows that hold no phone at all: empty, a placeholder, Excel notation."""
        n = len(frame)
        v = cls(
            phones=pd.Series(pd.NA, index=range(n), dtype="string[pyarrow]"),
            reason=np.full(n, None, dtype=object),
            detail=np.full(n, None, dtype=object),
            source_row=np.arange(1, n + 1),
            ok=np.ones(n, dtype=bool),
        )
        stripped = raw.fillna("").str.strip()
        missing = (stripped == "").to_numpy(dtype=bool)
        v.reject(missing, "missing-phone", f"no value in column {phone!r}")
        if "_unreadable" in frame:
            unreadable = frame["_unreadable"].notna().to_numpy(dtype=bool) & missing
            v.detail[unreadable] = frame["_unreadable"][unreadable].to_numpy(dtype=object)
        placeholder = stripped.str.lower().isin(PLACEHOLDERS).to_numpy(dtype=bool)
        v.reject(
            placeholder,
            "missing-phone",
            [f"placeholder {s!r}" for s in stripped[v.ok & placeholder]],
        )
        excel = _matches(stripped, _EXCEL_SCI.pattern)
        v.reject(
            excel,
            "invalid-phone",
            [
                f"{s!r} is Excel scientific notation: digits were lost. Re-export the column "
                "formatted as text"
                for s in stripped[v.ok & excel]
            ],
        )
        return v

    def validate(self, parsed: pd.DataFrame) -> None:
        """Take each row's E.164 number; reject the ones phonenumbers finds invalid."""
        self.phones = parsed["phone"].astype("string[pyarrow]").reset_index(drop=True)
        invalid = ~parsed["valid"].to_numpy(dtype=bool)
        why = parsed["detail"][self.ok & invalid].fillna("not a valid number")
        self.reject(invalid, "invalid-phone", why.to_numpy(dtype=object))

    def reject(self, rows: np.ndarray[Any, Any], reason: str, detail: Any) -> None:
        """Reject ``rows`` not rejected yet (the first reason found wins)."""
        hit = rows & self.ok
        self.detail[hit] = detail
        self.reason[hit] = reason
        self.ok &= ~hit

    def suppress(self, blocked: dict[str, str]) -> None:
        if blocked:
            listed = self.phones.isin(list(blocked)).fillna(False).to_numpy(dtype=bool)
            hit = self.ok & listed
            self.reject(hit, "opted-out", [blocked[p] for p in self.phones[hit]])

    def duplicates(self) -> None:
        """Reject every later row with the number of an earlier usable row."""
        kept = self.phones[self.ok]
        codes, _ = pd.factorize(kept)
        _, first = np.unique(codes, return_index=True)  # each number's first row among kept
        again = np.ones(len(codes), dtype=bool)
        again[first] = False
        if again.any():
            rows = self.source_row[self.ok]
            first_of = first[codes[again]]
            detail = [
                f"same number {p} as source_row {r} (kept)"
                for p, r in zip(kept[again].tolist(), rows[first_of].tolist(), strict=True)
            ]
            dup = np.zeros(len(self.ok), dtype=bool)
            dup[np.flatnonzero(self.ok)[again]] = True
            self.reject(dup, "duplicate", detail)


def _usable(
    kept: pd.DataFrame,
    parsed: pd.DataFrame,
    roles: dict[str, str],
    source_row: np.ndarray[Any, Any],
) -> pd.DataFrame:
    """``SubscriberList.df``: the fixed columns, then every other source column (one concat)."""
    fixed: dict[str, Any] = {"phone": parsed["phone"]}
    by_role = {role: col for col, role in roles.items()}
    for role in ("email", "first_name", "last_name", "subscriber_id"):
        if role in by_role:
            values = _text_column(kept[by_role[role]]).str.strip()
            fixed[role] = values.where(values != "", pd.NA)
        elif role != "subscriber_id":
            fixed[role] = pd.Series(pd.NA, index=kept.index, dtype="string")
    if "subscriber_id" in fixed:
        fixed["subscriber_id"] = pd.to_numeric(fixed["subscriber_id"], errors="coerce").astype(
            "Int64"
        )
    fixed["source_row"] = pd.Series(source_row, index=kept.index)
    fixed["region"] = parsed["region"]
    zones = phone_zones(parsed["phone"])
    fixed["timezone"] = single_zone(zones)
    fixed["timezones"] = zones
    names: dict[str, str] = {}  # source column -> its name in df
    taken = set(fixed)
    for col in kept.columns:
        if col in roles or col == "_unreadable":
            continue
        s = _snake(col)
        name = f"{s}_source" if s in RESERVED else s
        while name in taken:
            name += "_2"
        taken.add(name)
        names[col] = name
    extra = _blank_to_na(kept[list(names)]).set_axis(list(names.values()), axis=1)
    # one concat, not one insert per column: 10,000 columns stay linear
    df = pd.concat([pd.DataFrame(fixed, index=kept.index), extra], axis=1)
    out: pd.DataFrame = df.reset_index(drop=True)
    return out


def _blank_to_na(block: pd.DataFrame) -> pd.DataFrame:
    """Empty and whitespace-only text cells as missing; text columns in Arrow, all at once."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = [c for c, dtype in block.dtypes.items() if isinstance(dtype, pd.StringDtype)]
    arrays = []
    for name in text:
        values = pa.array(block[name], type=pa.string())
        blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(values), ""), False)
        arrays.append(pc.if_else(blank, pa.scalar(None, pa.string()), values))
    mapper = {pa.string(): pd.StringDtype("pyarrow")}.get
    parts = [pa.table(arrays, names=text).to_pandas(types_mapper=mapper).set_axis(block.index)]
    done = set(text)
    objects = [c for c, dtype in block.dtypes.items() if dtype.kind == "O" and c not in done]
    if objects:  # one pass over the cells of every object column together (one pandas block)
        cells = block[objects].to_numpy(dtype=object, copy=True)
        blank = _is_blank(cells).astype(bool)
        cells[blank] = None
        parts.append(pd.DataFrame(cells, index=block.index, columns=objects))
    done |= set(objects)
    rest = [c for c in block.columns if c not in done]
    parts.append(block[rest])
    out: pd.DataFrame = pd.concat(parts, axis=1)[list(block.columns)]
    return out


_is_blank = np.frompyfunc(lambda v: isinstance(v, str) and not v.strip(), 1, 1)


def _matches(text: pd.Series, pattern: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Rows whose text matches ``pattern`` (anchored), in Arrow; nulls do not match."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(text.astype("string[pyarrow]"), type=pa.string())
    hit = pc.fill_null(pc.match_substring_regex(arr, pattern), False)
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


def _clean_raw(raw: pd.Series) -> pd.Series:
    """Undo a float rendering of an integer ("3125550123.0" -> "3125550123"); nothing else."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # in Arrow (RE2): pandas runs a pattern with a group reference row by row in Python
    text = pa.array(raw.astype("string[pyarrow]"), type=pa.string())
    fixed = pc.replace_substring_regex(text, pattern=_FLOAT_INT.pattern, replacement=r"\1")
    out: pd.Series = pd.Series(pd.arrays.ArrowStringArray(fixed), index=raw.index)
    return out
