"""message_table: the messages themselves as a pandas frame, to trace a number to its rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from . import _join
from ._inputs import Engine
from ._messages import opened, run
from ._reduce import finish, message_rows
from ._replies import window_ms, with_reply_counts

if TYPE_CHECKING:
    import ibis.expr.types as ir

_COLUMNS = [c for c in _join.MESSAGE_SCHEMA if c != "sent_ms"] + ["sent_at"]


def message_table(
    events: object,
    sends: object | None = None,
    *,
    start: object = None,
    end: object = None,
    reply_window: str | None = None,
    engine: Engine = None,
) -> pd.DataFrame:
    """One row per message (recipient of a send): identity, route and its basis, status, outcome.

    The building block of every report here, returned so a surprising number can be traced to
    its messages. Columns: ``campaign_id``, ``external_id``, ``message_id``, ``phone``,
    ``sender_name``, ``route``, ``route_basis`` (the evidence that decided the route),
    ``status`` (documented name of the deciding event; null when none yet), ``status_code``,
    ``outcome``, ``unmatched`` and ``sent_at`` (from the ledger, else the first event). With
    ``reply_window`` (e.g. ``"24h"``) also ``replies`` and ``stops``, attributed as in
    :func:`reply_report`. Inputs as for :func:`delivery_report` (``events`` may be a
    ``Messages``; ``Messages.df`` is this table).

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"event": ["delivery-status"], "message_id": [7], "external_id": ["c-1"],
    ...     "phone": ["+13125550000"], "status": ["delivered"], "sender_name": ["Acme"],
    ...     "occurred_at": [pd.Timestamp("2026-01-01", tz="UTC")]})
    >>> row = message_table(ev).iloc[0]
    >>> row.route, row.route_basis, row.outcome, bool(row.unmatched)
    ('imessage', 'delivery-status', 'delivered', True)
    """
    win = None if reply_window is None else window_ms(reply_window)
    extra = [] if win is None else ["replies", "stops"]

    def build() -> ir.Table:
        msgs = message_rows()
        return msgs if win is None else with_reply_counts(msgs, win)

    with opened(events, sends, engine, start=start, end=end) as msgs:
        df = run(msgs, ("table", win), build)
    df["sent_at"] = pd.to_datetime(df["sent_ms"].astype("Float64"), unit="ms", utc=True)
    df = finish(
        df, [*_COLUMNS, *extra], ints=extra, keys=("sender_name", "route", "external_id", "phone")
    )
    df["message_id"] = df["message_id"].astype("Int64")
    return df
