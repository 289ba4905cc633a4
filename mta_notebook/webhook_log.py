"""Load webhook logs into the Events table, vectorised with DuckDB over Arrow line buffers.

Files are read in blocks; newline offsets are found with numpy and handed to DuckDB as an Arrow
string column (no Python object per line). One SQL pass parses each line (receiver record or
bare body, flat or ``{"data": {...}}``), re-verifies signatures (HMAC-SHA256 written in SQL),
resolves the event, status and route, normalises times and the common phone shapes, and says
why a line cannot be used. Only the rare leftovers (unusual phone formats, lines DuckDB chokes
on) go through Python.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import hmac
import html
import io
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa

from .contract.phones import normalize_phone
from .errors import WebhookLogError
from .models import DELIVERY_STATUS_CODES, EVENT_TYPES, FINAL_STATUSES, STATUS_NAMES

if TYPE_CHECKING:
    import duckdb

__all__ = ["EVENT_COLUMNS", "REJECTED_COLUMNS", "EventLog", "read_bodies", "read_webhook_log"]

EVENT_COLUMNS: Final[tuple[str, ...]] = (
    "event",
    "occurred_at",
    "received_at",
    "message_id",
    "external_id",
    "phone",
    "sender_name",
    "status_code",
    "status",
    "route",
    "is_final",
    "text",
    "tags",
    "source",
    "raw",
)
REJECTED_COLUMNS: Final[tuple[str, ...]] = ("source", "reason", "detail", "raw")

_TS = pa.timestamp("us", tz="UTC")
_EVENT_SCHEMA: Final = pa.schema(
    [
        ("event", pa.string()),
        ("occurred_at", _TS),
        ("received_at", _TS),
        ("message_id", pa.int64()),
        ("external_id", pa.string()),
        ("phone", pa.string()),
        ("sender_name", pa.string()),
        ("status_code", pa.string()),
        ("status", pa.string()),
        ("route", pa.string()),
        ("is_final", pa.bool_()),
        ("text", pa.string()),
        ("tags", pa.string()),
        ("source", pa.string()),
        ("raw", pa.string()),
    ]
)
_REJECTED_SCHEMA: Final = pa.schema([(c, pa.string()) for c in REJECTED_COLUMNS])

# The events kept until the end live in the system allocator: interleaved with the per-block
# temporaries in pyarrow's default mimalloc pool they fragment it (about 10 % more peak memory).
_KEEP_POOL: Final = pa.system_memory_pool()
_BLOCK_BYTES: Final = 64 << 20  # fewer, larger SQL runs: each run costs ~50 ms to plan
_RAW_BODY_COLUMNS: Final = ("raw_body", "body", "payload")

# Fields read from each line (receiver record fields and body fields share one struct type).
_BODY_FIELDS: Final[tuple[str, ...]] = (
    "type",
    "event",
    "messageId",
    "externalId",
    "destinationNumber",
    "number",
    "fromNumber",
    "toNumber",
    "to",
    "status",
    "senderName",
    "timestamp",
    "date",
    "message",
    "text",
    "optInType",
    "route",
    "channel",
)
# The receiver record around a body (parsed first) and the body itself (parsed second).
_RECORD: Final = json.dumps(
    {
        "received_at": "VARCHAR",
        "event": "VARCHAR",
        "raw_body": "VARCHAR",
        "body": "JSON",
        "signature": "VARCHAR",
        "headers": {"X-Signature": "VARCHAR"},
    }
)
_BODY: Final = json.dumps(
    {**dict.fromkeys(_BODY_FIELDS, "VARCHAR"), "tags": "JSON", "data": "JSON"}
)


# ---------------------------------------------------------------------------------------------
# EventLog
# ---------------------------------------------------------------------------------------------


def _empty_events() -> pd.DataFrame:
    return _events_frame(_EVENT_SCHEMA.empty_table())


def _empty_rejected() -> pd.DataFrame:
    frame: pd.DataFrame = _REJECTED_SCHEMA.empty_table().to_pandas()
    return frame


def _events_frame(table: pa.Table) -> pd.DataFrame:
    """The Events frame; ``table`` is used up (each column is freed once converted)."""
    df: pd.DataFrame = table.to_pandas(
        types_mapper={pa.int64(): pd.Int64Dtype()}.get,
        self_destruct=True,
        split_blocks=True,
        memory_pool=_KEEP_POOL,
    )
    df["is_final"] = df["is_final"].astype(bool)
    return df


@dataclass(frozen=True, repr=False)
class EventLog:
    """Webhook events (``.df``) and the lines that could not be used (``.rejected``).

    ``.df`` has the Events columns of the design (``event``, ``occurred_at``, ``received_at``,
    ``message_id``, ``external_id``, ``phone``, ``sender_name``, ``status_code``, ``status``,
    ``route``, ``is_final``, ``text``, ``tags``, ``source``, ``raw``); ``.rejected`` has
    ``source``, ``reason``, ``detail``, ``raw``. Together they account for every non-blank line.

    Examples
    --------
    >>> log = read_bodies(['{"type":"MTAWebhook.DELIVERY_STATUS","messageId":7,'
    ...                    '"destinationNumber":"(312) 555-0123","status":2}', 'oops'])
    >>> log.df[["event", "phone", "status", "route"]].to_dict("records")
    [{'event': 'delivery-status', 'phone': '+13125550123', 'status': 'delivered', 'route': 'sms'}]
    >>> log.rejected["reason"].tolist()
    ['not-json']
    """

    df: pd.DataFrame = field(default_factory=_empty_events)
    rejected: pd.DataFrame = field(default_factory=_empty_rejected)

    def __len__(self) -> int:
        return len(self.df)

    def summary(self) -> pd.DataFrame:
        """Events by type, status and route, with the first and last ``occurred_at`` of each."""
        if self.df.empty:
            empty: pd.DataFrame = pd.DataFrame(
                columns=["event", "status", "route", "events", "first", "last"]
            )
            return empty
        keys = ["event", "status", "route"]
        frame = self.df[[*keys, "occurred_at"]].copy()
        frame["status"] = frame["status"].fillna("-")
        out: pd.DataFrame = (
            frame.groupby(keys, dropna=False, observed=True)["occurred_at"]
            .agg(events="size", first="min", last="max")
            .reset_index()
        )
        out = out.sort_values(keys, ignore_index=True)
        return out

    def latest(self) -> pd.DataFrame:
        """The current status per recipient of each message, from the delivery-status events.

        One row per (``message_id``, ``phone``): the latest event wins, but a final status is
        never overwritten by a later non-final one (design, "Final status"). Columns:
        ``message_id``, ``external_id``, ``phone``, ``sender_name``, ``route``, ``status``,
        ``is_final``, ``occurred_at``.
        """
        cols = [
            "message_id",
            "external_id",
            "phone",
            "sender_name",
            "route",
            "status",
            "is_final",
            "occurred_at",
        ]
        ds = self.df.loc[self.df["event"] == "delivery-status", cols]
        ordered = ds.sort_values(["is_final", "occurred_at"], kind="stable", na_position="first")
        last = ordered.drop_duplicates(["message_id", "phone"], keep="last")
        result: pd.DataFrame = last.sort_values(["message_id", "phone"], ignore_index=True)
        return result

    def time_span(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """The earliest and latest ``occurred_at`` (``None`` when there are no events)."""
        if self.df.empty:
            return None, None
        col = self.df["occurred_at"]
        return col.min(), col.max()

    def _headline(self) -> str:
        first, last = self.time_span()
        span = f", {first} .. {last}" if first is not None else ""
        return f"EventLog: {len(self.df):,} events, {len(self.rejected):,} rejected{span}"

    def __repr__(self) -> str:
        return self._headline()

    def _repr_html_(self) -> str:
        parts = [
            f"<p><b>{html.escape(self._headline())}</b></p>",
            self.summary().to_html(index=False),
        ]
        if not self.rejected.empty:
            reasons = self.rejected["reason"].value_counts().rename_axis("reason")
            parts.append("<p>Rejected lines by reason:</p>")
            parts.append(reasons.reset_index().to_html(index=False))
        return "\n".join(parts)

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Write the events to Parquet (``read_webhook_log`` reads it back); returns the path."""
        import pyarrow.parquet as pq

        target = Path(path)
        table = pa.Table.from_pandas(self.df[list(EVENT_COLUMNS)], preserve_index=False)
        pq.write_table(table.cast(_EVENT_SCHEMA), target)
        return target


