"""Subscriber lists into DataFrames: load, normalise to E.164, validate, upload to MTA.

Every row read ends up in exactly one place: ``SubscriberList.df`` (usable recipients) or
``SubscriberList.rejected`` (with one ``reason``: ``missing-phone``, ``invalid-phone``,
``duplicate``, ``opted-out``, and a ``detail``). File-level problems raise
:class:`~mta_notebook._errors.SubscriberLoadError`.
"""

from __future__ import annotations

import csv
import gzip
import html
import io
import json
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from ._errors import SubscriberLoadError
from .contract.keywords import KEYWORD_DROP_PATTERN, START_WORDS, STOP_WORDS
from .contract.limits import BULK_MAX_RECORDS
from .contract.phones import _to_text, parse_phones, phone_timezones

__all__ = ["REASONS", "SubscriberList", "UploadResult", "load_subscribers"]

Reason = Literal["missing-phone", "invalid-phone", "duplicate", "opted-out"]
REASONS: Final[tuple[Reason, ...]] = ("missing-phone", "invalid-phone", "duplicate", "opted-out")

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
)
PLACEHOLDERS: Final = frozenset(
    {"n/a", "na", "n.a.", "none", "null", "nil", "nan", "-", "--", "---", "?", "unknown", "tbd"}
)

_EXCEL_SCI = re.compile(r"^\s*\+?\d(?:\.\d+)?[eE]\+?\d{1,2}\s*$")
_FLOAT_INT = re.compile(r"^\s*(\+?\d{5,17})\.0+\s*$")


# -- results ---------------------------------------------------------------------------------


@dataclass
class UploadResult:
    """What :meth:`SubscriberList.to_mta` did: one row per record in each table."""

    created: pd.DataFrame
    updated: pd.DataFrame
    errors: pd.DataFrame
    requests: int = 0

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return iter((self.created, self.updated, self.errors))

    def __repr__(self) -> str:
        return (
            f"UploadResult(created={len(self.created)}, updated={len(self.updated)}, "
            f"errors={len(self.errors)}, requests={self.requests})"
        )

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>Upload to MTA</b>: {len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.errors)} errors in {self.requests} request(s)</p>"
        )
        if len(self.errors):
            head += self.errors.head(10).to_html(index=False)
        return head


