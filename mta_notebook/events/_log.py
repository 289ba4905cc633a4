"""The Events table: :class:`EventLog` and the log reader's entry points.

Files are read in blocks (:mod:`._files`, :mod:`._sources`); newline offsets are found with
numpy and handed to DuckDB as an Arrow string column (no Python object per line). One SQL pass
(:mod:`._sql`, generated from the contract's tables) parses each line (receiver record or bare
body, flat or ``{"data": {...}}``), resolves the event, status and route and reads the usual time
formats. What it leaves open is finished with the contract's own functions, once per distinct
value (:mod:`._rows`): every phone (``normalize_phones``), and the rare times, statuses and
explicit routes SQL does not decide. Signatures are re-checked and exact duplicate deliveries
dropped (:mod:`._store`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .._errors import ValidationError
from ..contract import statuses
from ..contract.assumptions import NAIVE_TIMEZONE
from ..display._html import HtmlRepr, card
from ._files import DEFAULT_MAX_BYTES, expand
from ._loader import Loader
from ._schema import EVENT_COLUMNS, EVENT_SCHEMA, empty_events, empty_rejected
from ._sources import Reader

__all__ = ["EventLog", "read_bodies", "read_webhook_log"]


@dataclass(frozen=True, repr=False)
class EventLog(HtmlRepr):
    """Webhook events (``.df``) and the lines that could not be used (``.rejected``).

    ``.df`` has the Events columns (``event``, ``occurred_at``, ``received_at``, ``dated``,
    ``message_id``, ``external_id``, ``phone``, ``sender_name``, ``status_code``, ``status``,
    ``outcome``, ``route``, ``is_final``, ``text``, ``tags``, ``source``, ``raw``); ``status``
    is MTA's documented name in lower snake case and ``outcome`` its outcome. ``.rejected`` has
    ``source``, ``reason``, ``detail``, ``raw`` (the line's first 4,096 characters) and
    ``raw_bytes`` (its whole length). Together they account for every non-blank line.

    Examples
    --------
    >>> log = read_bodies(['{"type":"MTAWebhook.DELIVERY_STATUS","messageId":7,'
    ...                    '"destinationNumber":"(312) 555-0123","status":4}', 'oops'])
    >>> log.df[["event", "phone", "status", "outcome", "route"]].iloc[0].tolist()
    ['delivery-status', '+13125550123', 'delivered', 'delivered', 'sms']
    >>> bool(log.df["dated"].iloc[0])  # V1 delivery-status has no date of its own
    False
    >>> log.rejected["reason"].tolist()
    ['not-json']
    """

    df: pd.DataFrame = field(default_factory=empty_events)
    rejected: pd.DataFrame = field(default_factory=empty_rejected)

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

        One row per (``message_id``, ``phone``). A final outcome is never overwritten by a
        later non-final one; among the rest, dated events go by ``occurred_at``; undated ones
        (V1 bodies) rank below dated ones and among themselves by status precedence
        (``contract.statuses.precedence``), never by arrival; ties go by precedence. Columns:
        ``message_id``, ``external_id``, ``phone``, ``sender_name``, ``route``, ``status``,
        ``outcome``, ``is_final``, ``dated``, ``occurred_at``.
        """
        cols = [
            "message_id",
            "external_id",
            "phone",
            "sender_name",
            "route",
            "status",
            "outcome",
            "is_final",
            "dated",
            "occurred_at",
        ]
        ds = self.df.loc[self.df["event"] == "delivery-status", cols].copy()
        ds["_when"] = ds["occurred_at"].where(ds["dated"])
        ds["_rank"] = [statuses.precedence(s) for s in ds["status"].tolist()]
        ordered = ds.sort_values(
            ["is_final", "dated", "_when", "_rank"], kind="stable", na_position="first"
        )
        last = ordered.drop_duplicates(["message_id", "phone"], keep="last")
        result: pd.DataFrame = last[cols].sort_values(["message_id", "phone"], ignore_index=True)
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

    def as_html(self) -> str:
        """The headline, the events by type, status and route, and the rejected lines by reason.

        >>> "0 events" in EventLog().as_html()
        True
        """
        tables = [("Events by type, status and route", self.summary())]
        if not self.rejected.empty:
            reasons = self.rejected["reason"].value_counts().rename_axis("reason")
            tables.append(("Rejected lines by reason", reasons.reset_index(name="lines")))
        return card(self._headline(), tables=tables)

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Write the events to Parquet (``read_webhook_log`` reads it back); returns the path."""
        import pyarrow.parquet as pq

        target = Path(path)
        table = pa.Table.from_pandas(self.df[list(EVENT_COLUMNS)], preserve_index=False)
        pq.write_table(table.cast(EVENT_SCHEMA), target)
        return target


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def _run(
    paths: Sequence[Path] | None,
    bodies: Sequence[str] | None,
    source: str,
    secret: str | None,
    status_map: Mapping[Any, str] | None,
    naive_timezone: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> EventLog:
    from tqdm.auto import tqdm

    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
        raise ValidationError(f"max_bytes={max_bytes!r} must be a positive number of bytes")
    loader = Loader(secret, status_map, naive_timezone)
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
            reader = Reader(loader, progress, max_bytes)
            for path in paths or ():
                reader.file(path)
            if bodies is not None:
                texts = pa.array(list(bodies), pa.string())
                loader.lines(texts, np.arange(1, len(texts) + 1), source)
        loader.drain()
    finally:
        loader.close()
    return loader.store.event_log()


def read_webhook_log(
    source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    secret: str | None = None,
    status_map: Mapping[Any, str] | None = None,
    naive_timezone: str = NAIVE_TIMEZONE,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> EventLog:
    """Load webhook logs into the Events table.

    Parameters
    ----------
    source : path, glob, directory, or a list of them
        Any mix of: the receiver's JSON Lines (``received_at``, ``event``, ``headers``,
        ``raw_body``); JSON Lines of bare bodies; a JSON array of bodies; CSV (a ``.csv`` or
        ``.tsv`` name) with a ``raw_body``/``body``/``payload`` column or with the payload
        fields as columns; Parquet from :meth:`EventLog.to_parquet` (one written by an earlier
        version is read again from its ``raw`` bodies); any of these gzipped. Bodies may be flat
        or wrapped in ``{"data": {...}}``.
    secret : str, optional
        Re-verify each record that has its raw body and ``X-Signature``; mismatches go to
        ``.rejected`` as ``bad-signature``.
    status_map : mapping, optional
        Codes or names to add to MTA's documented table, or to read differently, each mapped
        to a documented status name: ``{14: "delivery_failed", "bounced": "undeliverable"}``.
        The outcome follows the name.
    naive_timezone : str
        The zone a body's time is read in when it has neither ``Z`` nor an offset (default
        ``contract.assumptions.NAIVE_TIMEZONE``, Central time like MTA's own stamps). Times
        with ``Z`` or an offset are read as given, epoch numbers as UTC. A body without a time
        (a V1 delivery-status) takes ``received_at``, with ``dated`` False.
    max_bytes : int
        The most bytes one gzipped file may expand to (default 4 GiB); past it, or when a
        gzipped line runs past 64 MiB, the read stops with :class:`WebhookLogError` naming the
        file (a decompression bomb ends there, not in memory).

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
    >>> log.df[["event", "message_id", "route", "outcome"]].to_dict("records")
    [{'event': 'message-send', 'message_id': 5, 'route': 'imessage', 'outcome': 'pending'}]
    >>> str(log.df["occurred_at"].iloc[0])
    '2025-11-26 23:33:20+00:00'
    """
    return _run(expand(source), None, "", secret, status_map, naive_timezone, max_bytes)


def read_bodies(
    bodies: Iterable[str],
    *,
    source: str = "bodies",
    status_map: Mapping[Any, str] | None = None,
    naive_timezone: str = NAIVE_TIMEZONE,
) -> EventLog:
    """The Events table from webhook bodies given as strings (``source`` is ``<source>:<n>``)."""
    return _run(None, list(bodies), source, None, status_map, naive_timezone)