# ---------------------------------------------------------------------------------------------
# SQL
# ---------------------------------------------------------------------------------------------


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _status_case(status_map: Mapping[Any, str] | None) -> str:
    codes: dict[int, str] = dict(DELIVERY_STATUS_CODES)
    names: dict[str, str] = {n: n for n in STATUS_NAMES}
    for key, value in (status_map or {}).items():
        name = str(value).strip().lower()
        if isinstance(key, (int, np.integer)) or (isinstance(key, str) and key.strip().isdigit()):
            codes[int(key)] = name
        else:
            names[str(key).strip().lower()] = name
        names.setdefault(name, name)
    by_code = " ".join(f"WHEN {c} THEN {_q(n)}" for c, n in sorted(codes.items()))
    by_name = " ".join(f"WHEN {_q(k)} THEN {_q(n)}" for k, n in sorted(names.items()))
    exact = " ".join(f"WHEN {_q(str(c))} THEN {_q(n)}" for c, n in sorted(codes.items()))
    return (
        f"CASE WHEN f_status IS NULL THEN NULL ELSE CASE f_status {exact} ELSE "
        "CASE WHEN try_cast(f_status AS BIGINT) IS NOT NULL THEN "
        f"CASE try_cast(f_status AS BIGINT) {by_code} ELSE 'unknown' END "
        f"ELSE CASE lower(trim(f_status)) {by_name} ELSE 'unknown' END END END END"
    )