@dataclass
class SubscriberList:
    """A loaded subscriber list: usable rows in ``df``, the others in ``rejected``.

    ``df`` columns: ``phone`` (E.164), ``email``, ``first_name``, ``last_name``,
    ``subscriber_id`` (when known), ``source_row`` (1-based data row), ``region`` (ISO country),
    ``timezone`` (IANA, from the number), then every other source column in snake_case.
    ``rejected``: the original columns plus ``source_row``, ``reason`` and ``detail``.
    ``len(df) + len(rejected) == rows_read``.
    """

    df: pd.DataFrame
    rejected: pd.DataFrame
    rows_read: int
    source: str | None = None
    default_region: str | None = "US"
    columns: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.df)

    def summary(self) -> pd.DataFrame:
        """Rows by outcome: ``loaded`` and each rejection reason, with their share of rows read.

        Examples
        --------
        >>> subs = load_subscribers(pd.DataFrame({"phone": ["312-555-0123", "", "12"]}))
        >>> subs.summary()["rows"].to_dict()
        {'loaded': 1, 'missing-phone': 1, 'invalid-phone': 1, 'duplicate': 0, 'opted-out': 0}
        """
        reasons = self.rejected["reason"].tolist() if len(self.rejected) else []
        rows = {"loaded": len(self.df)} | {r: reasons.count(r) for r in REASONS}
        out: pd.DataFrame = pd.DataFrame({"rows": pd.Series(rows, dtype="int64")})
        out["share"] = out["rows"] / self.rows_read if self.rows_read else 0.0
        out.index.name = "outcome"
        return out

    def __repr__(self) -> str:
        where = f" from {self.source}" if self.source else ""
        parts = ", ".join(
            f"{k}={v}" for k, v in self.summary()["rows"].items() if k != "loaded" and v
        )
        return (
            f"SubscriberList({len(self.df)} of {self.rows_read} rows{where}"
            f"{'; rejected: ' + parts if parts else ''})"
        )

    def _repr_html_(self) -> str:
        where = f" from <code>{html.escape(self.source)}</code>" if self.source else ""
        summary = self.summary()
        summary["share"] = summary["share"].map(lambda x: f"{x:.1%}")
        out = [
            f"<div><p><b>SubscriberList</b>{where}: {len(self.df)} usable of "
            f"{self.rows_read} rows read, {len(self.rejected)} rejected</p>",
            summary.to_html(),
            "<p>Sample</p>",
            self.df.head(5).to_html(index=False),
        ]
        if len(self.rejected):
            cols = [c for c in ("source_row", "reason", "detail") if c in self.rejected]
            out += ["<p>Rejected (first 5)</p>", self.rejected[cols].head(5).to_html(index=False)]
        out.append("</div>")
        return "\n".join(out)

    def records(self, group_id: int | None = None) -> list[dict[str, Any]]:
        """The rows as MTA subscriber records (``e164Number``, ``firstName``, ...)."""
        records = []
        names = {"first_name": "firstName", "last_name": "lastName", "email": "email"}
        for row in self.df.to_dict("records"):
            rec: dict[str, Any] = {"e164Number": row["phone"]}
            for col, key in names.items():
                value = row.get(col)
                if isinstance(value, str) and value.strip():
                    rec[key] = value.strip()
            if group_id is not None:
                rec["groupIds"] = [int(group_id)]
            records.append(rec)
        return records

    def to_mta(
        self,
        client: Any,
        group_id: int | None = None,
        *,
        create_only: bool = False,
        progress: bool = True,
    ) -> UploadResult:
        """Create or update these subscribers on MTA, in batches of at most 1,000.

        Parameters
        ----------
        client
            A :class:`~mta_notebook.Client` (anything with ``bulk_upsert_subscribers``).
        group_id
            Also add every subscriber to this group.
        create_only
            Only create; existing numbers come back as errors.
        progress
            Show a progress bar.

        Returns
        -------
        UploadResult
            ``created``, ``updated`` and ``errors`` DataFrames (MTA's records, plus
            ``source_row`` where the number matches a row of ``df``; ``errors`` has ``error``).

        Examples
        --------
        >>> from mta_notebook import Client, sandbox
        >>> with sandbox.running() as sb, Client(sb.api_key, base_url=sb.base_url) as c:
        ...     result = load_subscribers("data/subscribers.csv").to_mta(c, progress=False)
        >>> len(result.errors)  # doctest: +SKIP
        0
        """
        from tqdm.auto import tqdm

        records = self.records(group_id)
        created: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        requests = 0
        with tqdm(total=len(records), unit="sub", desc="upload", disable=not progress) as bar:
            for start in range(0, len(records), BULK_MAX_RECORDS):
                batch = records[start : start + BULK_MAX_RECORDS]
                result = client.bulk_upsert_subscribers(batch, create_only=create_only)
                created += list(result.created)
                updated += list(result.updated)
                errors += list(result.errors)
                requests += int(getattr(result, "requests", 1) or 1)
                bar.update(len(batch))
        rows = dict(zip(self.df["phone"], self.df["source_row"], strict=True))
        return UploadResult(
            created=_records_frame(created, rows),
            updated=_records_frame(updated, rows),
            errors=_records_frame(errors, rows),
            requests=requests,
        )

    def upload(
        self,
        client: Any,
        group_id: int | None = None,
        *,
        create_only: bool = False,
        progress: bool = True,
    ) -> UploadResult:
        """Same as :meth:`to_mta`."""
        return self.to_mta(client, group_id, create_only=create_only, progress=progress)


def _records_frame(records: list[dict[str, Any]], rows: Mapping[Any, Any]) -> pd.DataFrame:
    frame = _frame(records)
    if "e164Number" in frame:
        frame.insert(0, "source_row", frame["e164Number"].map(rows).astype("Int64"))
    return frame


# -- reading sources ---------------------------------------------------------------------------


def _snake(name: Any) -> str:
    text = str(name).strip()
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    text = re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_").lower()
    return text or "column"


