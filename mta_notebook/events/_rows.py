"""Finishing the log reader's SQL rows: what SQL leaves open, decided by the contract itself.

:mod:`._sql` decides what it can prove equal to the contract's functions; this module
takes each block's result, calls those functions for the rest (``parse_time``,
``resolve_status``, ``route_of_field``, ``parse_phones``: once per distinct value), files the
rows it must reject with a reason, and hands back the Events columns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa

from ..contract import dates, routes, statuses
from ..contract.events import unwrap
from ..contract.phones import parse_phones
from . import _sql
from ._body import time_field
from ._schema import KEEP_POOL
from ._statuses import StatusTables

__all__ = ["Context", "Rows", "np_bool", "own_dictionary", "patched", "pick"]


@dataclass
class Context:
    """What finishing needs across the blocks of one read."""

    tables: StatusTables
    zone: str  # naive_timezone
    blocks: int = 0  # blocks finished so far
    phones_repeat: bool = True  # whether the last look found phones repeating in a block


def np_bool(arr: Any) -> np.ndarray:
    """A boolean Arrow array as numpy, nulls as False."""
    import pyarrow.compute as pc

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def each_distinct(values: list[Any], fn: Callable[[Any], Any]) -> list[Any]:
    """``[fn(v) for v in values]``, calling ``fn`` once per distinct value."""
    seen: dict[Any, Any] = {}
    out = []
    for v in values:
        if v not in seen:
            seen[v] = fn(v)
        out.append(seen[v])
    return out


class Rows:
    """One SQL result being finished: what SQL left open is decided with the contract."""

    def __init__(self, result: pa.Table, context: Context) -> None:
        import pyarrow.compute as pc

        self.result = result
        self.context = context
        self.n = len(result)
        reason = result.column("reason")
        self.ok = ~np_bool(pc.is_valid(reason))
        self.reason = np.full(self.n, None, dtype=object)
        self.detail = np.full(self.n, None, dtype=object)
        if not self.ok.all():
            bad = np.flatnonzero(~self.ok)
            self.reason[bad] = pc.take(reason, pa.array(bad)).to_pylist()
            self.detail[bad] = pc.take(result.column("detail"), pa.array(bad)).to_pylist()

    def col(self, name: str) -> pa.ChunkedArray:
        return self.result.column(name)

    def reject(self, mask: np.ndarray, reason: str, detail: str | Sequence[str]) -> None:
        """Reject the rows of ``mask`` not rejected yet (``detail`` per row of ``mask``)."""
        rows = np.flatnonzero(mask)
        fresh = self.ok[rows]
        if isinstance(detail, str):
            details: np.ndarray = np.full(len(rows), detail, dtype=object)
        else:
            details = np.array(list(detail), dtype=object)
        self.reason[rows[fresh]] = reason
        self.detail[rows[fresh]] = details[fresh]
        self.ok[rows] = False

    def open_rows(self, name: str) -> np.ndarray:
        """Rows still usable where SQL left ``name`` for Python."""
        import pyarrow.compute as pc

        column = self.result.column(name)
        if column.null_count == len(column):
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(np_bool(pc.is_valid(column)) & self.ok)

    def time(self, raw: str, fast: str, zone: str, what: Callable[[int], str]) -> Any:
        """The SQL time column, with the times it left open read by ``parse_time``."""
        import pyarrow.compute as pc

        arr = self.col(fast)
        idx = self.open_rows(raw)
        if len(idx) == 0:
            return arr
        texts = pc.take(self.col(raw), pa.array(idx)).to_pylist()
        parsed = each_distinct(texts, lambda t: dates.parse_time(t, naive_timezone=zone))
        failed = np.array([p is None for p in parsed], dtype=bool)
        if failed.any():
            mask = np.zeros(self.n, dtype=bool)
            mask[idx[failed]] = True
            self.reject(mask, "bad-field", [what(int(i)) for i in idx[failed]])
        return patched(arr, idx[~failed], [p for p in parsed if p is not None], arr.type)

    def finish(self) -> dict[str, Any]:
        """The Events columns (full length; rows not ``ok`` are rejected)."""
        import pyarrow.compute as pc

        res = self.result
        t_raw, r_raw = (self.col(c).combine_chunks() for c in ("t_raw", "r_raw"))
        raw = res.column("raw")

        def bad_time(i: int) -> str:
            body = unwrap(json.loads(pick(raw, np.array([i]))[0]))
            field = time_field(body)
            return f"{field} {str(t_raw[i].as_py())[:40]!r} is not a time"

        def bad_received(i: int) -> str:
            return f"received_at {str(r_raw[i].as_py())[:40]!r} is not a time"

        ts = self.time("t_raw", "ts_fast", self.context.zone, bad_time)
        recv = self.time("r_raw", "recv_fast", "UTC", bad_received)
        missing = self.col("missing")
        self.reject(
            np_bool(pc.is_valid(missing)),
            "missing-field",
            [m for m in missing.to_pylist() if m is not None],
        )
        phone = self._phones()
        status_code, status, outcome = self._statuses()
        return {
            "event": res.column("event"),
            "occurred_at": pc.coalesce(ts, recv),
            "received_at": recv,
            "dated": pc.is_valid(ts),
            "message_id": res.column("message_id"),
            "external_id": res.column("external_id"),
            "phone": phone,
            "sender_name": res.column("sender_name"),
            "status_code": status_code,
            "status": status,
            "outcome": outcome,
            "route": self._routes(),
            "is_final": pc.fill_null(pc.is_in(outcome, value_set=_FINAL), False),
            "text": res.column("reply_text"),
            "tags": res.column("tags"),
            "raw": res.column("raw"),
        }

    def _phones(self) -> pa.Array:
        """The phone of each row, as ``normalize_phones`` gives it; the invalid ones rejected.

        E.164 "+1" numbers are judged in SQL already (``phone_ok``). The other spellings go to
        ``parse_phones``: once per distinct value while the log repeats its numbers (a real log
        has several events per number), else row for row, with a fresh look every few blocks.
        """
        import pyarrow.compute as pc

        raw = self.col("phone_raw").combine_chunks()
        ok = self.col("phone_ok").combine_chunks()
        good = np_bool(ok)
        invalid = np_bool(pc.is_valid(ok)) & ~good
        blank = np.zeros(self.n, dtype=bool)
        phone: pa.Array = pc.if_else(pa.array(good), raw, pa.nulls(self.n, raw.type))
        lane = np.flatnonzero(np_bool(pc.is_null(ok)) & np_bool(pc.is_valid(raw)))
        if len(lane):
            values = raw.take(pa.array(lane)).cast(pa.string())
            indices: pa.Array | None = None
            context = self.context
            if context.phones_repeat or context.blocks % _PHONE_LOOK_EVERY == 0:
                encoded = values.dictionary_encode()
                values, indices = encoded.dictionary, encoded.indices
                context.phones_repeat = len(values) < _PHONE_DISTINCT_SHARE * len(lane)
            context.blocks += 1
            parsed = parse_phones(values)
            e164 = pa.array(parsed["phone"].array, pa.string())
            codes = np.arange(len(lane)) if indices is None else indices.to_numpy()
            blank[lane] = parsed["missing"].to_numpy(dtype=bool)[codes]
            invalid[lane] = ~parsed["valid"].to_numpy(dtype=bool)[codes] & ~blank[lane]
            found = e164 if indices is None else pc.take(e164, indices)
            in_lane = np.zeros(self.n, dtype=bool)
            in_lane[lane] = True
            phone = pc.replace_with_mask(phone, pa.array(in_lane), found.cast(raw.type))
        if blank.any():
            names = pc.take(self.col("event"), pa.array(np.flatnonzero(blank))).to_pylist()
            self.reject(blank, "missing-field", [f"{e} has a blank phone number" for e in names])
        if invalid.any():
            bad = pc.take(raw, pa.array(np.flatnonzero(invalid))).to_pylist()
            self.reject(
                invalid,
                "bad-field",
                [f"phone {str(v)[:40]!r} is not a valid phone number" for v in bad],
            )
        return phone

    def _statuses(self) -> tuple[Any, Any, Any]:
        """The SQL status columns, with the numbers it left open mapped by ``resolve_status``."""
        import pyarrow.compute as pc

        code, status, outcome = self.col("status_code"), self.col("status"), self.col("outcome")
        idx = self.open_rows("s_slow")
        if len(idx) == 0:
            return code, status, outcome
        tables = self.context.tables
        texts = pc.take(self.col("s_slow"), pa.array(idx)).to_pylist()
        infos = each_distinct(
            texts,
            lambda t: statuses.resolve_status(
                json.loads(t), codes=tables.codes, names=tables.names
            ),
        )
        return (
            patched(code, idx, [i.status_code for i in infos], pa.string()),
            patched(status, idx, [i.status for i in infos], pa.string()),
            patched(outcome, idx, [i.outcome for i in infos], pa.string()),
        )

    def _routes(self) -> Any:
        """The SQL route, unless an explicit route field names one (``route_of_field``)."""
        import pyarrow.compute as pc

        route: Any = self.col("route")
        decided = np.zeros(self.n, dtype=bool)
        for column in _sql.EXPLICIT_ROUTE_COLUMNS:
            idx = self.open_rows(column)
            idx = idx[~decided[idx]]
            if len(idx) == 0:
                continue
            texts = pc.take(self.col(column), pa.array(idx)).to_pylist()
            named = each_distinct(texts, lambda t: routes.route_of_field(json.loads(t)))
            hit = np.array([r is not None for r in named], dtype=bool)
            route = patched(route, idx[hit], [r for r in named if r is not None], pa.string())
            decided[idx[hit]] = True
        return route


_FINAL: Final = pa.array(sorted(statuses.FINAL_OUTCOMES), pa.string())
#: Phones are parsed once per distinct value while a block has fewer distinct numbers than this
#: share of its rows; otherwise row for row, looking again every this many blocks.
_PHONE_DISTINCT_SHARE: Final = 0.8
_PHONE_LOOK_EVERY: Final = 8


def own_dictionary(column: Any, values: Sequence[str]) -> pa.ChunkedArray:
    """An ENUM column over a dictionary of our own (DuckDB's would pin its result)."""
    import pyarrow.compute as pc

    dictionary = _DICTIONARIES.setdefault(tuple(values), pa.array(list(values), pa.string()))
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    out = []
    for chunk in chunks:
        position = pc.index_in(chunk.dictionary, value_set=dictionary).cast(pa.uint8())
        indices = pc.take(position, chunk.indices, memory_pool=KEEP_POOL)
        out.append(pa.DictionaryArray.from_arrays(indices, dictionary))
    return pa.chunked_array(out, pa.dictionary(pa.uint8(), pa.string()))


_DICTIONARIES: dict[tuple[str, ...], pa.Array] = {}


def patched(arr: Any, idx: np.ndarray, values: list[Any], typ: pa.DataType) -> Any:
    """``arr`` with the rows ``idx`` (ascending) replaced by ``values``."""
    import pyarrow.compute as pc

    if len(idx) == 0:
        return arr
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    kind = arr.type
    if pa.types.is_dictionary(kind):
        arr = arr.cast(kind.value_type)
    mask = np.zeros(len(arr), dtype=bool)
    mask[idx] = True
    out: pa.Array = pc.replace_with_mask(arr, pa.array(mask), pa.array(values, typ).cast(arr.type))
    return out.cast(kind)


def pick(column: pa.ChunkedArray, rows: np.ndarray) -> list[Any]:
    """Python values of ``column`` at ``rows`` without concatenating its chunks (few rows)."""
    chunks = column.chunks
    bounds = np.cumsum([0, *(len(c) for c in chunks)])
    which = np.searchsorted(bounds, rows, side="right") - 1
    out: list[Any] = [None] * len(rows)
    for k in np.unique(which).tolist():
        sel = np.flatnonzero(which == k)
        vals = chunks[k].take(pa.array(rows[sel] - bounds[k])).to_pylist()
        for i, v in zip(sel.tolist(), vals, strict=True):
            out[i] = v
    return out
