"""The events kept while loading: each row filed as an event or a rejected line, exact
duplicate deliveries dropped through a sorted index of the kept bodies' hashes.

Both ways into an :class:`EventLog` (the log reader and ``fetch_deliveries``) file their rows
here, so a row is judged, numbered and de-duplicated the same way whatever it came from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from ._rows import Rows, own_dictionary, pick
from ._schema import (
    EVENT_COLUMNS,
    KEEP_POOL,
    KEPT_SCHEMA,
    events_frame,
    rejected_frame,
    rejected_table,
)
from ._sql import ENUM_COLUMNS

if TYPE_CHECKING:
    from ._log import EventLog

__all__ = ["EventStore"]


class EventStore:
    """Kept events (``KEPT_SCHEMA`` tables), the duplicate index over them, rejected lines."""

    def __init__(self) -> None:
        self.events: list[pa.Table] = []
        self.starts: list[int] = []  # global row index of each events table's first row
        self.total = 0
        # Sorted runs of (hash of a kept raw body, its global row index).
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []
        self.rejected: list[pa.Table] = []

    def event_log(self) -> EventLog:
        """The :class:`EventLog` of everything filed (the store is emptied)."""
        from ._log import EventLog

        events = self.events or [KEPT_SCHEMA.empty_table()]
        self.events, self.runs = [], []  # free the index before the frame is built
        rejected, self.rejected = self.rejected, []
        return EventLog(df=events_frame(events), rejected=rejected_frame(rejected))

    def file(self, rows: Rows, texts: pa.Array, name: str) -> None:
        """File each row of a finished result as an event or a rejected line of ``name``.

        ``rows.result`` has the line numbers (``line``), the hash of each raw body (``dkey``)
        and what :meth:`Rows.finish` reads; ``texts`` are the lines as read.
        """
        import pyarrow.compute as pc

        result = rows.result
        cols = rows.finish()
        prefix = name + ":"
        bad = np.flatnonzero(~rows.ok)
        if len(bad):
            take = pa.array(bad)
            lines = pc.cast(pc.take(result.column("line"), take), pa.string())
            self.rejected.append(
                rejected_table(
                    pc.binary_join_element_wise(prefix, lines, ""),
                    pa.array(rows.reason[bad], pa.string()),
                    pa.array(rows.detail[bad], pa.string()),
                    pc.utf8_rtrim(pc.take(texts, take), characters="\r\n"),
                )
            )
        if not rows.ok.any():
            return
        line = pc.cast(result.column("line"), pa.large_string())
        cols["source"] = pc.binary_join_element_wise(
            pa.scalar(prefix, pa.large_string()), line, pa.scalar("", pa.large_string())
        )
        for column, (_, values) in ENUM_COLUMNS.items():
            cols[column] = own_dictionary(cols[column], values)
        table = pa.table([cols[c] for c in EVENT_COLUMNS], schema=KEPT_SCHEMA)
        keys = result.column("dkey").to_numpy()
        if len(bad):
            table = pc.filter(table, pa.array(rows.ok))
            keys = keys[rows.ok]
        self.add(table, keys)

    def add(self, table: pa.Table, keys: np.ndarray) -> None:
        """Keep ``table``'s events, minus exact duplicates of bodies already kept (rejected).

        ``keys`` are a 64-bit hash of each row's ``raw``; equal hashes are compared by text.
        """
        import pyarrow.compute as pc

        keys = keys.astype(np.uint64, copy=False)
        n = len(keys)
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        first, hit, same = self._earlier(sk, order)
        dup = np.flatnonzero(first >= 0)
        if len(dup):
            dup = dup[self._same_raw(table, dup, first[dup])]
        keep = np.ones(n, dtype=bool)
        keep[dup] = False
        if len(dup):
            sources = self._take("source", first[dup], table)
            self.rejected.append(
                rejected_table(
                    pick(table.column("source"), dup),
                    "duplicate",
                    pc.binary_join_element_wise("same body as ", sources, ""),
                    pick(table.column("raw"), dup),
                )
            )
        # Always a copy into the keep pool, duplicates or not: a column still pointing into
        # DuckDB's result would keep all of that result (every column) alive until the end.
        table = pc.filter(table, pa.array(keep), memory_pool=KEEP_POOL)
        # Remember the new bodies (first occurrences only) by their row in the kept table.
        new = ~hit & ~same & keep[order]
        self._remember(sk[new], (np.cumsum(keep) - 1)[order[new]] + self.total)
        self.events.append(table)
        self.starts.append(self.total)
        self.total += len(table)

    def _earlier(
        self, sk: np.ndarray, order: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For sorted keys ``sk`` (``order`` the sort): the global row of an earlier body with
        the same hash (-1 if none), whether it is in an earlier table, whether in this one."""
        n = len(sk)
        first = np.full(n, -1, dtype=np.int64)
        hit = np.zeros(n, dtype=bool)  # in sorted order: the body was seen in an earlier chunk
        for run_h, run_loc in self.runs:
            # Sorted needles: numpy's binary search then walks forward, fast and cache friendly.
            pos = np.minimum(np.searchsorted(run_h, sk), len(run_h) - 1)
            found = (run_h[pos] == sk) & ~hit
            first[order[found]] = run_loc[pos[found]]
            hit |= found
        same = np.concatenate(([False], sk[1:] == sk[:-1]))
        if same.any():
            run_first = np.maximum.accumulate(np.where(same, 0, np.arange(n)))
            inner = order[same]
            inner_first = order[run_first[same]]
            fresh = first[inner] < 0
            first[inner[fresh]] = self.total + inner_first[fresh]
        return first, hit, same

    def _remember(self, keys: np.ndarray, loc: np.ndarray) -> None:
        """Add sorted ``keys`` at global rows ``loc``; runs merge like a binary counter
        (O(n log n) in all, few runs to search)."""
        if len(keys):
            self.runs.append((keys, loc))
        while len(self.runs) > 1 and len(self.runs[-2][0]) <= 2 * len(self.runs[-1][0]):
            (h1, l1), (h2, l2) = self.runs[-2], self.runs[-1]
            merged_h, merged_loc = np.concatenate((h1, h2)), np.concatenate((l1, l2))
            sort = np.argsort(merged_h, kind="stable")
            self.runs[-2:] = [(merged_h[sort], merged_loc[sort])]

    def _take(self, column: str, loc: np.ndarray, pending: pa.Table) -> pa.Array:
        """Values of ``column`` at global rows ``loc`` (kept tables, then ``pending``)."""
        tables = [*self.events, pending]
        starts = np.array([*self.starts, self.total], dtype=np.int64)
        which = np.searchsorted(starts, loc, side="right") - 1
        out: list[Any] = [None] * len(loc)
        for t in np.unique(which).tolist():
            sel = np.flatnonzero(which == t)
            vals = pick(tables[t].column(column), loc[sel] - starts[t])
            for i, v in zip(sel.tolist(), vals, strict=True):
                out[i] = v
        return pa.array(out, pa.string())

    def _same_raw(self, table: pa.Table, dup: np.ndarray, first: np.ndarray) -> np.ndarray:
        """Which hash matches are exact duplicates (same raw text), not collisions."""
        mine = pick(table.column("raw"), dup)
        theirs = self._take("raw", first, table).to_pylist()
        return np.array([a == b for a, b in zip(mine, theirs, strict=True)], dtype=bool)
