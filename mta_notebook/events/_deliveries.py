"""``GET /v3/deliveries`` into the same Events table, for accounts without a webhook log.

Each row becomes an Events row directly (no JSON body is made up and parsed again): its status
goes through the status table (``resolve_status``), its number, date and every rejection
through the reader's own finishing (:class:`Rows`) and filing (:class:`EventStore`), so a row
reads exactly as the delivery-status body with the same fields would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pyarrow as pa

from ..contract.assumptions import NAIVE_TIMEZONE
from ..contract.statuses import resolve_status
from ._register import field_of
from ._rows import Context, Rows
from ._sql import EXPLICIT_ROUTE_COLUMNS, MISSING_PHONE, MISSING_STATUS, bad_message_id
from ._statuses import StatusTables, status_tables
from ._store import EventStore

if TYPE_CHECKING:
    from ._log import EventLog

__all__ = ["deliveries_log", "fetch_deliveries"]

#: ``/deliveries`` rows are the latest status of a message to a recipient: delivery-status.
_EVENT: Final = "delivery-status"
#: ``/deliveries`` does not say how a message went.
_ROUTE: Final = "unknown"
_TEXT: Final = pa.large_string()
_TIME: Final = pa.timestamp("us", tz="UTC")
_INTEGER: Final = re.compile(r"[+-]?[0-9]+")


def fetch_deliveries(client: Any, start: Any = None, end: Any = None) -> EventLog:
    """The Events table filled from ``GET /v3/deliveries`` (latest status per recipient).

    For accounts without a webhook log. Each row is read like a delivery-status body: its
    status (one of the six ``/deliveries`` names, or a code) goes through the same status
    table, so ``status`` is e.g. ``undeliverable`` with outcome ``failed``. ``/deliveries``
    does not show the route, so ``route`` is ``unknown``; ``source`` is ``deliveries:<n>``
    (n-th row returned) and ``raw`` the row as MTA sent it.

    Examples
    --------
    >>> log = fetch_deliveries(client, "2026-11-01", "2026-11-30")
    >>> list(log.df.columns[:3]), log.df["route"].eq("unknown").all()
    (['event', 'occurred_at', 'received_at'], np.True_)
    """
    return deliveries_log(client.iter_deliveries(start=start, end=end))


def deliveries_log(rows: Iterable[Any]) -> EventLog:
    """The Events table of ``/deliveries`` rows (models or mappings with snake_case keys)."""
    rows = list(rows)
    store = EventStore()
    if rows:
        tables = status_tables()
        result = _result(rows, tables)
        store.file(Rows(result, Context(tables, NAIVE_TIMEZONE)), result["raw"], "deliveries")
    return store.event_log()


def _result(rows: list[Any], tables: StatusTables) -> pa.Table:
    """The rows in the shape of the reader's SQL result (what :class:`Rows` finishes)."""
    n = len(rows)
    raw = [_raw(row) for row in rows]
    ids = [_message_id(field_of(row, "message_id")) for row in rows]
    infos = [
        resolve_status(field_of(row, "status"), codes=tables.codes, names=tables.names)
        for row in rows
    ]
    phones = [_text(field_of(row, "number")) for row in rows]
    dates = [_text(_iso(field_of(row, "date"))) for row in rows]
    nulls = pa.nulls(n, _TEXT)
    columns: dict[str, Any] = {
        "line": pa.array(np.arange(1, n + 1), pa.int64()),
        "reason": pa.array([None if ok else "bad-field" for _, ok in ids], _TEXT),
        "detail": pa.array(
            [
                None if ok else bad_message_id(str(_text(field_of(r, "message_id"))))
                for r, (_, ok) in zip(rows, ids, strict=True)
            ],
            _TEXT,
        ),
        "missing": pa.array(
            [
                _EVENT + MISSING_PHONE
                if p is None
                else _EVENT + MISSING_STATUS
                if i.status is None
                else None
                for p, i in zip(phones, infos, strict=True)
            ],
            _TEXT,
        ),
        "event": _enum([_EVENT] * n),
        "t_raw": pa.array(
            [None if d is None or not d.strip() else d.strip() for d in dates], _TEXT
        ),
        "ts_fast": pa.nulls(n, _TIME),
        "r_raw": nulls,
        "recv_fast": pa.nulls(n, _TIME),
        "message_id": pa.array([i for i, _ in ids], pa.int64()),
        "external_id": pa.array([_text(field_of(row, "external_id")) for row in rows], _TEXT),
        "phone_raw": pa.array(phones, _TEXT),
        "phone_ok": pa.nulls(n, pa.bool_()),  # every number goes to normalize_phones
        "sender_name": nulls,
        "status_code": pa.array([i.status_code for i in infos], _TEXT),
        "status": pa.array([i.status for i in infos], _TEXT),
        "outcome": _enum([i.outcome for i in infos]),
        "s_slow": nulls,
        "route": _enum([_ROUTE] * n),
        **dict.fromkeys(EXPLICIT_ROUTE_COLUMNS, nulls),
        "reply_text": nulls,
        "tags": nulls,
        "raw": pa.array(raw, _TEXT),
        # any 64-bit hash of raw will do: equal hashes are compared by text before dropping
        "dkey": pa.array(np.array([hash(r) for r in raw], dtype=np.int64).view(np.uint64)),
    }
    return pa.table(columns)


def _enum(values: list[str | None]) -> pa.Array:
    return pa.array(values, pa.string()).dictionary_encode()


def _raw(row: Any) -> str:
    """The row as MTA spelled it (a model's camelCase fields, or the mapping as given)."""
    body = row.to_dict() if hasattr(row, "to_dict") else dict(row)
    return json.dumps(body, separators=(",", ":"), default=str)


def _text(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else json.dumps(value)


def _iso(value: Any) -> Any:
    iso = getattr(value, "isoformat", None)
    return iso() if callable(iso) else value


def _message_id(value: Any) -> tuple[int | None, bool]:
    """The id as an integer and whether it is one (an integer, or the digits of one)."""
    if value is None:
        return None, True
    if isinstance(value, int) and not isinstance(value, bool):
        return value, True
    text = str(value).strip() if isinstance(value, str) else ""
    if _INTEGER.fullmatch(text):
        return int(text), True
    return None, False
