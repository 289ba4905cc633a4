"""Reply attribution (a reply goes to the latest message sent to its number) and reply_report."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from .._errors import ValidationError
from . import _join, _sql
from ._inputs import Engine
from ._intervals import wilson_bounds
from ._messages import opened, run
from ._reduce import finish, message_rows

if TYPE_CHECKING:
    import ibis.expr.types as ir

_COUNTS = ("messages", "replies", "replied", "stops")
_RATES = ("reply_rate", "reply_low", "reply_high", "stop_rate", "stop_low", "stop_high")


def window_ms(window: str) -> int:
    try:
        return int(pd.Timedelta(window).total_seconds() * 1000)
    except ValueError as exc:
        raise ValidationError(f"window={window!r} is not a duration such as '24h'") from exc


def _keyed(msgs: ir.Table) -> ir.Table:
    import ibis

    return msgs.mutate(
        mkey=ibis.coalesce(msgs.external_id, "")
        + "|"
        + ibis.coalesce(msgs.message_id.cast("string"), "")
        + "|"
        + msgs.phone
    )


def with_reply_counts(msgs: ir.Table, win_ms: int) -> ir.Table:
    """The messages with ``replies`` (reply events attributed) and ``stops`` (0 or 1).

    A reply (duplicates counted once) goes to the latest message sent to its number at most
    ``win_ms`` before it, among the messages of the time window (``timed``: a filter by
    identity or route keeps a reply with its message, it does not hand it to another one).
    """
    import ibis

    msgs = _keyed(msgs)
    r = _sql.placeholder(_join.REPLY_SCHEMA, "replies")
    m = _keyed(_sql.placeholder(_join.MESSAGE_SCHEMA, "timed")).select("mkey", "phone", "sent_ms")
    cand = r.join(
        m,
        [
            r.r_phone == m.phone,
            m.sent_ms <= r.r_ms,
            r.r_ms - m.sent_ms <= win_ms,
        ],
    )
    rank = ibis.row_number().over(
        group_by=[cand.r_phone, cand.r_ms, cand.r_text],
        order_by=[ibis.desc(cand.sent_ms), ibis.desc(cand.mkey)],
    )
    best = cand.mutate(rk=rank).filter(lambda t: t.rk == 0)
    per_msg = best.group_by("mkey").aggregate(replies=best.count(), stops=best.r_stop.max())
    per_msg = per_msg.select(p_key=per_msg.mkey, p_replies=per_msg.replies, p_stops=per_msg.stops)
    j = msgs.left_join(per_msg, msgs.mkey == per_msg.p_key)
    return j.select(
        *[c for c in msgs.columns if c != "mkey"],
        replies=j.p_replies.fill_null(0).cast("int64"),
        stops=j.p_stops.fill_null(0).cast("int64"),
    )


def reply_report(
    events: object,
    sends: object | None = None,
    *,
    window: str = "24h",
    start: object = None,
    end: object = None,
    engine: Engine = None,
) -> pd.DataFrame:
    """Reply rate and STOP rate per identity and route.

    A reply (``message-reply`` event, duplicates counted once) is attributed to the latest
    message sent to that number at most ``window`` before it. A reply whose text is a STOP
    keyword by ``contract.keywords`` (upper-cased, everything but A-Z dropped: ``"Stop."``)
    counts as a STOP. Inputs as for :func:`delivery_report` (``events`` may be a ``Messages``).

    Returns ``sender_name``, ``route``, ``messages``, ``replies`` (reply events attributed),
    ``replied`` (messages with at least one reply), ``stops`` (messages with a STOP reply),
    ``reply_rate`` (replied / messages) with ``reply_low``/``reply_high``, and ``stop_rate``
    (stops / messages) with ``stop_low``/``stop_high``: Wilson 95 % intervals, so that 2 STOPs
    of 38 messages read as 5.3 % [1.5-17] rather than a bare 5.3 %.

    Examples
    --------
    >>> import pandas as pd
    >>> t0 = pd.Timestamp("2026-01-01 10:00", tz="UTC")
    >>> ev = pd.DataFrame({"event": ["delivery-status", "message-reply"], "message_id": [7, None],
    ...     "phone": ["+13125550000"] * 2, "status": ["delivered", None], "text": [None, "Stop."],
    ...     "occurred_at": [t0, t0 + pd.Timedelta("1h")]})
    >>> rep = reply_report(ev)
    >>> rep[["messages", "replied", "stops", "stop_rate"]].to_dict("records")
    [{'messages': 1, 'replied': 1, 'stops': 1, 'stop_rate': 1.0}]
    >>> round(float(rep["stop_low"].iloc[0]), 3), float(rep["stop_high"].iloc[0])
    (0.207, 1.0)
    """
    win = window_ms(window)

    def build() -> ir.Table:
        import ibis

        j = with_reply_counts(message_rows(), win)
        j = j.mutate(replied=ibis.ifelse(j.replies > 0, 1, 0))
        agg = j.group_by(["sender_name", "route"]).aggregate(
            messages=j.count(),
            replies=j.replies.sum().cast("int64"),
            replied=j.replied.sum().cast("int64"),
            stops=j.stops.sum().cast("int64"),
        )
        n = agg.messages.cast("float64")
        reply_rate, stop_rate = agg.replied.cast("float64") / n, agg.stops.cast("float64") / n
        reply_low, reply_high = wilson_bounds(reply_rate, n, sqrt=lambda v: v.sqrt())
        stop_low, stop_high = wilson_bounds(stop_rate, n, sqrt=lambda v: v.sqrt())
        return agg.mutate(
            reply_rate=reply_rate,
            reply_low=reply_low,
            reply_high=reply_high,
            stop_rate=stop_rate,
            stop_low=stop_low,
            stop_high=stop_high,
        )

    with opened(events, sends, engine, start=start, end=end, detail=False) as msgs:
        df = run(msgs, ("replies", win), build)
    cols = ["sender_name", "route", *_COUNTS, *_RATES]
    return finish(df, cols, ints=_COUNTS, keys=("sender_name", "route"))