def _event_case() -> str:
    aliases: dict[str, str] = {k.lower(): v for k, v in EVENT_TYPES.items()}
    for name in EVENT_TYPES.values():
        aliases[name] = name
        aliases[name.replace("-", "_")] = name
    when = " ".join(f"WHEN {_q(k)} THEN {_q(v)}" for k, v in sorted(aliases.items()))
    canonical = ", ".join(_q(v) for v in EVENT_TYPES.values())
    exact = " ".join(f"WHEN {_q(k)} THEN {_q(v)}" for k, v in EVENT_TYPES.items())
    return (
        f"CASE WHEN f_hint IN ({canonical}) THEN f_hint "
        f"WHEN f_hint IS NULL AND f_type IN ({', '.join(_q(k) for k in EVENT_TYPES)}) "
        f"THEN CASE f_type {exact} END ELSE "
        f"coalesce(CASE lower(trim(f_hint)) {when} END, CASE lower(trim(f_type)) {when} END, "
        "CASE WHEN f_status IS NOT NULL THEN 'delivery-status' "
        "WHEN f_fromNumber IS NOT NULL AND coalesce(f_message, f_text) IS NOT NULL "
        "THEN 'message-reply' "
        "WHEN f_optInType IS NOT NULL THEN 'number-opt-in' "
        "WHEN f_destinationNumber IS NOT NULL THEN 'message-send' END) END"
    )


_NANP_RE: Final = r"(\+?1[ .-]?)?\(?[2-9][0-9]{2}\)?[ .-]?[2-9][0-9]{2}[ .-]?[0-9]{4}"
_FINAL_SQL: Final = ", ".join(_q(s) for s in sorted(FINAL_STATUSES))

_MACROS: Final = r"""
CREATE OR REPLACE MACRO mta_ts_slow(x) AS coalesce(
    CASE WHEN try_cast(x AS DOUBLE) IS NOT NULL THEN
      CASE WHEN abs(try_cast(x AS DOUBLE)) >= 1e11
           THEN try(to_timestamp(try_cast(x AS DOUBLE) / 1000.0))
           ELSE try(to_timestamp(try_cast(x AS DOUBLE))) END END,
    try_strptime(x, '%Y%m%dT%H%M%S%z'),
    try_strptime(x, '%Y-%m-%d %H:%M:%S %z'));
"""


