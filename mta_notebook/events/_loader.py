"""The line pipeline: blocks of lines through the generated SQL on DuckDB, finished with the
contract's functions (:class:`Rows`), re-verified when a secret is given, filed in the store.

DuckDB parses block N+1 on a worker thread while Python finishes block N; a block DuckDB
chokes on is split in halves until the culprit lines are found and rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from .._errors import ValidationError
from . import _sql
from ._rows import Context, Rows, np_bool
from ._schema import rejected_table
from ._signature import FORGED, forged
from ._statuses import status_tables
from ._store import EventStore

if TYPE_CHECKING:
    import duckdb

__all__ = ["Loader"]


class Loader:
    """One read: a DuckDB connection with the reader's SQL, and the store it files into."""

    def __init__(
        self, secret: str | None, status_map: Mapping[Any, str] | None, naive_timezone: str
    ) -> None:
        import duckdb

        tables = status_tables(status_map)
        self.con: duckdb.DuckDBPyConnection = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")
        self.con.execute("SET arrow_large_buffer_size = true")  # text as large_string
        # Each run holds one block: hand freed memory back instead of caching it for later runs.
        self.con.execute("SET allocator_flush_threshold = '32MB'")
        self.con.execute("SET allocator_bulk_deallocation_flush_threshold = '32MB'")
        zone = _checked_zone(naive_timezone, self.con)
        self.con.execute(_sql.macros())
        self.sql = _sql.build_sql(tables, secret is not None, zone)
        self.context = Context(tables, zone)
        self.secret = secret
        self.store = EventStore()
        self.pool: Any = None
        self.pending: list[tuple[Any, pa.Array, np.ndarray, str]] = []

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        self.con.close()

    # -- pipelined batches: DuckDB parses chunk N+1 while Python files chunk N ----------------
    def submit(self, texts: pa.Array, numbers: np.ndarray, name: str) -> None:
        """Like :meth:`lines`, but the SQL runs on a worker thread while the caller reads on."""
        from concurrent.futures import ThreadPoolExecutor

        if len(texts) == 0:
            return
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-log")
        future = self.pool.submit(self._run, self._chunk(texts, numbers))
        self.pending.append((future, texts, numbers, name))
        while len(self.pending) > 1:
            self._finish_one()

    def drain(self) -> None:
        """Finish every submitted chunk (before any other use of the connection)."""
        while self.pending:
            self._finish_one()

    def _finish_one(self) -> None:
        future, texts, numbers, name = self.pending.pop(0)
        try:
            result = future.result()
        except Exception:  # let the synchronous path bisect to the lines DuckDB choked on
            self._lines_now(texts, numbers, name)
            return
        self._finish(result, texts, name)

    # -- one batch of lines -----------------------------------------------------------------
    def lines(self, texts: pa.Array, numbers: np.ndarray, name: str) -> None:
        """Parse ``texts`` (string array), numbered ``numbers`` (1-based), from ``name``."""
        self.drain()
        self._lines_now(texts, numbers, name)

    def _lines_now(self, texts: pa.Array, numbers: np.ndarray, name: str) -> None:
        if len(texts) == 0:
            return
        chunk = self._chunk(texts, numbers)
        try:
            result = self._run(chunk)
        except Exception as exc:  # DuckDB choked on something: bisect to the culprit lines
            if len(chunk) == 1:
                self._reject_rows(chunk, name, "not-json", f"unreadable: {type(exc).__name__}")
                return
            half = len(chunk) // 2
            self._lines_now(texts.slice(0, half), numbers[:half], name)
            self._lines_now(texts.slice(half), numbers[half:], name)
            return
        self._finish(result, texts, name)

    def _finish(self, result: pa.Table, texts: pa.Array, name: str) -> None:
        rows = Rows(result, self.context)
        if self.secret is not None:  # before any other reason: the body cannot be trusted
            bad = self._forged(result)
            rows.ok |= bad
            rows.reject(bad, "bad-signature", FORGED)
        self.store.file(rows, texts, name)
        del result, rows
        # Per-block temporaries are freed now; hand their pages back so they do not add up
        # with the growing events at the peak.
        pa.default_memory_pool().release_unused()

    @staticmethod
    def _chunk(texts: pa.Array, numbers: np.ndarray) -> pa.Table:
        whole = pa.table({"line": pa.array(numbers, pa.int64()), "text": texts})
        # Many small batches (zero-copy slices) let DuckDB scan them on all its threads.
        return pa.Table.from_batches(whole.to_batches(max_chunksize=8192), schema=whole.schema)

    def _run(self, chunk: pa.Table) -> pa.Table:
        self.con.register("chunk", chunk)
        try:
            result = self.con.sql(self.sql).to_arrow_table()
        finally:
            self.con.unregister("chunk")
        lines = result.column("line").to_numpy()
        if len(lines) > 1 and not bool((lines[1:] > lines[:-1]).all()):
            result = result.sort_by("line")  # DuckDB keeps insertion order; make sure of it
        return result

    def _forged(self, result: pa.Table) -> np.ndarray:
        """Rows whose record has a raw body and an X-Signature that does not match it."""
        import pyarrow.compute as pc

        assert self.secret is not None
        need = pc.and_(pc.is_valid(result.column("sig")), result.column("has_raw"))
        idx = np.flatnonzero(np_bool(need))
        bad = np.zeros(len(result), dtype=bool)
        if len(idx):
            take = pa.array(idx)
            bodies = pc.take(result.column("raw"), take).to_pylist()
            sigs = pc.take(result.column("sig"), take).to_pylist()
            bad[idx] = forged(bodies, sigs, self.secret)
        return bad

    def _reject_rows(self, chunk: pa.Table, name: str, reason: str, detail: str) -> None:
        texts = [str(t).rstrip("\r\n") for t in chunk.column("text").to_pylist()]
        sources = [f"{name}:{n}" for n in chunk.column("line").to_pylist()]
        self.store.rejected.append(rejected_table(sources, reason, detail, texts))

    def add_events(self, table: pa.Table) -> None:
        """Events already in the table's shape (Parquet written by ``EventLog.to_parquet``)."""
        self.drain()
        self.con.register("ev_in", table.select(["raw"]))
        try:
            keys = self.con.sql("SELECT hash(raw) AS h FROM ev_in").to_arrow_table()
        finally:
            self.con.unregister("ev_in")
        self.store.add(table, keys.column("h").to_numpy())


def _checked_zone(name: str, con: duckdb.DuckDBPyConnection) -> str:
    """``name`` if both zoneinfo and DuckDB know the zone, else a ValidationError."""
    from zoneinfo import ZoneInfo

    import duckdb

    try:
        ZoneInfo(name)
        con.execute("SELECT timezone(?, TIMESTAMP '2000-01-01')", [name]).fetchall()
    except (KeyError, ValueError, TypeError, duckdb.Error) as exc:
        raise ValidationError(
            f"naive_timezone={name!r} is not a time zone Python and DuckDB both know; "
            "give an IANA name such as 'America/Chicago'"
        ) from exc
    return name
