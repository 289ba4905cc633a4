"""Read a subscriber source into a raw DataFrame of text cells: files of every usual format, or
an MTA account. Nothing is validated here; problems reading the file raise SubscriberLoadError.
"""

from __future__ import annotations

import csv
import io
import json
import os
import warnings
import zlib
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from .._errors import SubscriberLoadError
from ._columns import unique_names


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
    sample = data[:4096]
    if sample.count(b"\x00") > len(sample) // 4:  # UTF-16 without a byte order mark, or binary
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
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


#: The most a compressed source may expand to by default (``load_subscribers(max_bytes=)``).
MAX_UNCOMPRESSED_BYTES: Final = 2 * 1024**3


#: How much of a file the delimiter sniffer looks at (csv.Sniffer is slow on long, odd text).
SNIFF_BYTES: Final = 64 * 1024


#: Beyond this many columns a file is read into one block of Python strings (see below).
WIDE_COLUMNS: Final = 256


def _sniff_delimiter(text: str) -> str:
    head = text[:SNIFF_BYTES]
    lines = [ln for ln in head.splitlines()[:50] if ln.strip()]
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
    fast = _read_delimited_arrow(text.encode("utf-8"), text[:SNIFF_BYTES], delimiter)
    return fast if fast is not None else _read_rows(text, delimiter, where)


def _read_rows(text: str, delimiter: str, where: str) -> pd.DataFrame:
    """Row by row: a row with too many fields keeps the overflow in its last column, a short
    row is padded, rows of empty cells are skipped; so no line is dropped."""
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
    names = _header_names(header)
    columns = {name: [row[i] for row in rows] for i, name in enumerate(names)}
    frame: pd.DataFrame = pd.DataFrame(columns, dtype=object)
    return frame


def _header_names(header: list[str]) -> list[str]:
    return unique_names(name.strip() or f"column_{i + 1}" for i, name in enumerate(header))


def _read_delimited_arrow(data: bytes, head: str, delimiter: str) -> pd.DataFrame | None:
    """The same frame as the row-by-row reader, read by Arrow's CSV parser from UTF-8 ``data``
    (``head``: its start as text); ``None`` when a row has another number of fields than the
    header (the row-by-row reader repairs those), the first line is a row of empty cells, or the
    bytes are not UTF-8."""
    import pyarrow as pa
    from pyarrow import csv as pa_csv

    try:
        rows = csv.reader(io.StringIO(head, newline=""), delimiter=delimiter)
        first = next((row for row in rows if row), None)
    except csv.Error:
        return None
    if first is None:
        return None
    uneven = 0

    def count(_row: object) -> str:
        nonlocal uneven
        uneven += 1
        return "skip"

    try:
        table = pa_csv.read_csv(
            pa.py_buffer(data),
            read_options=pa_csv.ReadOptions(autogenerate_column_names=True, block_size=1 << 24),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=count
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={f"f{i}": pa.string() for i in range(len(first))},
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if uneven or table.num_rows == 0:
        return None
    if table.num_columns == 0:
        return None
    # rows of empty cells are skipped: test the first column everywhere, the others only
    # where it is empty (few rows), so a long file costs one pass
    maybe = np.flatnonzero(_empty(table.column(0)))
    for column in table.columns[1:]:
        if not len(maybe):
            break
        maybe = maybe[_empty(column.take(pa.array(maybe)))]
    if len(maybe) and maybe[0] == 0:
        return None
    header = [str(v) for v in table.slice(0, 1).to_pylist()[0].values()]
    keep = np.ones(table.num_rows, dtype=bool)
    keep[maybe] = False
    body = table.filter(pa.array(keep)).slice(1)
    # Arrow strings are fast per column; a wide file goes as one block of objects instead, as
    # pandas keeps each Arrow column apart and 10,000 of them make every later step slow
    wide = body.num_columns > WIDE_COLUMNS
    frame = body.to_pandas(
        types_mapper=None if wide else {pa.string(): pd.StringDtype("pyarrow")}.get
    )
    frame.columns = pd.Index(_header_names(header))
    out: pd.DataFrame = frame
    return out


class _TooDeep(ValueError):
    msg = "nested too deeply (a subscriber record is a flat object)"


def _loads(text: str) -> Any:
    """``json.loads``, with nesting beyond Python's recursion limit as a ``_TooDeep``."""
    try:
        return json.loads(text)
    except RecursionError:
        raise _TooDeep from None


def _read_json(text: str, where: str, lines: bool | None) -> pd.DataFrame:
    stripped = text.lstrip()
    if lines is None:
        lines = not stripped.startswith("[")
        if not lines:
            pass
        elif stripped.startswith("{"):
            try:
                _loads(stripped)
                lines = False
            except (json.JSONDecodeError, _TooDeep):
                lines = True
    if not lines:
        try:
            data = _loads(text)
        except json.JSONDecodeError as exc:
            raise SubscriberLoadError(
                f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}). "
                "Give a JSON array of objects or JSON Lines (one object per line)."
            ) from exc
        except _TooDeep as exc:
            raise SubscriberLoadError(
                f"{where}: the JSON is {exc.msg}. Give a JSON array of objects or JSON Lines."
            ) from None
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
            item = _loads(line)
        except (json.JSONDecodeError, _TooDeep) as exc:
            item = {"_unreadable": f"line {lineno} is not JSON ({exc.msg}): {line[:80]}"}
        rows.append(item if isinstance(item, dict) else {"value": item})
    return _frame(rows)


