"""The Events and rejected tables' columns and Arrow types, and the frame built from them.

Everything that fills an :class:`EventLog` (the log reader, ``fetch_deliveries``) keeps its rows
in ``KEPT_SCHEMA`` while loading and turns them into the pandas frame with :func:`events_frame`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa

from ._sql import ENUM_COLUMNS

__all__ = [
    "EVENT_COLUMNS",
    "EVENT_SCHEMA",
    "KEEP_POOL",
    "KEPT_SCHEMA",
    "NEW_COLUMNS",
    "RAW_KEPT_CHARS",
    "REJECTED_COLUMNS",
    "REJECTED_SCHEMA",
    "empty_events",
    "empty_rejected",
    "events_frame",
    "rejected_frame",
    "rejected_table",
    "release_memory",
]

EVENT_COLUMNS: Final[tuple[str, ...]] = (
    "event",
    "occurred_at",
    "received_at",
    "dated",
    "message_id",
    "external_id",
    "phone",
    "sender_name",
    "status_code",
    "status",
    "outcome",
    "route",
    "is_final",
    "text",
    "tags",
    "source",
    "raw",
)
REJECTED_COLUMNS: Final[tuple[str, ...]] = ("source", "reason", "detail", "raw", "raw_bytes")
#: The most characters of a rejected line kept in ``raw`` (``raw_bytes`` has its whole length
#: in UTF-8 bytes): enough to see what the line was, without keeping a huge file twice.
RAW_KEPT_CHARS: Final = 4096

_TS = pa.timestamp("us", tz="UTC")
_TYPES: Final[dict[str, pa.DataType]] = {
    "occurred_at": _TS,
    "received_at": _TS,
    "dated": pa.bool_(),
    "message_id": pa.int64(),
    "is_final": pa.bool_(),
}
EVENT_SCHEMA: Final = pa.schema([(c, _TYPES.get(c, pa.string())) for c in EVENT_COLUMNS])
REJECTED_SCHEMA: Final = pa.schema(
    [(c, pa.int64() if c == "raw_bytes" else pa.string()) for c in REJECTED_COLUMNS]
)
#: The shape events are kept in while loading: text as ``large_string``, the layout pandas
#: keeps its "str" columns in (DuckDB hands it over so), so the frame takes it without a copy;
#: the columns with a fixed set of values dictionary-encoded (DuckDB ENUMs, one byte a row).
KEPT_SCHEMA: Final = pa.schema(
    [
        pa.field(f.name, pa.dictionary(pa.uint8(), pa.string()))
        if f.name in ENUM_COLUMNS
        else pa.field(f.name, pa.large_string())
        if pa.types.is_string(f.type)
        else f
        for f in EVENT_SCHEMA
    ]
)
#: Columns an Events Parquet of an earlier version lacks; its rows are read again from ``raw``.
NEW_COLUMNS: Final = ("dated", "outcome")

# The events kept until the end live in the system allocator: interleaved with the per-block
# temporaries in pyarrow's default mimalloc pool they fragment it (about 10 % more peak memory).
KEEP_POOL: Final = pa.system_memory_pool()


def empty_events() -> pd.DataFrame:
    """An Events frame without rows."""
    return events_frame([KEPT_SCHEMA.empty_table()])


def empty_rejected() -> pd.DataFrame:
    """A rejected-lines frame without rows."""
    frame: pd.DataFrame = REJECTED_SCHEMA.empty_table().to_pandas()
    return frame


def rejected_table(
    sources: Any, reason: Any, detail: Any, raw: Any, raw_bytes: Any = None
) -> pa.Table:
    """Rejected lines; ``reason`` and ``detail`` are one text for all lines or one per line.

    ``raw`` keeps the first ``RAW_KEPT_CHARS`` characters of each line and ``raw_bytes`` its
    length (given when ``raw`` is not the line as read, else measured), so a file of huge
    rejected lines costs kilobytes, not its size again.
    """
    import pyarrow.compute as pc

    n = len(sources)
    columns = [[v] * n if isinstance(v, str) else v for v in (sources, reason, detail)]
    arrays = [
        v if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(v, pa.string())
        for v in columns
    ]
    lines = raw if isinstance(raw, (pa.Array, pa.ChunkedArray)) else pa.array(raw, pa.string())
    length = (
        pc.fill_null(pc.cast(pc.binary_length(lines), pa.int64()), 0)
        if raw_bytes is None
        else pa.array(raw_bytes, pa.int64())
    )
    if n and (pc.max(length).as_py() or 0) > RAW_KEPT_CHARS:  # bytes >= characters
        lines = pc.utf8_slice_codeunits(lines, 0, RAW_KEPT_CHARS)
    return pa.table([*arrays, pc.cast(lines, pa.string()), length], schema=REJECTED_SCHEMA)


def rejected_frame(tables: Sequence[pa.Table]) -> pd.DataFrame:
    """The rejected-lines frame from the tables gathered while loading."""
    if not tables:
        return empty_rejected()
    frame: pd.DataFrame = pa.concat_tables(tables).to_pandas()
    return frame


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (``None`` elsewhere)."""
    import ctypes

    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return None
    return trim


def release_memory() -> None:
    """Hand freed memory back to the OS: pyarrow's pool, and glibc's heap (the system pool and
    numpy allocate there, and glibc keeps freed pages otherwise, hundreds of MB at 5M events).
    """
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def events_frame(tables: list[pa.Table]) -> pd.DataFrame:
    """The Events frame from the kept tables, which it empties as it goes.

    Text is already ``large_string``, pandas' own layout, and is taken as it is; the dictionary
    columns are spelled out and the numbers converted column by column and block by block, each
    piece freed once converted, so the frame costs little more memory than the events did.
    """
    import pyarrow.compute as pc

    data: dict[str, Any] = {}
    text_dtype: Any = pd.StringDtype(na_value=np.nan)  # pandas' default "str"
    for name in EVENT_COLUMNS:
        target = EVENT_SCHEMA.field(name).type
        text = pa.types.is_string(target)
        chunks: list[pa.Array] = []
        typ = pa.large_string() if text else target
        for i, table in enumerate(tables):
            column = table.column(name)
            tables[i] = table.drop_columns([name])
            if column.type != typ:
                column = pc.cast(column, typ, memory_pool=KEEP_POOL)
            chunks.extend(column.chunks)
            del column
        whole = pa.chunked_array(chunks, typ)
        chunks.clear()
        if text:  # the "str" dtype over the large_string chunks as they are
            data[name] = pd.Series(text_dtype.__from_arrow__(whole))
        else:
            data[name] = whole.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
        del whole
    df: pd.DataFrame = pd.DataFrame(data, copy=False)
    for col in ("is_final", "dated"):
        df[col] = df[col].astype(bool)
    release_memory()  # what the conversion freed, back to the OS rather than kept by glibc
    return df
