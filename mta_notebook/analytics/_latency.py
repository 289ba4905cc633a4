"""time_to_deliver: how long delivered messages took, per Sender Identity and route."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import pandas as pd

from ..contract import statuses
from . import _join, _sql
from ._inputs import Engine
from ._messages import opened, run
from ._reduce import finish

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = ["LATENCY_COLUMNS", "time_to_deliver"]

_COUNTS: Final = ("final", "delivered", "timed")
LATENCY_COLUMNS: Final = ("sender_name", "route", *_COUNTS, "median_s", "p90_s")


def _latency() -> ir.Table:
    import ibis

    m = _sql.placeholder(_join.KEPT_SCHEMA, "messages")
    m = m.filter(m.outcome.isin(sorted(statuses.FINAL_OUTCOMES)))
    delivered = m.outcome == "delivered"
    seconds = ibis.ifelse(
        delivered & m.final_ms.notnull() & m.handed_ms.notnull(),
        (m.final_ms - m.handed_ms).cast("float64") / 1000.0,
        ibis.null("float64"),
    )
    m = m.mutate(seconds=seconds, is_delivered=ibis.ifelse(delivered, 1, 0))
    return m.group_by(["sender_name", "route"]).aggregate(
        final=m.count(),
        delivered=m.is_delivered.sum().cast("int64"),
        timed=m.seconds.count(),
        # exact, interpolated quantiles on both backends (DuckDB quantile_cont, Spark
        # percentile), as numpy's default
        median_s=m.seconds.quantile(0.5),
        p90_s=m.seconds.quantile(0.9),
    )


def time_to_deliver(
    events: object,
    sends: object | None = None,
    *,
    start: object = None,
    end: object = None,
    engine: Engine = None,
) -> pd.DataFrame:
    """Time to deliver per Sender Identity and route: median and 90th percentile, in seconds.

    One row per ``sender_name`` × ``route`` with a message whose status is final: ``final``
    (messages with a final status: delivered, failed or unconfirmed), ``delivered``, ``timed``
    (delivered messages with both times known) and ``median_s``/``p90_s`` over the **delivered**
    messages: seconds from the message's first ``message-send`` event (else the ledger's
    ``sent_at``, when MTA sent no ``message-send``) to the ``occurred_at`` of its final
    delivery-status. A final status without a time of its own (V1 bodies, ``dated`` False) is not
    timed; NaN when no delivered message is timed. Quantiles are exact and interpolated, as
    ``numpy.quantile``'s default. Inputs as for :func:`delivery_report` (``events`` may be a
    ``Messages``).

    Examples
    --------
    >>> import pandas as pd
    >>> t0 = pd.Timestamp("2026-01-01 10:00", tz="UTC")
    >>> ev = pd.DataFrame({"event": ["message-send", "delivery-status"] * 2,
    ...     "message_id": [7] * 4, "phone": ["+13125550000"] * 2 + ["+13125550001"] * 2,
    ...     "status": [None, "delivered"] * 2, "sender_name": ["Acme"] * 4,
    ...     "occurred_at": [t0, t0 + pd.Timedelta("4s"), t0, t0 + pd.Timedelta("6s")]})
    >>> time_to_deliver(ev)[["route", "delivered", "median_s", "p90_s"]].round(2).to_dict("records")
    [{'route': 'imessage', 'delivered': 2, 'median_s': 5.0, 'p90_s': 5.8}]
    """
    with opened(events, sends, engine, start=start, end=end, detail=False) as msgs:
        df = run(msgs, "latency", _latency)
    return finish(df, list(LATENCY_COLUMNS), ints=_COUNTS, keys=("sender_name", "route"))
