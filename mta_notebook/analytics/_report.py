"""delivery_report: delivery per Sender Identity and route, from the messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from ._inputs import Engine
from ._messages import opened, run
from ._reduce import COUNT_COLUMNS, REPORT_COLUMNS, check_by, counts, finish, message_rows, rates

if TYPE_CHECKING:
    import ibis.expr.types as ir


def delivery_report(
    events: object,
    sends: object | None = None,
    *,
    by: Sequence[str] | str = ("sender_name", "route"),
    start: object = None,
    end: object = None,
    engine: Engine = None,
) -> pd.DataFrame:
    """Delivery per Sender Identity and route (iMessage, SMS fallback, plain SMS).

    Parameters
    ----------
    events
        The Events table: a DataFrame, an ``EventLog``, a Parquet path or an ibis table; or the
        ``Messages`` of :func:`messages` (then ``sends`` and ``engine`` stay None).
    sends
        The send ledger (same kinds of input). Without it every message is ``unmatched``.
    by
        Message columns to group by; the default gives one row per identity × route.
    start, end
        Keep messages sent in ``[start, end)`` (UTC when naive).
    engine
        ``"duckdb"`` (the default, in-process), ``"pyspark"``, an ibis backend or a
        SparkSession. By default the backend of the ibis tables passed in.

    Returns
    -------
    pandas.DataFrame
        ``by`` columns, then ``messages``, ``delivered``, ``failed``, ``unconfirmed``
        (DELIVERY_UNCONFIRMED: final, neither delivered nor failed), ``pending`` (pending,
        unknown, or no event yet), ``delivery_rate`` (delivered / (delivered + failed); NaN
        when nothing settled), ``ci_low``, ``ci_high`` (Wilson 95 %), ``share`` (of the
        identity's messages) and ``unmatched`` (messages whose events have no ledger row).

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"event": ["delivery-status"] * 3, "message_id": [7, 7, 7],
    ...     "external_id": ["c-1"] * 3, "phone": ["+13125550000", "+13125550001", "+13125550002"],
    ...     "status": ["delivered", "delivery_failed", "delivery_unconfirmed"],
    ...     "occurred_at": [pd.Timestamp("2026-01-01", tz="UTC")] * 3})
    >>> sends = ev[["external_id", "message_id", "phone"]].assign(sender_name="Acme", state="sent")
    >>> rep = delivery_report(ev, sends)
    >>> rep[["route", "messages", "delivered", "failed", "unconfirmed", "delivery_rate"]].to_dict(
    ...     "records")
    [{'route': 'sms_fallback', 'messages': 3, 'delivered': 1, 'failed': 1, 'unconfirmed': 1, \
'delivery_rate': 0.5}]
    """
    keys = check_by(by)
    timed = start is not None or end is not None

    def build() -> ir.Table:
        msgs = message_rows()
        agg = msgs.group_by(keys).aggregate(**counts(msgs))
        agg = agg.mutate(**rates(agg))
        part = [k for k in keys if k != "route"]
        total = agg.messages.sum().over(group_by=part) if part else agg.messages.sum().over()
        return agg.mutate(share=agg.messages.cast("float64") / total.cast("float64"))

    with opened(
        events, sends, engine, start=start, end=end, detail="status" in keys, times=timed
    ) as msgs:
        df = run(msgs, ("report", tuple(keys)), build)
    return finish(df, [*keys, *REPORT_COLUMNS], ints=COUNT_COLUMNS, keys=keys)
