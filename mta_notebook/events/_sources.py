"""Every supported file shape fed to the loader as lines of JSON: JSON Lines (read or memory
mapped, in blocks), a JSON array, CSV with a body column or the payload fields as columns, and
Parquet (an Events file written by ``EventLog.to_parquet`` is taken as it is).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

import numpy as np
import pyarrow as pa

from .._errors import WebhookLogError
from . import _files
from ._files import block_lines, mapped_blocks, open_file, sniff
from ._schema import EVENT_COLUMNS, KEPT_SCHEMA, NEW_COLUMNS, RAW_KEPT_CHARS, rejected_table
from ._sql import quote_ident

if TYPE_CHECKING:
    from ._loader import Loader

__all__ = ["Reader"]

_RAW_BODY_COLUMNS: Final = ("raw_body", "body", "payload")
_SIGNATURE_COLUMNS: Final = ("x_signature", "x-signature", "signature")


class Reader:
    """Feeds every supported file shape to a :class:`Loader`."""

    def __init__(
        self, loader: Loader, progress: Any, max_bytes: int = _files.DEFAULT_MAX_BYTES
    ) -> None:
        self.loader = loader
        self.progress = progress
        self.max_bytes = max_bytes

    def file(self, path: Path) -> None:
        name = str(path)
        stream, raw = open_file(path, self.max_bytes)
        with raw, stream:
            head = stream.read(4096)
            kind = sniff(head, path)
            if kind == "parquet":
                self._parquet(path, name)
                self.progress.update(path.stat().st_size)
                return
            if stream is not raw and b"\x00" in head:  # JSON and CSV text never hold NUL
                raise WebhookLogError(
                    f"{name}: decompresses to binary data (NUL bytes), not JSON or CSV text; "
                    "check the file (a gzip of NUL bytes is a decompression bomb)"
                )
            if kind in ("csv", "array"):
                data = head
                if kind == "csv" and stream is not raw:  # the header line ends, or it is no CSV
                    data += stream.read(_files.MAX_LINE_BYTES)
                    if b"\n" not in data and len(data) > _files.MAX_LINE_BYTES:
                        raise WebhookLogError(
                            f"{name}: the first line runs past {_files.MAX_LINE_BYTES:,} bytes; "
                            "the file is not a CSV webhook log (or a decompression bomb)"
                        )
                data += stream.read()
                self.progress.update(path.stat().st_size)
                if kind == "csv":
                    self._csv(data, name)
                elif not self._array(data, name):
                    self._jsonl(io.BytesIO(data), name, None, b"")  # not an array after all
                return
            mapped = mapped_blocks(raw) if stream is raw else None
            if mapped is not None:
                self._jsonl(raw, name, None, b"", mapped)
            else:
                self._jsonl(stream, name, raw, head, max_line=_files.MAX_LINE_BYTES)

    def _jsonl(
        self,
        stream: IO[bytes],
        name: str,
        raw: IO[bytes] | None,
        head: bytes,
        blocks: Iterator[memoryview] | None = None,
        max_line: int | None = None,
    ) -> None:
        base = 0
        last = 0
        first = True
        if blocks is None:
            blocks = _files.blocks(stream, head, max_line=max_line, name=name)
        for block in blocks:
            if first and bytes(block[:3]) == b"\xef\xbb\xbf":
                block[:3] = b"   "  # keep offsets; a BOM is not content
            first = False
            strings, index, bad_utf8, count = block_lines(block)
            if bad_utf8:
                self._bad_utf8(block, bad_utf8, base, name)
            self.loader.submit(strings, index + base + 1, name)
            base += count
            if raw is not None:
                pos = raw.tell()
                self.progress.update(pos - last)
                last = pos
            elif blocks is not None:
                self.progress.update(len(block))

    def _bad_utf8(self, block: memoryview, bad: list[int], base: int, name: str) -> None:
        lines = bytes(block).split(b"\n")
        self.loader.store.rejected.append(
            rejected_table(
                [f"{name}:{base + i + 1}" for i in bad],
                "not-utf8",
                "the line is not valid UTF-8",
                # only the kept start is decoded; the length is the line's as read
                [
                    lines[i][: RAW_KEPT_CHARS * 4].decode("utf-8", "replace").rstrip("\r")
                    for i in bad
                ],
                [len(lines[i].rstrip(b"\r")) for i in bad],
            )
        )

    def _array(self, data: bytes, name: str) -> bool:
        """A JSON array of bodies; False when the file is not one valid array."""
        self.loader.drain()
        con = self.loader.con
        try:
            text = data.decode("utf-8-sig")
            table = con.sql(
                "SELECT unnest(json_extract(?::JSON, '$[*]'))::VARCHAR AS text", params=[text]
            ).to_arrow_table()
        except Exception:
            return False
        texts = table.column("text").combine_chunks()
        self.loader.lines(texts, np.arange(1, len(texts) + 1), name)
        return True

    def _csv(self, data: bytes, name: str) -> None:
        import pyarrow.csv as pacsv

        bad_rows: list[tuple[int | None, str]] = []

        def on_invalid(row: Any) -> str:
            bad_rows.append((row.number, str(row.text)))
            return "skip"

        import csv

        head = data.split(b"\n", 1)[0].decode("utf-8-sig", "replace")
        delim = max(",;\t", key=head.count)
        try:
            names = next(csv.reader([head], delimiter=delim), [])
        except csv.Error as exc:  # a NUL byte or an endless field in the header line
            raise WebhookLogError(
                f"{name}: the CSV header is unreadable ({exc}); check the file"
            ) from exc
        try:
            table = pacsv.read_csv(
                io.BytesIO(data),
                parse_options=pacsv.ParseOptions(
                    delimiter=delim, newlines_in_values=True, invalid_row_handler=on_invalid
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True
                ),
                read_options=pacsv.ReadOptions(use_threads=False),
            )
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise WebhookLogError(f"{name}: not readable as CSV ({exc}); check the file") from exc
        if bad_rows:
            self.loader.store.rejected.append(
                rejected_table(
                    [f"{name}:{n if n is not None else '?'}" for n, _ in bad_rows],
                    "bad-csv-row",
                    "the CSV row has the wrong number of fields",
                    [t for _, t in bad_rows],
                )
            )
        self._table(table, name, first_line=2)

    def _table(self, table: pa.Table, name: str, first_line: int) -> None:
        """Rows of a CSV/Parquet table: a raw-body column, or the payload fields as columns."""
        table = table.cast(pa.schema([(f.name, pa.string()) for f in table.schema]))
        lower = {c.lower().strip(): c for c in table.column_names}
        body_col = next((lower[c] for c in _RAW_BODY_COLUMNS if c in lower), None)
        self.loader.drain()
        con = self.loader.con
        con.register("t_in", table)
        try:
            if body_col is not None:
                sig_col = next(
                    (lower[c] for c in _SIGNATURE_COLUMNS if c in lower),
                    None,
                )
                parts = [f"raw_body := coalesce({quote_ident(body_col)}, '')"]
                if "received_at" in lower:
                    parts.append(f"received_at := {quote_ident(lower['received_at'])}")
                if "event" in lower:
                    parts.append(f"event := {quote_ident(lower['event'])}")
                if sig_col is not None:
                    parts.append(f"signature := {quote_ident(sig_col)}")
                sql = f"SELECT to_json(struct_pack({', '.join(parts)}))::VARCHAR AS text FROM t_in"
            else:
                sql = "SELECT to_json(t_in)::VARCHAR AS text FROM t_in"
            texts = con.sql(sql).to_arrow_table().column("text").combine_chunks()
        finally:
            con.unregister("t_in")
        self.loader.lines(texts, np.arange(first_line, first_line + len(texts)), name)

    def _parquet(self, path: Path, name: str) -> None:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        if set(EVENT_COLUMNS) <= set(table.column_names):
            table = table.select(list(EVENT_COLUMNS)).cast(KEPT_SCHEMA)
            self.loader.add_events(table)
            return
        if set(EVENT_COLUMNS) - set(NEW_COLUMNS) <= set(table.column_names):
            # an Events file of an earlier version: its statuses were read with another table
            table = table.select(["received_at", "event", "raw"])
            table = table.rename_columns(["received_at", "event", "raw_body"])
        self._table(table, name, first_line=1)