def _build_sql(status_map: Mapping[Any, str] | None, verify: bool) -> str:
    fields = ",\n    ".join(
        f"coalesce(d.{_qi(f)}, b.{_qi(f)}) AS f_{f}" for f in _BODY_FIELDS if f not in ("event",)
    )
    sig = (
        """coalesce(o.headers['X-Signature'], o.signature,
        CASE WHEN contains(text, '"x-signature"')
             THEN json_extract_string(text, '$.headers."x-signature"') END)"""
        if verify
        else "NULL::VARCHAR"
    )
    ws = "' ' || chr(9) || chr(13) || chr(10) || chr(65279)"
    return f"""
WITH p1 AS (
  SELECT line, text,
    CASE WHEN starts_with(text, '{{') THEN TRUE
         ELSE starts_with(ltrim(text, {ws}), '{{') END AS is_obj,
    try(from_json(text, {_q(_RECORD)})) AS o
  FROM chunk
), p2 AS (
  SELECT *,
    (o.raw_body IS NOT NULL OR o.body IS NOT NULL) AS is_rec,
    coalesce(o.raw_body, o.body::VARCHAR) AS rb
  FROM p1
), p3 AS (
  SELECT *,
    CASE WHEN o IS NULL OR NOT is_obj THEN NULL WHEN is_rec THEN rb ELSE text END AS src
  FROM p2
), p4 AS (
  SELECT *,
    CASE WHEN starts_with(src, '{{') THEN TRUE
         ELSE starts_with(ltrim(src, {ws}), '{{') END AS src_obj,
    try(from_json(src, {_q(_BODY)})) AS b
  FROM p3
), p5 AS (
  SELECT *, CASE WHEN b.data IS NOT NULL THEN try(from_json(b.data, {_q(_BODY)})) END AS d
  FROM p4
), f AS (
  SELECT line, text, is_obj, o, is_rec, rb, src_obj, b,
    {sig} AS sig,
    o.raw_body IS NOT NULL AS has_raw,
    coalesce(CASE WHEN is_rec THEN o.event END, d.event, b.event) AS f_hint,
    CASE WHEN is_rec THEN nullif(o.received_at, '') END AS f_received,
    coalesce(d.tags, b.tags) AS f_tags,
    {fields}
  FROM p5
), g AS (
  SELECT *,
    {_event_case()} AS ev,
    nullif(f_senderName, '') AS sender,
    try_cast(coalesce(f_timestamp, f_date) AS TIMESTAMPTZ) AS ts0,
    try_cast(f_received AS TIMESTAMPTZ) AS recv0,
    try_cast(f_messageId AS BIGINT) AS mid
  FROM f
), g2 AS (
  SELECT *,
    CASE WHEN ts0 IS NOT NULL OR coalesce(f_timestamp, f_date) IS NULL THEN ts0
         ELSE mta_ts_slow(coalesce(f_timestamp, f_date)) END AS ts,
    CASE WHEN recv0 IS NOT NULL OR f_received IS NULL THEN recv0
         ELSE mta_ts_slow(f_received) END AS recv
  FROM g
), h AS (
  SELECT *,
    CASE ev WHEN 'message-reply' THEN coalesce(f_fromNumber, f_number)
            WHEN 'number-opt-in' THEN coalesce(f_number, f_fromNumber, f_destinationNumber)
            ELSE coalesce(f_destinationNumber, f_number, f_to, f_toNumber) END AS phone_raw,
    {_status_case(status_map)} AS st
  FROM g2
), k AS (
  SELECT *,
    CASE
      WHEN phone_raw IS NULL THEN NULL
      WHEN regexp_full_match(phone_raw, '\\+1[2-9][0-9]{{2}}[2-9][0-9]{{6}}') THEN phone_raw
      WHEN regexp_full_match(phone_raw, {_q(_NANP_RE)})
        THEN '+1' || right(regexp_replace(phone_raw, '[^0-9]', '', 'g'), 10)
      WHEN regexp_full_match(phone_raw, '\\+[2-9][0-9]{{6,14}}') THEN phone_raw
    END AS phone_fast
  FROM h
)
SELECT * EXCLUDE (text, c_msg, c_ts, c_recv),
  CASE WHEN reason IS NULL THEN NULL ELSE CASE reason
    WHEN 'not-json' THEN CASE WHEN is_rec THEN 'the record''s body is not valid JSON'
                              ELSE 'the line is not valid JSON' END
    WHEN 'not-an-event' THEN CASE WHEN NOT is_obj THEN 'the line is JSON but not an object'
                                  WHEN is_rec AND NOT src_obj
                                  THEN 'the record''s body is JSON but not an object'
                                  ELSE 'no event name, type or known event fields' END
    WHEN 'bad-field' THEN coalesce(c_msg, c_ts, c_recv)
    WHEN 'missing-field' THEN CASE WHEN phone_raw IS NULL THEN event || ' has no phone number field'
                                   ELSE 'delivery-status has no status' END
  END END AS detail,
  CASE WHEN reason IS NOT NULL THEN rtrim(text, chr(13) || chr(10)) END AS raw_line,
  CASE WHEN reason IS NULL THEN hash(raw) END AS dkey
FROM (SELECT
  line, text, sig, has_raw, is_rec, is_obj, src_obj,
  CASE
    WHEN o IS NULL THEN 'not-json'
    WHEN NOT is_obj THEN 'not-an-event'
    WHEN is_rec AND b IS NULL THEN 'not-json'
    WHEN is_rec AND NOT src_obj THEN 'not-an-event'
    WHEN ev IS NULL THEN 'not-an-event'
    WHEN f_messageId IS NOT NULL AND mid IS NULL THEN 'bad-field'
    WHEN coalesce(f_timestamp, f_date) IS NOT NULL AND ts IS NULL THEN 'bad-field'
    WHEN f_received IS NOT NULL AND recv IS NULL THEN 'bad-field'
    WHEN phone_raw IS NULL THEN 'missing-field'
    WHEN ev = 'delivery-status' AND f_status IS NULL THEN 'missing-field'
  END AS reason,
  CASE WHEN f_messageId IS NOT NULL AND mid IS NULL
       THEN 'messageId ' || left(f_messageId, 40) || ' is not an integer' END AS c_msg,
  CASE WHEN coalesce(f_timestamp, f_date) IS NOT NULL AND ts IS NULL
       THEN 'timestamp ' || left(coalesce(f_timestamp, f_date), 40) || ' is not a time'
  END AS c_ts,
  CASE WHEN f_received IS NOT NULL AND recv IS NULL
       THEN 'received_at ' || left(f_received, 40) || ' is not a time' END AS c_recv,
  ev AS event,
  coalesce(ts, recv) AS occurred_at,
  recv AS received_at,
  mid AS message_id,
  f_externalId AS external_id,
  phone_raw,
  phone_fast,
  sender AS sender_name,
  f_status AS status_code,
  st AS status,
  CASE
    WHEN lower(coalesce(f_route, f_channel)) LIKE '%imessage%' THEN 'imessage'
    WHEN lower(coalesce(f_route, f_channel)) LIKE '%sms%' THEN 'sms'
    WHEN lower(coalesce(f_route, f_channel)) LIKE '%mms%' THEN 'sms'
    WHEN nullif(trim(coalesce(f_route, f_channel)), '') IS NOT NULL THEN 'unknown'
    WHEN ev = 'number-opt-in' THEN CASE lower(f_optInType) WHEN 'imessage' THEN 'imessage'
                                    WHEN 'sms' THEN 'sms' ELSE 'unknown' END
    WHEN sender IS NOT NULL THEN 'imessage'
    ELSE 'sms'
  END AS route,
  coalesce(st IN ({_FINAL_SQL}), FALSE) AS is_final,
  CASE WHEN ev = 'message-reply' THEN coalesce(f_message, f_text) END AS reply_text,
  f_tags::VARCHAR AS tags,
  CASE WHEN is_rec THEN rb ELSE rtrim(text, chr(13) || chr(10)) END AS raw
FROM k) z
"""


def _qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ---------------------------------------------------------------------------------------------
# The line pipeline
# ---------------------------------------------------------------------------------------------