def _decode(data: bytes, where: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise SubscriberLoadError(
                f"{where}: starts with a UTF-16 byte order mark but is not valid UTF-16 "
                f"({exc.reason} at byte {exc.start}). Save it again as UTF-8 CSV."
            ) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    sample = data[:4096]
    if sample.count(b"\x00") > len(sample) // 4:
        for enc in ("utf-16-le", "utf-16-be"):
            try:
                text = data.decode(enc)
            except UnicodeDecodeError:
                continue
            if text and "\x00" not in text:
                return text
        raise SubscriberLoadError(
            f"{where}: binary data or an unknown encoding (many NUL bytes, not UTF-16). "
            "Export the list as CSV (UTF-8), Excel .xlsx, JSON or Parquet."
        )
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _sniff_delimiter(text: str) -> str:
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if not lines:
        return ","
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",;\t|")
        return str(dialect.delimiter)
    except csv.Error:
        pass
    header = lines[0]
    counts = {d: header.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_delimited(text: str, where: str, suffix: str) -> pd.DataFrame:
    if not text.strip():
        raise SubscriberLoadError(f"{where}: the file is empty (no header row).")
    delimiter = "\t" if suffix == ".tsv" else _sniff_delimiter(text)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        header: list[str] = []
        for row in reader:
            if any(cell.strip() for cell in row):
                header = row
                break
        width = len(header)
        rows = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank line
            if len(row) > width:
                # an unquoted delimiter inside the last field: keep the row, rejoin the overflow
                row = [*row[: width - 1], delimiter.join(row[width - 1 :])]
            elif len(row) < width:
                row = row + [""] * (width - len(row))
            rows.append(row)
    except csv.Error as exc:
        raise SubscriberLoadError(f"{where}: cannot read as delimited text ({exc}).") from exc
    names: list[str] = []
    for i, name in enumerate(header):
        name = name.strip() or f"column_{i + 1}"
        base, k = name, 1
        while name in names:
            k += 1
            name = f"{base}_{k}"
        names.append(name)
    columns = {name: [row[i] for row in rows] for i, name in enumerate(names)}
    frame: pd.DataFrame = pd.DataFrame(columns, dtype=object)
    return frame


def _read_json(text: str, where: str, lines: bool | None) -> pd.DataFrame:
    stripped = text.lstrip()
    if lines is None:
        lines = not stripped.startswith("[")
        if not lines:
            pass
        elif stripped.startswith("{"):
            try:
                json.loads(stripped)
                lines = False
            except json.JSONDecodeError:
                lines = True
    if not lines:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SubscriberLoadError(
                f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}). "
                "Give a JSON array of objects or JSON Lines (one object per line)."
            ) from exc
        if isinstance(data, dict):
            for key in ("data", "rows", "subscribers", "records"):
                if isinstance(data.get(key), dict):
                    data = data[key]
                if isinstance(data, dict) and isinstance(data.get(key), list):
                    data = data[key]
                    break
        if not isinstance(data, list):
            raise SubscriberLoadError(
                f"{where}: JSON must be an array of subscriber objects, got {type(data).__name__}."
            )
        rows = [item if isinstance(item, dict) else {"value": item} for item in data]
        return _frame(rows)
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            item = {"_unreadable": f"line {lineno} is not JSON ({exc.msg}): {line[:80]}"}
        rows.append(item if isinstance(item, dict) else {"value": item})
    return _frame(rows)


def _frame(rows: list[dict[str, Any]], columns: list[str] | None = None) -> pd.DataFrame:
    frame: pd.DataFrame = (
        pd.DataFrame.from_records(rows) if rows else pd.DataFrame(columns=columns or [])
    )
    return frame