def _frame(rows: list[dict[str, Any]], columns: list[str] | None = None) -> pd.DataFrame:
    frame: pd.DataFrame = (
        pd.DataFrame.from_records(rows) if rows else pd.DataFrame(columns=columns or [])
    )
    return frame


def _read_path(path: Path, max_bytes: int = MAX_UNCOMPRESSED_BYTES) -> pd.DataFrame:
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
        data = _gunzip(data, where, max_bytes)
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
    fast = _read_utf8_csv(data, suffix)
    if fast is not None:
        return fast
    text = _decode(data, where)
    if suffix in (".json", ".jsonl", ".ndjson") or text.lstrip()[:1] in ("[", "{"):
        lines = {".json": None, ".jsonl": True, ".ndjson": True}.get(suffix)
        return _read_json(text, where, lines)
    return _read_delimited(text, where, suffix)


def _empty(column: Any) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Cells that are empty or only whitespace."""
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim_whitespace(column)
    return np.asarray(pc.equal(trimmed, "").to_numpy(zero_copy_only=False), dtype=bool)


def _read_utf8_csv(data: bytes, suffix: str) -> pd.DataFrame | None:
    """A plain UTF-8 delimited file read straight from its bytes (no decoded copy of the whole
    file); ``None`` for anything else, which then goes the decoding way."""
    head = data[:SNIFF_BYTES]
    if suffix in (".json", ".jsonl", ".ndjson") or head.startswith(_BOMS):
        return None
    if head.count(b"\x00") > len(head) // 4 or head.lstrip()[:1] in (b"[", b"{"):
        return None
    text = head.decode("utf-8", errors="ignore")  # a character cut at the end is dropped
    if not text.strip():
        return None
    delimiter = "\t" if suffix == ".tsv" else _sniff_delimiter(text)
    return _read_delimited_arrow(data, text, delimiter)


_BOMS: Final = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def _gunzip(data: bytes, where: str, max_bytes: int) -> bytes:
    """Decompress gzip (every member), refusing to expand beyond ``max_bytes`` and refusing,
    after its first MiB, a stream of nothing but NUL bytes (no list looks like that)."""
    out = io.BytesIO()
    rest = data
    try:
        while rest:
            inflate = zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer
            pending = rest
            while not inflate.eof:
                chunk = inflate.decompress(pending, 1 << 20)  # at most 1 MiB at a time
                pending = inflate.unconsumed_tail
                if not chunk and not pending:
                    break  # truncated: no more input and no end-of-stream marker
                if out.tell() == 0 and len(chunk) >= 4096 and not chunk.strip(b"\x00"):
                    raise SubscriberLoadError(
                        f"{where}: decompresses to NUL bytes only: binary data, not a list. "
                        "Export the list as CSV (UTF-8), Excel .xlsx, JSON or Parquet."
                    )
                out.write(chunk)
                if out.tell() > max_bytes:
                    raise SubscriberLoadError(
                        f"{where}: expands to more than {max_bytes:,} bytes when decompressed "
                        "(load_subscribers(max_bytes=...)); split the list into smaller files."
                    )
            if not inflate.eof:
                raise EOFError("compressed file ended before the end-of-stream marker")
            rest = inflate.unused_data.lstrip(b"\x00")
    except (zlib.error, EOFError) as exc:
        raise SubscriberLoadError(f"{where}: not a valid gzip file ({exc}).") from exc
    return out.getvalue()


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