class _Loader:
    def __init__(self, secret: str | None, status_map: Mapping[Any, str] | None) -> None:
        import duckdb

        self.con: duckdb.DuckDBPyConnection = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")
        # Each run holds one block: hand freed memory back instead of caching it for later runs.
        self.con.execute("SET allocator_flush_threshold = '32MB'")
        self.con.execute("SET allocator_bulk_deallocation_flush_threshold = '32MB'")
        self.con.execute(_MACROS)
        self.sql = _build_sql(status_map, secret is not None)
        self.secret = secret
        self.events: list[pa.Table] = []
        self.pool: Any = None
        self.pending: list[tuple[Any, pa.Array, np.ndarray, str]] = []
        self.starts: list[int] = []  # global row index of each events table's first row
        self.total = 0
        # Sorted runs of (hash of a kept raw body, its global row index).
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []
        self.rejected: list[pa.Table] = []

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
        if self.secret is not None:
            result = self._verify(result, texts)
        self._split(result, name)
        del result
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

    def _verify(self, result: pa.Table, texts: pa.Array) -> pa.Table:
        """Re-check X-Signature of every record with a raw body (HMAC in C via hashlib)."""
        import pyarrow.compute as pc

        assert self.secret is not None
        need = pc.and_(pc.is_valid(result.column("sig")), result.column("has_raw"))
        idx = np.flatnonzero(need.to_numpy(zero_copy_only=False))
        if len(idx) == 0:
            return result
        take = pa.array(idx)
        bodies = pc.take(result.column("raw"), take).to_pylist()
        sigs = pc.take(result.column("sig"), take).to_pylist()
        key = self.secret.encode()
        mac = hmac.new(key, digestmod=hashlib.sha256)
        bad = np.zeros(len(result), dtype=bool)
        for i, body, sig in zip(idx.tolist(), bodies, sigs, strict=True):
            m = mac.copy()
            m.update(body.encode())
            if not hmac.compare_digest(m.hexdigest(), sig.strip().lower()):
                bad[i] = True
        if not bad.any():
            return result
        mask = pa.array(bad)
        bad_idx = pa.array(np.flatnonzero(bad))
        lines = [str(t).rstrip("\r\n") for t in pc.take(texts, bad_idx).to_pylist()]
        full = pa.array([None] * len(result), pa.string())
        full = pc.replace_with_mask(full, mask, pa.array(lines, pa.string()))
        raw_line = pc.coalesce(result.column("raw_line"), full)
        reason = pc.if_else(mask, "bad-signature", result.column("reason"))
        detail = pc.if_else(
            mask,
            "X-Signature does not match raw_body under the given secret",
            result.column("detail"),
        )
        for name, values in (("reason", reason), ("detail", detail), ("raw_line", raw_line)):
            result = result.set_column(result.schema.get_field_index(name), name, values)
        return result

    def _reject_rows(self, chunk: pa.Table, name: str, reason: str, detail: str) -> None:
        texts = [str(t).rstrip("\r\n") for t in chunk.column("text").to_pylist()]
        lines = chunk.column("line").to_pylist()
        self.rejected.append(
            pa.table(
                {
                    "source": [f"{name}:{n}" for n in lines],
                    "reason": [reason] * len(lines),
                    "detail": [detail] * len(lines),
                    "raw": texts,
                },
                schema=_REJECTED_SCHEMA,
            )
        )

    def _split(self, result: pa.Table, name: str) -> None:
        import pyarrow.compute as pc

        result = self._fix_phones(result)
        reason = result.column("reason")
        bad = pc.is_valid(reason)
        prefix = name + ":"
        if pc.any(bad).as_py():
            rej = result.filter(bad)
            src = pc.binary_join_element_wise(prefix, pc.cast(rej.column("line"), pa.string()), "")
            raw = pc.coalesce(rej.column("raw_line"), rej.column("raw"))
            self.rejected.append(
                pa.table(
                    [src, rej.column("reason"), rej.column("detail"), raw],
                    schema=_REJECTED_SCHEMA,
                )
            )
            result = pc.filter(result, pc.invert(bad), memory_pool=_KEEP_POOL)
        if len(result) == 0:
            return
        line = pc.cast(result.column("line"), pa.string())
        src = pc.binary_join_element_wise(prefix, line, "", memory_pool=_KEEP_POOL)
        cols = {c: result.column(c) for c in EVENT_COLUMNS if c not in ("source", "phone", "text")}
        cols["text"] = result.column("reply_text")
        cols["source"] = src
        cols["phone"] = result.column("phone_fast")
        table = pa.table([cols[c] for c in EVENT_COLUMNS], schema=_EVENT_SCHEMA)
        self._add(table, result.column("dkey").to_numpy())

    def _add(self, table: pa.Table, keys: np.ndarray) -> None:
        """Keep ``table``'s events, minus exact duplicates of bodies already kept (rejected)."""
        import pyarrow.compute as pc

        keys = keys.astype(np.uint64, copy=False)
        n = len(keys)
        first = np.full(n, -1, dtype=np.int64)  # global index of the earlier identical body
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
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
        dup = np.flatnonzero(first >= 0)
        if len(dup):
            dup = dup[self._same_raw(table, dup, first[dup])]
        keep = np.ones(n, dtype=bool)
        keep[dup] = False
        if len(dup):
            sources = self._take("source", first[dup], table)
            self.rejected.append(
                pa.table(
                    [
                        pa.array(_pick(table.column("source"), dup), pa.string()),
                        pa.array(["duplicate"] * len(dup), pa.string()),
                        pc.binary_join_element_wise("same body as ", sources, ""),
                        pa.array(_pick(table.column("raw"), dup), pa.string()),
                    ],
                    schema=_REJECTED_SCHEMA,
                )
            )
            table = pc.filter(table, pa.array(keep), memory_pool=_KEEP_POOL)
        # Remember the new bodies (first occurrences only) by their row in the kept table.
        new = ~hit & ~same & keep[order]
        uk = sk[new]
        loc = (np.cumsum(keep) - 1)[order[new]] + self.total
        # Sorted runs merged like a binary counter: O(n log n) in all, few runs to search.
        if len(uk):
            self.runs.append((uk, loc))
        while len(self.runs) > 1 and len(self.runs[-2][0]) <= 2 * len(self.runs[-1][0]):
            (h1, l1), (h2, l2) = self.runs[-2], self.runs[-1]
            merged_h, merged_loc = np.concatenate((h1, h2)), np.concatenate((l1, l2))
            sort = np.argsort(merged_h, kind="stable")
            self.runs[-2:] = [(merged_h[sort], merged_loc[sort])]
        self.events.append(table)
        self.starts.append(self.total)
        self.total += len(table)

    def _take(self, column: str, loc: np.ndarray, pending: pa.Table) -> pa.Array:
        """Values of ``column`` at global rows ``loc`` (kept tables, then ``pending``)."""

        tables = [*self.events, pending]
        starts = np.array([*self.starts, self.total], dtype=np.int64)
        which = np.searchsorted(starts, loc, side="right") - 1
        out: list[Any] = [None] * len(loc)
        for t in np.unique(which).tolist():
            sel = np.flatnonzero(which == t)
            vals = _pick(tables[t].column(column), loc[sel] - starts[t])
            for i, v in zip(sel.tolist(), vals, strict=True):
                out[i] = v
        return pa.array(out, pa.string())

    def _same_raw(self, table: pa.Table, dup: np.ndarray, first: np.ndarray) -> np.ndarray:
        """Which hash matches are exact duplicates (same raw text), not collisions."""
        mine = _pick(table.column("raw"), dup)
        theirs = self._take("raw", first, table).to_pylist()
        return np.array([a == b for a, b in zip(mine, theirs, strict=True)], dtype=bool)

    def add_events(self, table: pa.Table) -> None:
        """Events already in the table's shape (Parquet written by ``EventLog.to_parquet``)."""
        self.drain()
        self.con.register("ev_in", table.select(["raw"]))
        try:
            keys = self.con.sql("SELECT hash(raw) AS h FROM ev_in").to_arrow_table()
        finally:
            self.con.unregister("ev_in")
        self._add(table, keys.column("h").to_numpy())

    def _fix_phones(self, result: pa.Table) -> pa.Table:
        """Normalise the phones the SQL fast path left alone; reject the invalid ones."""
        import pyarrow.compute as pc

        need = pc.and_(
            pc.and_(
                pc.is_null(result.column("phone_fast")), pc.is_valid(result.column("phone_raw"))
            ),
            pc.is_null(result.column("reason")),
        )
        if not pc.any(need).as_py():
            return result
        idx = np.flatnonzero(need.to_numpy(zero_copy_only=False))
        raws = pc.take(result.column("phone_raw"), pa.array(idx)).to_pylist()
        fixed = [normalize_phone(r) for r in raws]
        phone = result.column("phone_fast").to_pylist()
        reason = result.column("reason").to_pylist()
        detail = result.column("detail").to_pylist()
        for i, raw, norm in zip(idx.tolist(), raws, fixed, strict=True):
            if norm is None:
                reason[i] = "bad-field"
                detail[i] = f"phone {str(raw)[:40]!r} is not a valid phone number"
            else:
                phone[i] = norm
        for name, values in (("phone_fast", phone), ("reason", reason), ("detail", detail)):
            pos = result.schema.get_field_index(name)
            result = result.set_column(pos, name, pa.array(values, pa.string()))
        return result