def _read_path(path: Path) -> pd.DataFrame:
    where = str(path)
    if not path.exists():
        raise SubscriberLoadError(f"{where}: no such file. Check the path (cwd is {os.getcwd()}).")
    if path.is_dir():
        raise SubscriberLoadError(f"{where}: is a directory; give one subscriber file.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SubscriberLoadError(f"{where}: cannot read ({exc.strerror}).") from exc
    name = path.name.lower()
    if name.endswith(".gz") or data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise SubscriberLoadError(f"{where}: not a valid gzip file ({exc}).") from exc
        name = name.removesuffix(".gz")
    suffix = Path(name).suffix
    if suffix in (".xlsx", ".xlsm") or data[:4] == b"PK\x03\x04":
        return _read_excel(data, where)
    if suffix == ".xls":
        raise SubscriberLoadError(
            f"{where}: old Excel .xls is not supported; save it as .xlsx or CSV."
        )
    if suffix in (".parquet", ".pq") or data[:4] == b"PAR1":
        try:
            return pd.read_parquet(io.BytesIO(data))
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise SubscriberLoadError(f"{where}: cannot read as Parquet ({exc}).") from exc
    text = _decode(data, where)
    if suffix in (".json", ".jsonl", ".ndjson") or text.lstrip()[:1] in ("[", "{"):
        lines = {".json": None, ".jsonl": True, ".ndjson": True}.get(suffix)
        return _read_json(text, where, lines)
    return _read_delimited(text, where, suffix)


def _read_excel(data: bytes, where: str) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles/extensions it ignores; they do not affect the cells
            warnings.simplefilter("ignore")
            frame: pd.DataFrame = pd.read_excel(
                io.BytesIO(data), sheet_name=0, dtype=object, engine="openpyxl"
            )
    except Exception as exc:  # openpyxl/zipfile raise many types for damaged files
        raise SubscriberLoadError(f"{where}: cannot read as Excel .xlsx ({exc}).") from exc
    return frame


def _from_client(client: Any, progress: bool) -> pd.DataFrame:
    from tqdm.auto import tqdm

    rows = []
    items = client.iter_subscribers()
    if not hasattr(items, "__iter__"):
        raise SubscriberLoadError(
            f"{type(client).__name__}.iter_subscribers() is not a plain iterator (an "
            "AsyncClient?). Pass a Client, or collect the subscribers into a DataFrame first."
        )
    with tqdm(unit="sub", desc="subscribers", disable=not progress) as bar:
        for sub in items:
            extra = dict(getattr(sub, "model_extra", None) or {})
            phone = getattr(sub, "e164_number", None) or getattr(sub, "number", None)
            if phone in (0, "0"):
                phone = None
            rows.append(
                {
                    "subscriber_id": getattr(sub, "id", None),
                    "phone": phone,
                    "first_name": getattr(sub, "first_name", None),
                    "last_name": getattr(sub, "last_name", None),
                    "email": getattr(sub, "email", None),
                    **{k: v for k, v in extra.items() if k not in ("number", "e164Number")},
                }
            )
            bar.update(1)
    columns = ["subscriber_id", "phone", "first_name", "last_name", "email"]
    return _frame(rows, columns)


# -- columns ---------------------------------------------------------------------------------


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


# -- suppression -----------------------------------------------------------------------------


def _suppressed(suppress: Any, default_region: str | None) -> dict[str, str]:
    """E.164 -> why it is suppressed."""
    if suppress is None:
        return {}
    if hasattr(suppress, "df") and isinstance(suppress.df, pd.DataFrame):
        suppress = suppress.df
    if isinstance(suppress, (str, os.PathLike)):
        return _suppressed_path(Path(suppress), default_region)
    if isinstance(suppress, pd.DataFrame):
        if {"event", "phone", "text"} <= set(map(str, suppress.columns)):
            return _stops(suppress, default_region)
        columns = [str(c) for c in suppress.columns]
        col = _find_phone(columns, [_snake(c) for c in columns])
        if col is None:
            raise SubscriberLoadError(
                f"suppress=: no phone column in the DataFrame. Columns found: {columns}."
            )
        values: Iterable[Any] = suppress[suppress.columns[columns.index(col)]]
        label = "in the suppression list"
    elif isinstance(suppress, (list, tuple, set, frozenset, pd.Series, np.ndarray)):
        values = list(suppress)
        label = "in the suppression list"
    else:
        raise SubscriberLoadError(
            f"suppress= must be a list of numbers, a DataFrame, a path or an event log, got "
            f"{type(suppress).__name__}."
        )
    phones = parse_phones(list(values), default_region)["phone"].dropna()
    return dict.fromkeys(phones.tolist(), label)


def _suppressed_path(path: Path, default_region: str | None) -> dict[str, str]:
    try:
        frame: pd.DataFrame | None = _read_path(path)
    except SubscriberLoadError:
        frame = None
    if frame is not None:
        columns = [str(c) for c in frame.columns]
        snake = [_snake(c) for c in columns]
        if {"event", "phone", "text"} <= set(snake):
            frame.columns = pd.Index(snake)
            return _stops(frame, default_region)
        if _find_phone(columns, snake) is not None:
            return _suppressed(frame, default_region)
    from ._errors import WebhookLogError
    from .events import read_webhook_log

    try:
        log = read_webhook_log(path)
    except WebhookLogError as exc:
        raise SubscriberLoadError(
            f"suppress={str(path)!r}: neither a list of phone numbers nor a webhook log ({exc})."
        ) from exc
    return _stops(log.df, default_region)


def _stops(events: pd.DataFrame, default_region: str | None) -> dict[str, str]:
    """Numbers whose latest STOP/START keyword reply is a STOP."""
    replies = events[events["event"].astype("string") == "message-reply"]
    if "occurred_at" in replies:
        replies = replies.sort_values("occurred_at", kind="stable")
    words = (
        replies["text"]
        .astype("string")
        .str.upper()
        .str.replace(KEYWORD_DROP_PATTERN, "", regex=True)
    )
    phones = parse_phones(replies["phone"], default_region)["phone"]
    last: dict[str, str] = {}
    for phone, word, text in zip(
        phones.tolist(), words.tolist(), replies["text"].tolist(), strict=True
    ):
        if pd.isna(phone) or pd.isna(word):
            continue
        if word in STOP_WORDS:
            last[phone] = f"replied {str(text).strip()!r} (opt-out keyword)"
        elif word in START_WORDS:
            last.pop(phone, None)
    return last


# -- the loader --------------------------------------------------------------------------------


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
    column and a short line is padded, so no line is dropped. ``timezone`` is the first zone
    phonenumbers gives for the number.

    Examples
    --------
    >>> subs = load_subscribers(pd.DataFrame({
    ...     "Mobile": ["(312) 555-0123", "312.555.0123", "N/A"], "First Name": ["Ann", "Bo", "Cy"]
    ... }))
    >>> subs.df[["phone", "first_name", "source_row", "region", "timezone"]].to_dict("records")
    [{'phone': '+13125550123', 'first_name': 'Ann', 'source_row': 1, 'region': 'US', \
'timezone': 'America/Chicago'}]
    >>> subs.rejected[["source_row", "reason"]].to_dict("records")
    [{'source_row': 2, 'reason': 'duplicate'}, {'source_row': 3, 'reason': 'missing-phone'}]
    """
    where = "DataFrame"
    path: str | None = None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        where = path
        frame = _read_path(Path(path))
    elif isinstance(source, pd.DataFrame):
        frame = source.copy()
    elif hasattr(source, "iter_subscribers"):
        where = "MTA account"
        frame = _from_client(source, progress)
        phone_col = phone_col or "phone"
    else:
        raise SubscriberLoadError(
            f"source must be a path, a DataFrame or a Client, got {type(source).__name__}."
        )

    original: list[str] = []
    for c in frame.columns:  # unique text names (a DataFrame may repeat a column name)
        name, k = str(c), 1
        while name in original:
            k += 1
            name = f"{c}_{k}"
        original.append(name)
    frame.columns = pd.Index(original)
    snake = [_snake(c) for c in original]
    phone = _given(phone_col, original, snake, where) or _find_phone(original, snake)
    if phone is None:
        raise SubscriberLoadError(
            f"{where}: no phone column found. Columns found: {original}. Name one phone, "
            "mobile, cell or number, or pass phone_col=."
        )
    email = _given(email_col, original, snake, where) or _pick(original, snake, EMAIL_NAMES)
    first = _given(first_name_col, original, snake, where) or _pick(original, snake, FIRST_NAMES)
    last = _given(last_name_col, original, snake, where) or _pick(original, snake, LAST_NAMES)
    sub_id = _pick(original, snake, ID_NAMES)
    found = {phone: "phone", email: "email", first: "first_name", last: "last_name"}
    roles = {col: role for col, role in found.items() if col is not None}
    if sub_id is not None and sub_id not in roles:
        roles[sub_id] = "subscriber_id"

    n = len(frame)
    frame = frame.reset_index(drop=True)
    source_row = np.arange(1, n + 1)
    raw = _text_column(frame[phone])
    parsed = parse_phones(_clean_raw(raw), default_region)

    reason = np.full(n, None, dtype=object)
    detail = np.full(n, None, dtype=object)
    stripped = raw.fillna("").str.strip()
    lowered = stripped.str.lower()
    is_missing = (stripped == "").to_numpy(dtype=bool)
    is_placeholder = lowered.isin(PLACEHOLDERS).to_numpy(dtype=bool) & ~is_missing
    reason[is_missing] = "missing-phone"
    detail[is_missing] = f"no value in column {phone!r}"
    if "_unreadable" in frame:
        unreadable = frame["_unreadable"].notna().to_numpy(dtype=bool) & is_missing
        detail[unreadable] = frame["_unreadable"][unreadable].to_numpy(dtype=object)
    reason[is_placeholder] = "missing-phone"
    detail[is_placeholder] = [f"placeholder {v!r}" for v in stripped[is_placeholder]]
    excel = stripped.str.fullmatch(_EXCEL_SCI.pattern).fillna(False).to_numpy(dtype=bool)
    excel &= reason == None  # noqa: E711 - elementwise
    reason[excel] = "invalid-phone"
    detail[excel] = [
        f"{v!r} is Excel scientific notation: digits were lost. Re-export the column "
        "formatted as text"
        for v in stripped[excel]
    ]
    valid = parsed["valid"].to_numpy(dtype=bool)
    bad = ~valid & (reason == None)  # noqa: E711 - elementwise
    reason[bad] = "invalid-phone"
    why = parsed["detail"].fillna("not a valid number").to_numpy(dtype=object)
    detail[bad] = why[bad]

    e164 = np.array([None if pd.isna(p) else p for p in parsed["phone"].tolist()], dtype=object)
    blocked = _suppressed(suppress, default_region)
    if blocked:
        hit = (reason == None) & np.array([p in blocked for p in e164], dtype=bool)  # noqa: E711
        reason[hit] = "opted-out"
        detail[hit] = [blocked[p] for p in e164[hit]]

    ok = reason == None  # noqa: E711 - elementwise
    keys = pd.Series(e164).where(ok)
    dup = keys.duplicated(keep="first").to_numpy(dtype=bool) & ok
    if dup.any():
        first_row = dict(zip(keys[ok & ~dup].tolist(), source_row[ok & ~dup].tolist(), strict=True))
        reason[dup] = "duplicate"
        detail[dup] = [f"same number {p} as source_row {first_row[p]} (kept)" for p in e164[dup]]
    ok = reason == None  # noqa: E711 - elementwise

    rejected = frame.loc[~ok].copy()
    rejected["source_row"] = source_row[~ok]
    rejected["reason"] = pd.array(reason[~ok].tolist(), dtype="string")
    rejected["detail"] = pd.array(detail[~ok].tolist(), dtype="string")
    rejected = rejected.drop(columns=["_unreadable"], errors="ignore").reset_index(drop=True)

    kept = frame.loc[ok]
    df = pd.DataFrame(index=kept.index)
    df["phone"] = parsed["phone"][ok]
    by_role = {role: col for col, role in roles.items()}
    for role in ("email", "first_name", "last_name", "subscriber_id"):
        if role in by_role:
            values = _text_column(kept[by_role[role]]).str.strip()
            df[role] = values.where(values != "", pd.NA)
        elif role != "subscriber_id":
            df[role] = pd.Series(pd.NA, index=kept.index, dtype="string")
    if "subscriber_id" in df:
        df["subscriber_id"] = pd.to_numeric(df["subscriber_id"], errors="coerce").astype("Int64")
    df["source_row"] = source_row[ok]
    df["region"] = parsed["region"][ok]
    df["timezone"] = phone_timezones(df["phone"])
    taken = set(df.columns)
    for col, s in zip(original, snake, strict=True):
        if col in roles or col == "_unreadable":
            continue
        name = f"{s}_source" if s in RESERVED else s
        while name in taken:
            name += "_2"
        taken.add(name)
        column = kept[col]
        if column.dtype == object or isinstance(column.dtype, pd.StringDtype):
            column = column.where(column.map(lambda v: not (isinstance(v, str) and not v.strip())))
        df[name] = column
    df = df.reset_index(drop=True)
    columns = {role: col for col, role in roles.items()}
    return SubscriberList(
        df=df,
        rejected=rejected,
        rows_read=n,
        source=path,
        default_region=default_region,
        columns=columns,
    )


def _clean_raw(raw: pd.Series) -> pd.Series:
    """Undo a float rendering of an integer ("3125550123.0" -> "3125550123"); nothing else."""
    return raw.str.replace(_FLOAT_INT, r"\1", regex=True)