def _pick(column: pa.ChunkedArray, rows: np.ndarray) -> list[Any]:
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


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------

_WS: Final = frozenset(b" \t\r\n")


def _expand(source: Any) -> list[Path]:
    items: Sequence[Any] = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            paths.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and not any(part.startswith(".") for part in p.parts[-1:])
            )
        elif path.is_file():
            paths.append(path)
        elif any(ch in str(item) for ch in "*?["):
            matches = sorted(Path(m) for m in glob.glob(str(item), recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                raise WebhookLogError(f"{item}: the pattern matches no files; check the path")
            paths.extend(files)
        else:
            raise WebhookLogError(
                f"{item}: no such file or directory; pass a file, a directory, a glob or a list"
            )
    return paths


def _open(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """(decompressed stream, raw file) for ``path``; gzip is detected by its magic bytes."""
    raw = path.open("rb")
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw  # type: ignore[return-value]
    raw.seek(0)
    return raw, raw


def _sniff(head: bytes, path: Path) -> str:
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"["):
        return "array"
    if text.startswith(b"{"):
        return "jsonl"
    suffixes = [s.lower() for s in path.suffixes]
    if ".csv" in suffixes or ".tsv" in suffixes:  # CSV by name only: other text is JSON Lines
        return "csv"
    return "jsonl"


def _read_into(stream: IO[bytes], view: memoryview) -> int:
    got = 0
    while got < len(view):
        n = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            break
        got += n
    return got


def _blocks(stream: IO[bytes], head: bytes = b"", size: int = _BLOCK_BYTES) -> Iterator[memoryview]:
    """Blocks of whole lines (each ends with a newline, except maybe the file's last).

    Each block is a view over its own buffer (no copies of the data beyond the read).
    """
    carry = bytes(head)
    while True:
        buf = bytearray(len(carry) + size)
        buf[: len(carry)] = carry
        view = memoryview(buf)
        got = _read_into(stream, view[len(carry) :])
        end = len(carry) + got
        if got == 0:
            if carry:
                yield view[: len(carry)]
            return
        cut = buf.rfind(b"\n", 0, end)
        if cut < 0:
            carry = bytes(view[:end])
            continue
        yield view[: cut + 1]
        carry = bytes(view[cut + 1 : end])


def _mapped_blocks(raw: IO[bytes], size: int = _BLOCK_BYTES) -> Iterator[memoryview] | None:
    """Blocks of whole lines straight from a copy-on-write memory map of an uncompressed file.

    No read copies and no fresh buffers; the pages of blocks already parsed are dropped from
    this process (the loader finishes block N-1 before block N+1 is asked for). ``None`` when
    the file cannot be mapped (then the caller reads it).
    """
    import mmap

    try:
        length = os.fstat(raw.fileno()).st_size
        if length == 0:
            return None
        mm = mmap.mmap(raw.fileno(), length, access=mmap.ACCESS_COPY)
    except (OSError, ValueError, io.UnsupportedOperation):
        return None

    def gen() -> Iterator[memoryview]:
        view = memoryview(mm)
        can_drop = hasattr(mm, "madvise") and hasattr(mmap, "MADV_DONTNEED")
        start = dropped = 0
        prev = 0  # start of the block handed out before the current one
        while start < length:
            end = min(start + size, length)
            if end < length:
                cut = mm.rfind(b"\n", start, end)
                if cut < 0:  # a line longer than a block
                    cut = mm.find(b"\n", end)
                end = length if cut < 0 else cut + 1
            if can_drop:
                upto = prev - prev % mmap.PAGESIZE
                if upto > dropped:
                    mm.madvise(mmap.MADV_DONTNEED, dropped, upto - dropped)
                    dropped = upto
            prev = start
            yield view[start:end]
            start = end

    return gen()


def _block_lines(block: memoryview) -> tuple[pa.Array, np.ndarray, list[int], int]:
    """Lines of ``block``: string array (newline kept), 0-based indexes, invalid UTF-8, count."""
    arr = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10) + 1
    if len(ends) == 0 or ends[-1] != len(block):
        ends = np.append(ends, len(block))
    offsets = np.concatenate(([0], ends)).astype(np.int32)
    n = len(offsets) - 1
    lengths = np.diff(offsets)
    starts = offsets[:-1]
    keep = np.ones(n, dtype=bool)
    # Blank lines: only lines that start with whitespace can be blank; check those few in Python.
    cand = np.flatnonzero(
        (lengths == 0) | np.isin(arr[np.minimum(starts, len(arr) - 1)], [32, 9, 13, 10])
    )
    for i in cand.tolist():
        if not bytes(block[offsets[i] : offsets[i + 1]]).strip():
            keep[i] = False
    strings = pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(block)]
    )
    bad_utf8: list[int] = []
    try:
        strings.validate(full=True)
    except pa.ArrowInvalid:
        for i in np.flatnonzero(keep).tolist():
            try:
                bytes(block[offsets[i] : offsets[i + 1]]).decode("utf-8")
            except UnicodeDecodeError:
                bad_utf8.append(i)
                keep[i] = False
    index = np.arange(n)
    if not keep.all():
        strings = strings.filter(pa.array(keep))
        index = index[keep]
    return strings, index, bad_utf8, n


class _Reader:
    """Feeds every supported file shape to a :class:`_Loader`."""

    def __init__(self, loader: _Loader, progress: Any) -> None:
        self.loader = loader
        self.progress = progress

    def file(self, path: Path) -> None:
        name = str(path)
        stream, raw = _open(path)
        with raw, stream:
            head = stream.read(4096)
            kind = _sniff(head, path)
            if kind == "parquet":
                self._parquet(path, name)
                self.progress.update(path.stat().st_size)
                return
            if kind in ("csv", "array"):
                data = head + stream.read()
                self.progress.update(path.stat().st_size)
                if kind == "csv":
                    self._csv(data, name)
                elif not self._array(data, name):
                    self._jsonl(io.BytesIO(data), name, None, b"")  # not an array after all
                return
            mapped = _mapped_blocks(raw) if stream is raw else None
            if mapped is not None:
                self._jsonl(raw, name, None, b"", mapped)
            else:
                self._jsonl(stream, name, raw, head)

    def _jsonl(
        self,
        stream: IO[bytes],
        name: str,
        raw: IO[bytes] | None,
        head: bytes,
        blocks: Iterator[memoryview] | None = None,
    ) -> None:
        base = 0
        last = 0
        first = True
        for block in _blocks(stream, head) if blocks is None else blocks:
            if first and bytes(block[:3]) == b"\xef\xbb\xbf":
                block[:3] = b"   "  # keep offsets; a BOM is not content
            first = False
            strings, index, bad_utf8, count = _block_lines(block)
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
        self.loader.rejected.append(
            pa.table(
                {
                    "source": [f"{name}:{base + i + 1}" for i in bad],
                    "reason": ["not-utf8"] * len(bad),
                    "detail": ["the line is not valid UTF-8"] * len(bad),
                    "raw": [lines[i].decode("utf-8", "replace").rstrip("\r") for i in bad],
                },
                schema=_REJECTED_SCHEMA,
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
        names = next(csv.reader([head], delimiter=delim), [])
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
            self.loader.rejected.append(
                pa.table(
                    {
                        "source": [f"{name}:{n if n is not None else '?'}" for n, _ in bad_rows],
                        "reason": ["bad-csv-row"] * len(bad_rows),
                        "detail": ["the CSV row has the wrong number of fields"] * len(bad_rows),
                        "raw": [t for _, t in bad_rows],
                    },
                    schema=_REJECTED_SCHEMA,
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
                    (lower[c] for c in ("x_signature", "x-signature", "signature") if c in lower),
                    None,
                )
                parts = [f"raw_body := coalesce({_qi(body_col)}, '')"]
                if "received_at" in lower:
                    parts.append(f"received_at := {_qi(lower['received_at'])}")
                if "event" in lower:
                    parts.append(f"event := {_qi(lower['event'])}")
                if sig_col is not None:
                    parts.append(f"signature := {_qi(sig_col)}")
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
            table = table.select(list(EVENT_COLUMNS)).cast(_EVENT_SCHEMA)
            self.loader.add_events(table)
            return
        self._table(table, name, first_line=1)


# ---------------------------------------------------------------------------------------------
# Assembly
# ---------------------------------------------------------------------------------------------


def _run(
    paths: Sequence[Path] | None,
    bodies: Sequence[str] | None,
    source: str,
    secret: str | None,
    status_map: Mapping[Any, str] | None,
) -> EventLog:
    from tqdm.auto import tqdm

    loader = _Loader(secret, status_map)
    try:
        total = sum(p.stat().st_size for p in paths or ())
        with tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            desc="webhook log",
            disable=total < (256 << 20),
            leave=False,
        ) as progress:
            reader = _Reader(loader, progress)
            for path in paths or ():
                reader.file(path)
            if bodies is not None:
                texts = pa.array(list(bodies), pa.string())
                loader.lines(texts, np.arange(1, len(texts) + 1), source)
        loader.drain()
        if loader.events:
            events = pa.Table.from_batches(
                [b for t in loader.events for b in t.to_batches()], schema=_EVENT_SCHEMA
            )
        else:
            events = _EVENT_SCHEMA.empty_table()
        loader.events = []
        loader.runs = []  # the duplicate index is no longer needed: free it before the frame
        rejected_tables = loader.rejected
    finally:
        loader.close()
    df = _events_frame(events)
    del events
    if rejected_tables:
        rejected = pa.concat_tables(rejected_tables).to_pandas()
    else:
        rejected = _empty_rejected()
    return EventLog(df=df, rejected=rejected)


def read_webhook_log(
    source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    secret: str | None = None,
    status_map: Mapping[Any, str] | None = None,
) -> EventLog:
    """Load webhook logs into the Events table.

    Parameters
    ----------
    source : path, glob, directory, or a list of them
        Any mix of: the receiver's JSON Lines (``received_at``, ``event``, ``headers``,
        ``raw_body``); JSON Lines of bare bodies; a JSON array of bodies; CSV (a ``.csv`` or
        ``.tsv`` name) with a ``raw_body``/``body``/``payload`` column or with the payload
        fields as columns; Parquet
        from :meth:`EventLog.to_parquet`; any of these gzipped. Bodies may be flat or wrapped in
        ``{"data": {...}}``.
    secret : str, optional
        Re-verify each record that has its raw body and ``X-Signature``; mismatches go to
        ``.rejected`` as ``bad-signature``.
    status_map : mapping, optional
        Extra or replacement status codes (``{7: "delivered"}``) or names
        (``{"failed": "undelivered"}``) on top of ``models.DELIVERY_STATUS_CODES``.

    Returns
    -------
    EventLog
        ``.df`` (one row per distinct delivery) and ``.rejected`` (``source`` as ``file:line``;
        ``reason`` one of ``not-json``, ``not-utf8``, ``not-an-event``, ``bad-signature``,
        ``bad-field``, ``missing-field``, ``bad-csv-row``, ``duplicate``). For a JSON array the
        number after the colon is the element's position; for CSV, the line of the row.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "hooks.jsonl"
    >>> _ = path.write_text('{"type":"MTAWebhook.MESSAGE_SEND","messageId":"5",'
    ...     '"destinationNumber":"+13125550123","senderName":"Acme","timestamp":1764200000}\\n')
    >>> log = read_webhook_log(path)
    >>> log.df[["event", "message_id", "route"]].to_dict("records")
    [{'event': 'message-send', 'message_id': 5, 'route': 'imessage'}]
    >>> str(log.df["occurred_at"].iloc[0])
    '2025-11-26 23:33:20+00:00'
    """
    return _run(_expand(source), None, "", secret, status_map)


def read_bodies(
    bodies: Iterable[str],
    *,
    source: str = "bodies",
    status_map: Mapping[Any, str] | None = None,
) -> EventLog:
    """The Events table from webhook bodies given as strings (``source`` is ``<source>:<n>``)."""
    return _run(None, list(bodies), source, None, status_map)
